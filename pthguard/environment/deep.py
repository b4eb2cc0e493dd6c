"""Deep verification: every file a distribution's RECORD lists, against its hash.

Only distributions whose RECORD (or, for egg-info, manifest file list) is the one the
manifest pins are checked this way: a RECORD that changed is already a difference, and its
rows are not trusted. The rows come from the scan (:mod:`pthguard.environment.distfiles`:
a RECORD unchanged since an earlier run is not parsed again).

A stat-keyed digest cache (:class:`pthguard._internal.statcache.StatCache`, ``deep-KEY.cache``
per environment) vouches for files unchanged since an earlier run (git's racily-clean rule:
an entry whose mtime is not older than the start of the run that wrote it is hashed again).
When it knows most of the files, each is looked up on the calling thread (one ``stat``: a
thread pool would spend more on the GIL than on the calls) and only the files it does not
vouch for go to the pool; otherwise (a first run) every file goes to the pool, whose threads
open it, look up the ``fstat`` of the descriptor, and hash what the cache does not vouch
for. The pool has one thread more than there are cores (at most 8): with the page cache
cold a third reader on two cores gains more than it costs in GIL handoffs when the page
cache is warm. Files are read into a per-thread buffer (``os.readv``, 1 MiB at a time) and
fed to OpenSSL's sha256, which releases the GIL for buffers over 2 KiB, so reading and
hashing run on every core. A digest is remembered only when the fingerprint of the
descriptor read did not change while it was read. A corrupt, foreign or unreadable cache is
ignored and rebuilt; one that cannot be written only makes the next run slower.

The differences come back in the order of the files (each distribution's RECORD order),
whatever the number of threads.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TextIO

from pthguard._internal.statcache import StatCache, cache_file
from pthguard.environment.snapshot import Snapshot
from pthguard.gate.schema import file_fingerprint
from pthguard.manifest.compare import Difference
from pthguard.manifest.model import Manifest

__all__ = ["Progress", "deep_differences", "hash_cache", "jobs", "tty_progress"]

_BATCH = 64
_BUFFER = 1 << 20
_CACHE_FORMAT = ("pthguard-deep", 2)
Job = tuple[str, str, str]  # path, expected sha256, owner
Progress = Callable[[int, int], None]
_O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def hash_cache(prefix: str) -> StatCache:
    """The digest cache of the environment at ``prefix`` (in memory only without a home)."""
    return StatCache(cache_file("deep", prefix), _CACHE_FORMAT)


def jobs(manifest: Manifest, live: Snapshot) -> list[Job]:
    """Every (file, expected sha256, owner) that the signed manifest vouches for."""
    pinned = {d.key: d for d in manifest.distributions}
    out: list[Job] = []
    for scanned in live.distributions:
        dist = scanned.entry
        signed = pinned.get(dist.key)
        if signed is None or signed.record_sha256 != dist.record_sha256:
            continue
        owner = f"{dist.name} {dist.version}"
        table = scanned.record
        for full, digest in zip(table.full_paths(dist.site_dir), table.sha256s, strict=True):
            if digest is not None:
                out.append((full, digest, owner))
        for item in signed.files:
            out.append((os.path.join(dist.site_dir, item.path), item.sha256, owner))
    return out


def tty_progress(stream: TextIO | None = None) -> Progress | None:
    """A one-line progress bar on stderr, only when stderr is a terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        end = "\n" if done >= total else ""
        stream.write(f"\rhashing [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}")
        stream.flush()

    return show


def _removed(path: str, expected: str, owner: str) -> Difference:
    return Difference(
        category="file",
        change="removed",
        subject=path,
        expected=f"sha256 {expected} (from {owner})",
        found="missing",
    )


def _changed(path: str, expected: str, owner: str, found: str) -> Difference:
    return Difference(
        category="file",
        change="changed",
        subject=path,
        expected=f"sha256 {expected} (from {owner})",
        found=found if found.startswith("unreadable") else f"sha256 {found}",
    )


