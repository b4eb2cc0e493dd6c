"""The two files of a metadata directory that every scan reads, ``METADATA``/``PKG-INFO`` and
``RECORD``, read through a stat-keyed cache (:class:`pthguard._internal.statcache.StatCache`,
``records-KEY.cache`` per environment).

A file whose fingerprint the cache vouches for is not opened: its sha256 and what was parsed
from it (name and version; the RECORD's rows) come from the cache. A file the cache does not
vouch for is read and hashed; it is parsed only when no earlier run parsed bytes with that
digest (a same-version reinstall rewrites a RECORD with the same bytes). So a scan of an
unchanged environment reads and parses no RECORD and no METADATA, and a scan after an
upgrade parses only what the upgrade wrote.

:class:`RecordTable` keeps a RECORD's good rows as columns (cheap to cache and to load) and
splits their paths: ``inside``, the paths already normal and inside the site directory
(``os.path.normpath`` leaves them as they are: no ``..``, ``.``, empty component or trailing
``/``), so that the site directory joined to one is the file; ``others``, the rest (``../``
scripts and data, paths to normalise); ``tops``, the distinct first components of
``inside``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pthguard._internal.hashing import sha256_bytes
from pthguard._internal.statcache import Fingerprint, StatCache, cache_file
from pthguard.errors import ScanError
from pthguard.formats.metadata import name_and_version
from pthguard.formats.record import RecordRow, read_record
from pthguard.gate.schema import file_fingerprint

__all__ = [
    "CACHE_FORMAT",
    "EMPTY_TABLE",
    "DistFiles",
    "MetadataFile",
    "RecordTable",
    "read_optional",
    "records_cache",
]

CACHE_FORMAT = ("pthguard-records", 2)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RecordTable:
    """A RECORD's good rows as columns, its problems, and its paths split for claiming."""

    paths: tuple[str, ...] = ()
    sha256s: tuple[str | None, ...] = ()
    sizes: tuple[int | None, ...] = ()
    problems: tuple[str, ...] = ()
    inside: tuple[str, ...] = ()
    others: tuple[str, ...] = ()
    tops: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: bytes) -> RecordTable:
        rows, problems = read_record(data)
        paths = tuple(r.path for r in rows)
        inside: list[str] = []
        others: list[str] = []
        for path in paths:
            (inside if _plain(path) else others).append(path)
        return cls(
            paths=paths,
            sha256s=tuple(r.sha256 for r in rows),
            sizes=tuple(r.size for r in rows),
            problems=tuple(problems),
            inside=tuple(inside),
            others=tuple(others),
            tops=tuple(dict.fromkeys(p.split("/", 1)[0] for p in inside)),
        )

    def full_paths(self, site: str) -> list[str]:
        """``os.path.normpath(os.path.join(site, path))`` of every row, in order (without
        normalising the paths that are already normal)."""
        if os.path.normpath(site) != site:
            return [os.path.normpath(os.path.join(site, p)) for p in self.paths]
        normal = frozenset(self.inside)
        head = os.path.join(site, "")
        return [
            head + p if p in normal else os.path.normpath(os.path.join(site, p)) for p in self.paths
        ]

    def rows(self) -> tuple[RecordRow, ...]:
        return tuple(
            RecordRow(path=p, sha256=h, size=s)
            for p, h, s in zip(self.paths, self.sha256s, self.sizes, strict=True)
        )

    def to_plain(self) -> tuple[tuple[Any, ...], ...]:
        return (
            self.paths,
            self.sha256s,
            self.sizes,
            self.problems,
            self.inside,
            self.others,
            self.tops,
        )

    @classmethod
    def from_plain(cls, value: object) -> RecordTable | None:
        """The table a cache holds, or ``None`` when it is not of the expected shape."""
        if type(value) is not tuple or len(value) != 7:
            return None
        if not all(type(column) is tuple for column in value):
            return None
        paths, sha256s, sizes, problems, inside, others, tops = value
        if not len(paths) == len(sha256s) == len(sizes):
            return None
        strings = (paths, problems, inside, others, tops)
        if any(not set(map(type, column)) <= {str} for column in strings):
            return None
        if not set(map(type, sha256s)) <= {str, type(None)}:
            return None
        if not set(map(type, sizes)) <= {int, type(None)}:
            return None
        return cls(*value)


