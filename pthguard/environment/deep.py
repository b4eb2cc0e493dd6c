"""Deep verification: every file a distribution's RECORD lists, against its hash.

Only distributions whose RECORD (or, for egg-info, manifest file list) is the one the
manifest pins are checked this way: a RECORD that changed is already a difference, and its
rows are not trusted.

Hashing runs on a thread pool (OpenSSL-backed ``hashlib`` releases the GIL on large
buffers), files batched per task. A stat-keyed hash cache, (dev, ino, size, mtime_ns,
ctime_ns) -> sha256, skips files unchanged since an earlier run; an entry whose mtime is not
older than the start of the run that wrote the cache is hashed again (git's racily-clean
rule). The cache lives in the user's cache directory, behind a sha256 of its contents; a
corrupt, foreign or unreadable one is ignored and rebuilt, and one that cannot be written
only makes the next run slower.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

from pthguard._internal.hashing import sha256_file, stat_fingerprint
from pthguard.environment.snapshot import Snapshot
from pthguard.gate.schema import RACY_MARGIN_NS
from pthguard.manifest.compare import Difference
from pthguard.manifest.model import Manifest

_BATCH = 64
_CACHE_FORMAT = ("pthguard-deep", 2)
Fingerprint = tuple[int, int, int, int, int]
Job = tuple[str, str, str]  # path, expected sha256, owner


class HashCache:
    """(path, fingerprint) -> sha256, trusted only for entries older than its write time."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, tuple[Fingerprint, str]] = {}
        self.trusted_before = 0
        self.fresh: dict[str, tuple[Fingerprint, str]] = {}
        # Saved as the write time: every fingerprint of this run is taken after it, so a change
        # in the clock tick of a file's mtime stays racily clean however long hashing takes.
        self.started_ns = time.time_ns()
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except OSError:
            return
        payload = raw[32:]
        if raw[:32] != hashlib.sha256(payload).digest():
            return  # corrupt or truncated: never unmarshalled (one flipped byte can crash it)
        try:
            data = marshal.loads(payload)  # noqa: S302 (the user's own cache file)
        except (EOFError, ValueError, TypeError):
            return
        if (
            isinstance(data, dict)
            and data.get("format") == _CACHE_FORMAT
            and isinstance(data.get("entries"), dict)
            and isinstance(data.get("written_ns"), int)
        ):
            self.entries = data["entries"]
            self.trusted_before = data["written_ns"] - RACY_MARGIN_NS

    def lookup(self, path: str, fingerprint: Fingerprint) -> str | None:
        entry = self.entries.get(path)
        if (
            not isinstance(entry, tuple)
            or len(entry) != 2
            or entry[0] != fingerprint
            or not isinstance(entry[1], str)
            or fingerprint[3] >= self.trusted_before
        ):
            return None
        return entry[1]

    def remember(self, path: str, fingerprint: Fingerprint, digest: str) -> None:
        self.fresh[path] = (fingerprint, digest)

    def save(self) -> None:
        if self.path is None or not self.fresh:
            return
        entries = {**self.entries, **self.fresh}
        doc = {"format": _CACHE_FORMAT, "written_ns": self.started_ns, "entries": entries}
        payload = marshal.dumps(doc, 4)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".deep.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(hashlib.sha256(payload).digest() + payload)
                    handle.flush()
                    os.fsync(handle.fileno())
                Path(tmp).replace(self.path)
            except OSError:
                Path(tmp).unlink(missing_ok=True)
        except OSError:
            return  # a read-only or missing cache directory: the next run is only slower


def cache_path(prefix: str) -> Path | None:
    """One cache file per environment prefix, in the user's cache directory."""
    if not os.environ.get("HOME") and not os.environ.get("XDG_CACHE_HOME"):
        return None
    import platformdirs  # noqa: PLC0415 (only deep verification needs it)

    key = hashlib.sha256(prefix.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return Path(platformdirs.user_cache_dir("pthguard")) / f"deep-{key}.cache"


def _check_batch(batch: list[Job], cache: HashCache) -> list[Difference]:
    out: list[Difference] = []
    for full, expected, owner in batch:
        try:
            fingerprint = stat_fingerprint(full)
            found = cache.lookup(full, fingerprint)
            if found is None:
                found = sha256_file(full)
                if stat_fingerprint(full) == fingerprint:  # unchanged while it was read
                    cache.remember(full, fingerprint, found)
        except FileNotFoundError:
            out.append(
                Difference(
                    category="file",
                    change="removed",
                    subject=full,
                    expected=f"sha256 {expected} (from {owner})",
                    found="missing",
                )
            )
            continue
        except OSError as exc:
            found = f"unreadable: {exc.strerror}"
        if found != expected:
            out.append(
                Difference(
                    category="file",
                    change="changed",
                    subject=full,
                    expected=f"sha256 {expected} (from {owner})",
                    found=found if found.startswith("unreadable") else f"sha256 {found}",
                )
            )
    return out


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
        for row in scanned.rows:
            if row.sha256 is not None:
                out.append(
                    (os.path.normpath(os.path.join(dist.site_dir, row.path)), row.sha256, owner)
                )
        for item in signed.files:
            out.append((os.path.join(dist.site_dir, item.path), item.sha256, owner))
    return out


def _batches(items: list[Job]) -> Iterator[list[Job]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


Progress = Callable[[int, int], None]


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


def deep_differences(
    manifest: Manifest,
    live: Snapshot,
    *,
    workers: int | None = None,
    cache: HashCache | None = None,
    progress: Progress | None = None,
) -> list[Difference]:
    """Files of pinned distributions that are missing or differ from their recorded hash."""
    cache = cache if cache is not None else HashCache(cache_path(manifest.environment.prefix))
    work = jobs(manifest, live)
    workers = workers or min(8, (os.cpu_count() or 1) + 1)
    found: list[Difference] = []
    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for index, result in enumerate(pool.map(lambda b: _check_batch(b, cache), _batches(work))):
            found.extend(result)
            done = min(len(work), (index + 1) * _BATCH)
            if progress is not None:
                progress(done, len(work))
    cache.save()
    return found