class _Hasher:
    """Hashes files on the pool's threads, each with its own read buffer."""

    def __init__(self, cache: StatCache) -> None:
        self.cache = cache
        self.local = threading.local()

    def _buffer(self) -> memoryview:
        view: memoryview | None = getattr(self.local, "view", None)
        if view is None:
            view = self.local.view = memoryview(bytearray(_BUFFER))
        return view

    def digest(self, path: str) -> str:
        """The file's sha256: the cache's, when it vouches for the file opened, else read
        and remembered when it did not change while it was read."""
        fd = os.open(path, _O_READ)
        try:
            before = file_fingerprint(os.fstat(fd))
            known = self.cache.digest(path, before)
            if known is not None:
                return known
            view = self._buffer()
            digest = hashlib.sha256()
            while n := os.readv(fd, [view]):
                digest.update(view[:n])
            after = file_fingerprint(os.fstat(fd))
        finally:
            os.close(fd)
        found = digest.hexdigest()
        if before == after:
            self.cache.remember(path, before, found)
        return found

    def batch(self, items: list[tuple[int, str, str, str]]) -> list[tuple[int, Difference]]:
        out: list[tuple[int, Difference]] = []
        for index, path, expected, owner in items:
            try:
                found = self.digest(path)
            except FileNotFoundError:
                out.append((index, _removed(path, expected, owner)))
                continue
            except OSError as exc:
                found = f"unreadable: {exc.strerror}"
            if found != expected:
                out.append((index, _changed(path, expected, owner, found)))
        return out


def deep_differences(
    manifest: Manifest,
    live: Snapshot,
    *,
    workers: int | None = None,
    cache: StatCache | None = None,
    progress: Progress | None = None,
) -> list[Difference]:
    """Files of pinned distributions that are missing or differ from their recorded hash."""
    cache = cache if cache is not None else hash_cache(manifest.environment.prefix)
    work = jobs(manifest, live)
    total = len(work)
    hasher = _Hasher(cache)
    found: list[tuple[int, Difference]] = []
    batches: list[tuple[Future[list[tuple[int, Difference]]], int]] = []
    done = 0
    warm = cache.known * 2 >= total  # most files looked up before: stat them here
    with ThreadPoolExecutor(max_workers=workers or min(8, (os.cpu_count() or 1) + 1)) as pool:
        for item in _lookups(work, cache, found) if warm else _everything(work):
            if isinstance(item, list):
                batches.append((pool.submit(hasher.batch, item), len(item)))
            elif item:
                done += item
                if progress is not None:
                    progress(done, total)
        for future, size in batches:
            found.extend(future.result())
            done += size
            if progress is not None:
                progress(done, total)
    cache.save()
    return [difference for _, difference in sorted(found, key=lambda pair: pair[0])]


def _everything(work: list[Job]) -> Iterator[list[tuple[int, str, str, str]]]:
    """Every file, in batches for the pool."""
    for start in range(0, len(work), _BATCH):
        yield [(start + i, *job) for i, job in enumerate(work[start : start + _BATCH])]


def _lookups(
    work: list[Job], cache: StatCache, found: list[tuple[int, Difference]]
) -> Iterator[int | list[tuple[int, str, str, str]]]:
    """Stat every file and ask the cache; yields batches of the files to hash, and counts of
    the files settled here (the cache vouched for them, or they are missing)."""
    batch: list[tuple[int, str, str, str]] = []
    settled = 0
    stat, fingerprint, lookup = os.stat, file_fingerprint, cache.digest  # a hot loop
    for index, (path, expected, owner) in enumerate(work):
        try:
            digest = lookup(path, fingerprint(stat(path)))
        except FileNotFoundError:
            found.append((index, _removed(path, expected, owner)))
            settled += 1
            continue
        except OSError:
            digest = None  # hashing it reports why it cannot be read
        if digest is None:
            batch.append((index, path, expected, owner))
            if len(batch) == _BATCH:
                yield batch
                batch = []
            continue
        if digest != expected:
            found.append((index, _changed(path, expected, owner, digest)))
        settled += 1
        if settled == 1024:
            yield settled
            settled = 0
    if batch:
        yield batch
    yield settled
