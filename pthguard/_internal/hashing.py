"""Digests and stat fingerprints of files: sha256 in hex, and what a stat-keyed cache keys on.

The fingerprint tuple is defined once, in :func:`pthguard.gate.schema.file_fingerprint`, and
shared with the gate, so a fingerprint pthguard records is the one the gate compares.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pthguard.gate.schema import file_fingerprint


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    with open(path, "rb") as handle:
        if hasattr(hashlib, "file_digest"):  # 3.11+: the read loop runs in C
            return str(hashlib.file_digest(handle, "sha256").hexdigest())
        digest = hashlib.sha256()
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def stat_fingerprint(path: str) -> tuple[int, int, int, int, int]:
    """(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) of ``path``, following symlinks."""
    return file_fingerprint(os.stat(path))
