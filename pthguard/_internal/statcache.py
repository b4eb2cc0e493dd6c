"""A stat-keyed cache of file digests, and of what was parsed from a file's bytes.

``files``: path -> (fingerprint, sha256 hex), the fingerprint being (st_dev, st_ino, st_size,
st_mtime_ns, st_ctime_ns) (:func:`pthguard.gate.schema.file_fingerprint`). An entry vouches
for a file only while the file has that fingerprint and its mtime is older than the moment
the cache was written minus :data:`~pthguard.gate.schema.RACY_MARGIN_NS` (git's
racily-clean rule: a change within the clock tick of the recorded mtime leaves the
fingerprint as it was). ``parsed``: (kind, sha256 hex) -> a value computed from bytes with
that digest (a RECORD's rows, a METADATA's name and version), so that a file rewritten with
the same bytes is not parsed again.

The file is ``sha256(payload) + payload``, ``payload = marshal.dumps(doc, 4)`` and ``doc``
``{"format", "written_ns", "entries", "parsed"}``. It is checked before it is unmarshalled
(one flipped byte can crash marshal); a corrupt, truncated, foreign or unreadable cache is
ignored and rebuilt, never trusted, and an entry of the wrong shape is ignored. A cache that
cannot be written (a read-only or missing directory, no home) only makes the next run
slower. Writing is atomic (a temporary file renamed over the cache) and not synced to disk:
a file that did not reach the disk whole after a crash fails the checksum, and is rebuilt.
The write time saved is when this run began, before any fingerprint was taken.

Only what this run looked up is written back: entries for files that are gone fall out, and
an entry that was racily clean is never carried to a later write time.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import time
from pathlib import Path
from typing import Any

from pthguard.gate.schema import RACY_MARGIN_NS

__all__ = ["Fingerprint", "StatCache", "cache_file"]

Fingerprint = tuple[int, int, int, int, int]


def cache_file(kind: str, prefix: str) -> Path | None:
    """``KIND-KEY.cache`` in the user's cache directory (``$XDG_CACHE_HOME/pthguard``,
    ``~/.cache/pthguard`` on Linux), one per environment prefix; ``None`` without a home."""
    environ = os.environ
    if not environ.get("HOME") and not environ.get("XDG_CACHE_HOME"):
        return None
    key = hashlib.sha256(prefix.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return _cache_dir() / f"{kind}-{key}.cache"


def _cache_dir() -> Path:
    """``platformdirs.user_cache_dir("pthguard")``; on Linux with an absolute
    ``XDG_CACHE_HOME`` or ``HOME`` (the usual case) computed as it does, without importing it."""
    import sys  # noqa: PLC0415

    if sys.platform == "linux":
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        if xdg.startswith("/"):
            return Path(xdg, "pthguard")
        home = os.environ.get("HOME", "")
        if home.startswith("/") and "XDG_CACHE_HOME" not in os.environ:
            return Path(home, ".cache", "pthguard")
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_cache_dir("pthguard"))


class StatCache:
    """See the module docstring. ``fmt`` names the format; a cache of another is ignored."""

    def __init__(self, path: Path | None, fmt: tuple[str, int]) -> None:
        self.path = path
        self.fmt = fmt
        self.started_ns = time.time_ns()
        self.trusted_before = 0
        self._old: dict[Any, Any] = {}
        self._old_parsed: dict[Any, Any] = {}
        self.entries: dict[str, tuple[Fingerprint, str]] = {}  # this run's, written back
        self.parsed: dict[tuple[str, str], object] = {}
        self.changed = False
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
        except OSError:
            return
        payload = raw[32:]
        if raw[:32] != hashlib.sha256(payload).digest():
            return
        try:
            doc = marshal.loads(payload)  # noqa: S302 (checked: the user's own cache file)
        except (EOFError, ValueError, TypeError):
            return
        if (
            type(doc) is not dict
            or doc.get("format") != self.fmt
            or type(doc.get("entries")) is not dict
            or type(doc.get("written_ns")) is not int
        ):
            return
        parsed = doc.get("parsed", {})
        self._old = doc["entries"]
        self._old_parsed = parsed if type(parsed) is dict else {}
        self.trusted_before = doc["written_ns"] - RACY_MARGIN_NS

    @property
    def known(self) -> int:
        """How many files the cache held when it was read (trusted or not)."""
        return len(self._old)

    def digest(self, path: str, fingerprint: Fingerprint) -> str | None:
        """The sha256 recorded for ``path`` with exactly this fingerprint, if still trusted."""
        entry = self._old.get(path)
        if (
            type(entry) is not tuple
            or len(entry) != 2
            or entry[0] != fingerprint
            or type(entry[1]) is not str
            or fingerprint[3] >= self.trusted_before
        ):
            return None
        self.entries[path] = entry
        return entry[1]

    def remember(self, path: str, fingerprint: Fingerprint, digest: str) -> None:
        """``path`` had ``digest`` while it had ``fingerprint`` (taken before reading it)."""
        self.entries[path] = (fingerprint, digest)
        self.changed = True

    def parsed_value(self, kind: str, digest: str) -> object:
        """What was parsed earlier from bytes of this digest, or ``None`` (callers check its
        shape: a cache is only as good as the code that wrote it)."""
        key = (kind, digest)
        if key in self.parsed:
            return self.parsed[key]
        value = self._old_parsed.get(key)
        if value is not None:
            self.parsed[key] = value
        return value

    def remember_parsed(self, kind: str, digest: str, value: object) -> None:
        self.parsed[(kind, digest)] = value
        self.changed = True

    def save(self) -> None:
        """Write what this run looked up or learnt, if it learnt anything or dropped an entry."""
        if self.path is None or not (self.changed or len(self.entries) != len(self._old)):
            return
        used = {entry[1] for entry in self.entries.values()}
        parsed = {k: v for k, v in self.parsed.items() if k[1] in used}
        doc = {
            "format": self.fmt,
            "written_ns": self.started_ns,
            "entries": self.entries,
            "parsed": parsed,
        }
        payload = marshal.dumps(doc, 4)
        import tempfile  # noqa: PLC0415 (only when something is written)

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.stem}.", suffix=".tmp"
            )
        except OSError:
            return  # a read-only or missing cache directory: the next run is only slower
        try:
            with os.fdopen(fd, "wb") as handle:  # not fsynced: see the module docstring
                handle.write(hashlib.sha256(payload).digest() + payload)
            Path(tmp).replace(self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
