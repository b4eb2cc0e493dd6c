"""Read wheels and sdists in memory, with limits; never extract anything.

:class:`Budget` caps what one archive may make pthguard decompress: each member at most
:data:`MAX_MEMBER` bytes and all members together :data:`MAX_TOTAL` bytes, however large
the headers say they are (a member is read in chunks and abandoned past the cap), and at
most :data:`MAX_MEMBERS` members. Tar archives are read as a stream whose decompressed
size is counted, so a compression bomb stops at the cap too. Member names are only
reported; :func:`name_problem` says when one would escape the directory it is unpacked
into.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Final

__all__ = [
    "MAX_MEMBER",
    "MAX_MEMBERS",
    "MAX_TOTAL",
    "ArchiveError",
    "Budget",
    "LimitExceeded",
    "Read",
    "name_problem",
    "read_zip_member",
    "tar_members",
]

MAX_TOTAL: Final = 256 << 20
MAX_MEMBER: Final = 64 << 20
MAX_MEMBERS: Final = 100_000
_CHUNK: Final = 1 << 20
_DRIVE: Final = re.compile(r"[A-Za-z]:")


class ArchiveError(Exception):
    """The archive cannot be read at all."""


class LimitExceeded(Exception):
    """A size limit was reached; the message says which."""


@dataclass(slots=True)
class Budget:
    """Bytes that may still be decompressed from one archive."""

    total: int = MAX_TOTAL
    member: int = MAX_MEMBER

    def take(self, count: int) -> None:
        self.total -= count
        if self.total < 0:
            raise LimitExceeded(f"more than {MAX_TOTAL} bytes decompressed from the archive")


@dataclass(frozen=True, slots=True, kw_only=True)
class Read:
    """A member's sha256 and size, and its bytes when they were asked for."""

    sha256: str
    size: int
    data: bytes | None


def name_problem(name: str) -> str | None:
    """Why unpacking a member of this name would write outside the target, or ``None``."""
    if "\0" in name:
        return "contains a NUL character"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "is an absolute path"
    parts = re.split(r"[\\/]", name)
    if ".." in parts:
        return "contains a '..' component"
    return None


def _consume(
    read: Callable[[int], bytes], budget: Budget, *, keep: bool, limit: int | None = None
) -> Read:
    digest = hashlib.sha256()
    size = 0
    kept: list[bytes] = []
    cap = budget.member if limit is None else limit
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > cap:
            raise LimitExceeded(f"member larger than {cap} bytes")
        budget.take(len(chunk))
        digest.update(chunk)
        if keep:
            kept.append(chunk)
    return Read(sha256=digest.hexdigest(), size=size, data=b"".join(kept) if keep else None)


def read_zip_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget, *, keep: bool
) -> Read:
    """Hash (and keep, if asked) one member; raises :class:`LimitExceeded` or
    :class:`ArchiveError` (bad CRC, encryption, unsupported compression)."""
    try:
        with archive.open(info) as handle:
            return _consume(handle.read, budget, keep=keep)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
        raise ArchiveError(f"{info.filename}: {exc}") from exc
    except (zlib.error, lzma.LZMAError) as exc:
        raise ArchiveError(f"{info.filename}: {exc}") from exc


class _CountingReader(io.RawIOBase):
    """A decompressed stream that raises :class:`LimitExceeded` past the budget."""

    def __init__(self, inner: IO[bytes] | gzip.GzipFile, budget: Budget) -> None:
        self._inner = inner
        self._budget = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        self._budget.take(len(data))
        buffer[: len(data)] = data
        return len(data)


@dataclass(frozen=True, slots=True, kw_only=True)
class TarMember:
    name: str
    #: ``file``, ``dir``, ``symlink``, ``hardlink`` or ``other``.
    type: str
    linkname: str
    #: The content, when asked for and the member is a regular file.
    read: Read | None


def _decompressed(raw: IO[bytes]) -> IO[bytes] | gzip.GzipFile:
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw, mode="rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw, mode="rb")
    return raw


def tar_members(
    raw: IO[bytes], budget: Budget, wanted: Callable[[str], bool]
) -> Iterator[TarMember]:
    """Every member of a (possibly compressed) tar stream; the content of regular files
    whose name ``wanted`` accepts. Raises :class:`ArchiveError` or :class:`LimitExceeded`."""
    stream = io.BufferedReader(_CountingReader(_decompressed(raw), budget), _CHUNK)
    count = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                count += 1
                if count > MAX_MEMBERS:
                    raise LimitExceeded(f"more than {MAX_MEMBERS} members")
                content = None
                if member.isfile() and wanted(member.name):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        content = _consume(handle.read, budget, keep=True)
                yield TarMember(
                    name=member.name,
                    type=_tar_type(member),
                    linkname=member.linkname,
                    read=content,
                )
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise ArchiveError(str(exc)) from exc


def _tar_type(member: tarfile.TarInfo) -> str:
    if member.isfile():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    return "other"