EMPTY_TABLE = RecordTable()


def _plain(path: str) -> bool:
    """Inside the site directory and already normal: ``os.path.normpath`` keeps it."""
    return not (
        path.startswith(("/", "./"))
        or path.endswith(("/", "/."))
        or path == "."
        or ".." in path
        or "//" in path
        or "/./" in path
    )


@dataclass(frozen=True, slots=True)
class MetadataFile:
    """A metadata file's digest and the fields the scan takes from it."""

    sha256: str
    name: str
    version: str


def records_cache(prefix: str) -> StatCache:
    """The cache of the environment at ``prefix`` (none without a home: nothing is kept)."""
    return StatCache(cache_file("records", prefix), CACHE_FORMAT)


def _parse_metadata(data: bytes) -> tuple[str, str]:
    return name_and_version(data)


def _load_metadata(value: object) -> tuple[str, str] | None:
    if type(value) is tuple and len(value) == 2 and type(value[0]) is str and type(value[1]) is str:
        return value[0], value[1]
    return None


def _parse_record(data: bytes) -> tuple[tuple[Any, ...], ...]:
    return RecordTable.parse(data).to_plain()


class DistFiles:
    """Reads METADATA and RECORD files through ``cache`` (``None``: always read them)."""

    def __init__(self, cache: StatCache | None = None) -> None:
        self.cache = cache

    def metadata(self, path: str) -> MetadataFile | None:
        """``None`` when there is no such file; :class:`ScanError` when it cannot be read."""
        found = self._facts(path, "metadata", _parse_metadata, _load_metadata)
        if found is None:
            return None
        digest, (name, version) = found
        return MetadataFile(sha256=digest, name=name, version=version)

    def record(self, path: str) -> tuple[str, RecordTable] | None:
        """The RECORD's sha256 and table; ``None`` when there is no RECORD; :class:`ScanError`
        when it cannot be read."""
        return self._facts(path, "record", _parse_record, RecordTable.from_plain)

    def _facts(
        self,
        path: str,
        kind: str,
        parse: Callable[[bytes], object],
        load: Callable[[object], T | None],
    ) -> tuple[str, T] | None:
        """The file's sha256 and what ``load`` makes of its parsed form: from the cache when
        it vouches for the file and holds that form, else read, hashed and parsed."""
        cache = self.cache
        fingerprint = None
        if cache is not None:
            try:
                fingerprint = file_fingerprint(os.stat(path))
            except (FileNotFoundError, NotADirectoryError):
                return None
            except OSError:
                pass  # reading it below raises the error a read gives
            digest = None if fingerprint is None else cache.digest(path, fingerprint)
            if digest is not None:
                value = load(cache.parsed_value(kind, digest))
                if value is not None:
                    return digest, value
        data = read_optional(path)
        if data is None:
            return None
        digest = sha256_bytes(data)
        if cache is None:
            return digest, _loaded(load, parse(data))
        if fingerprint is not None and _fingerprint(path) == fingerprint:
            cache.remember(path, fingerprint, digest)  # unchanged while it was read
        value = load(cache.parsed_value(kind, digest))
        if value is None:
            plain = parse(data)
            cache.remember_parsed(kind, digest, plain)
            value = _loaded(load, plain)
        return digest, value


def _loaded(load: Callable[[object], T | None], plain: object) -> T:
    value = load(plain)
    if value is None:  # pragma: no cover - parse and load are written together
        raise AssertionError("a parsed value its loader rejects")
    return value


def _fingerprint(path: str) -> Fingerprint | None:
    try:
        return file_fingerprint(os.stat(path))
    except OSError:
        return None


def read_optional(path: str) -> bytes | None:
    """The file's bytes; ``None`` when it does not exist; :class:`ScanError` when it cannot
    be read (an unreadable RECORD or METADATA: no honest scan without it)."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ScanError(
            f"cannot read {path} ({exc.strerror})",
            remedy="fix its permissions, or run as a user who can read the environment",
        ) from exc
