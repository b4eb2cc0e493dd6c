"""Deep verification: every file a distribution's RECORD lists, against its hash.

Only distributions whose RECORD (or, for egg-info, manifest file list) is the one the
manifest pins are checked this way: a RECORD that changed is already a difference, and its
rows are not trusted. Hashing runs on a thread pool (hashlib releases the GIL on large
buffers), files batched per task.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from pthguard._compare import Difference
from pthguard._manifest import Manifest
from pthguard._snapshot import Snapshot, sha256_file

_BATCH = 64


def _check_batch(batch: list[tuple[str, str, str]]) -> list[Difference]:
    out: list[Difference] = []
    for full, expected, owner in batch:
        try:
            found = sha256_file(full)
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


def _jobs(manifest: Manifest, live: Snapshot) -> Iterator[tuple[str, str, str]]:
    pinned = {d.key: d for d in manifest.distributions}
    for scanned in live.distributions:
        dist = scanned.entry
        signed = pinned.get(dist.key)
        if signed is None or signed.record_sha256 != dist.record_sha256:
            continue
        for row in scanned.rows:
            if row.sha256 is not None:
                full = os.path.normpath(os.path.join(dist.site_dir, row.path))
                yield full, row.sha256, f"{dist.name} {dist.version}"
        for item in signed.files:
            yield os.path.join(dist.site_dir, item.path), item.sha256, f"{dist.name} {dist.version}"


def _batches(jobs: Iterable[tuple[str, str, str]]) -> Iterator[list[tuple[str, str, str]]]:
    batch: list[tuple[str, str, str]] = []
    for job in jobs:
        batch.append(job)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def deep_differences(
    manifest: Manifest, live: Snapshot, workers: int | None = None
) -> list[Difference]:
    """Files of pinned distributions that are missing or differ from their recorded hash."""
    workers = workers or min(8, (os.cpu_count() or 1) + 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_check_batch, _batches(_jobs(manifest, live)))
        return [d for batch in results for d in batch]
