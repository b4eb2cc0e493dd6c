"""Strict parsing of a distribution's ``RECORD`` file (PEP 376, PEP 627, the wheel spec).

A RECORD is CSV (the :mod:`csv` module's default dialect), one row per installed file::

    pkg/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0
    pkg-1.0.dist-info/RECORD,,
    ../../../bin/tool,sha256=...,212

Every row must have exactly three fields, ``path,hash,size``:

* ``path`` is written exactly as the installer wrote it: ``/``-separated and relative to the
  site directory; scripts and data files may start with ``../``. It must not be empty,
  absolute (``/x``, ``\\x``, or a Windows drive such as ``C:``), or contain a NUL or a line
  break (a path that spans lines only arises from a quoted CSV field, never from a sane
  installer). The same path may appear only once (compared exactly, not normalised).
* ``hash`` is empty, or ``sha256=`` followed by the URL-safe base64 encoding (``-`` and ``_``,
  no ``=`` padding) of a 32-byte digest, in its canonical form (the unused low bits of the
  last character are zero, so one digest has exactly one spelling). Any other algorithm
  (``md5``, ``sha1``, ``sha512``, even ``SHA256``) is rejected: pthguard never trusts a weaker
  or unfamiliar digest.
* ``size`` is empty, or a non-negative decimal integer written with ASCII digits only.

A hash without a size, or a size without a hash, is allowed: RECORD lists itself with
neither, and installers often leave both out for ``.pyc`` files and signatures. Blank lines
at the end are ignored; a blank line between rows is a problem.

:func:`parse_record` raises one :class:`~pthguard.errors.RecordError` that lists every problem
(``"row 3: ..."``, where the number is the line on which the row starts, counting from 1).
:func:`parse_record_lenient` returns the rows that are fine together with the problems, for
reports that must go on. Reading the file and comparing digests with files on disk happen
elsewhere: this module only turns text into rows.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pthguard.errors import RecordError

__all__ = [
    "RecordRow",
    "hex_to_record_hash",
    "parse_record",
    "parse_record_lenient",
    "read_record",
    "record_hash_to_hex",
]

_ALGORITHM = "sha256"
_DIGEST_SIZE = 32
_B64_LENGTH = 43  # ceil(32 * 8 / 6): the unpadded URL-safe base64 length of 32 bytes
_URLSAFE_B64_RE = re.compile(r"[A-Za-z0-9_-]*\Z")
_HEX_RE = re.compile(r"[0-9a-fA-F]{64}\Z")
_SIZE_RE = re.compile(r"[0-9]+\Z")
_DRIVE_RE = re.compile(r"[A-Za-z]:")
#: A hash field in its one canonical spelling: 43 URL-safe base64 characters, the last with
#: its two unused low bits zero (a 32-byte digest fills 256 of their 258 bits).
_CANONICAL_HASH_RE = re.compile(r"sha256=[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]\Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordRow:
    """One row of a RECORD file."""

    #: Exactly as written: ``/`` separators, relative to the site directory (may start ``../``).
    path: str
    #: Lower-case hex sha256 digest, or ``None`` when the row has no hash.
    sha256: str | None
    #: Size in bytes, or ``None`` when the row has no size.
    size: int | None


def record_hash_to_hex(value: str) -> str:
    """Turn a RECORD hash field ``sha256=<urlsafe base64, no padding>`` into lower-case hex.

    Raises :class:`ValueError` naming what is wrong: a missing ``=``, an algorithm other than
    ``sha256``, padding, characters outside the URL-safe alphabet, a non-canonical encoding,
    or a digest that is not 32 bytes long.
    """
    algorithm, sep, encoded = value.partition("=")
    if not sep:
        raise ValueError(f"malformed hash {value!r} (expected sha256=<urlsafe base64 digest>)")
    if algorithm != _ALGORITHM:
        raise ValueError(
            f"unsupported hash algorithm {algorithm!r} (only {_ALGORITHM} is accepted)"
        )
    if "=" in encoded:
        raise ValueError(f"sha256 digest {encoded!r} has base64 padding (RECORD omits it)")
    if not _URLSAFE_B64_RE.match(encoded):
        raise ValueError(
            f"sha256 digest {encoded!r} is not URL-safe base64 (letters, digits, '-', '_')"
        )
    if len(encoded) % 4 == 1:
        raise ValueError(f"sha256 digest {encoded!r} has an impossible base64 length")
    try:
        digest = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - excluded by the checks above
        raise ValueError(f"sha256 digest {encoded!r} is not valid base64: {exc}") from exc
    if len(digest) != _DIGEST_SIZE:
        raise ValueError(
            f"sha256 digest {encoded!r} decodes to {len(digest)} bytes, expected {_DIGEST_SIZE}"
        )
    if len(encoded) != _B64_LENGTH or _encode(digest) != encoded:
        raise ValueError(
            f"sha256 digest {encoded!r} is not canonical base64 (expected {_encode(digest)!r})"
        )
    return digest.hex()


def hex_to_record_hash(hexdigest: str) -> str:
    """Turn a 64-character hex sha256 digest into a RECORD hash field ``sha256=...``."""
    if not _HEX_RE.match(hexdigest):
        raise ValueError(f"expected a sha256 digest as 64 hex digits, found {hexdigest!r}")
    return f"{_ALGORITHM}={_encode(bytes.fromhex(hexdigest))}"


def _encode(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def parse_record(lines: Iterable[str]) -> tuple[RecordRow, ...]:
    """Parse the lines of a RECORD file, or raise :class:`RecordError` listing every problem.

    ``lines`` is what iterating a text file gives (line endings kept or not); a single
    ``str`` is taken as the whole file. Do not split the text with :meth:`str.splitlines`,
    which also breaks lines on characters such as ``\\x0c`` that may be part of a path.
    """
    rows, problems = parse_record_lenient(lines)
    if problems:
        raise RecordError("malformed RECORD", problems)
    return rows


def read_record(data: bytes) -> tuple[tuple[RecordRow, ...], list[str]]:
    """The one reading of a RECORD file's bytes (snapshot, deep verify, inspect, the seal).

    Decoded as UTF-8 (a file that is not is a problem; it is then read with surrogate escapes,
    so no path is lost or merged with another) and split by the CSV rules only, so a path may
    hold any character, ``\\x0c`` included. Returns the good rows and every problem."""
    problems: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"not UTF-8 ({exc.reason} at byte {exc.start})")
        text = data.decode("utf-8", "surrogateescape")
    rows, more = parse_record_lenient(text)
    return rows, problems + more


def parse_record_lenient(lines: Iterable[str]) -> tuple[tuple[RecordRow, ...], list[str]]:
    """Parse what can be parsed: the rows without problems, and every problem found.

    A row with any problem is left out. Of two rows with the same path, the first is kept
    and the second is reported.
    """
    source: Iterable[str] = io.StringIO(lines, newline="") if isinstance(lines, str) else lines
    rows: list[RecordRow] = []
    problems: list[str] = []
    first_row_of: dict[str, int] = {}
    blank_rows: list[int] = []

    for number, fields, csv_error in _csv_rows(source):
        if csv_error is not None:
            problems.extend(f"row {n}: blank line" for n in blank_rows)
            blank_rows.clear()
            problems.append(f"row {number}: malformed CSV: {csv_error}")
            continue
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            blank_rows.append(number)
            continue
        if blank_rows:
            problems.extend(f"row {n}: blank line" for n in blank_rows)
            blank_rows.clear()

        row = _plain_row(fields)
        row_problems: list[str] = []
        if row is None:
            row, row_problems = _parse_fields(fields)
        if row is not None and row.path in first_row_of:
            row_problems.append(
                f"duplicate path {row.path!r} (first on row {first_row_of[row.path]})"
            )
        if row_problems:
            problems.extend(f"row {number}: {problem}" for problem in row_problems)
        if row is not None and not row_problems:
            rows.append(row)
            first_row_of[row.path] = number
    # Blank rows left in ``blank_rows`` are trailing: ignored.
    return tuple(rows), problems


def _csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str], str | None]]:
    """Yield ``(first line number, fields, csv error or None)``; go on after CSV errors."""
    reader = csv.reader(lines, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, [], str(exc)
            continue
        yield start, fields, None


def _plain_row(fields: list[str]) -> RecordRow | None:
    """The row, when its fields are in the form installers write (a path with none of the
    problems :func:`_path_problems` finds, a canonical sha256 or none, a size or none): what
    :func:`_parse_fields` returns for them, without its checks one by one. ``None`` for any
    other row, which :func:`_parse_fields` then reads and explains."""
    if len(fields) != 3:
        return None
    path, hash_field, size_field = fields
    if (
        not path
        or path[0] in "/\\"
        or "\0" in path
        or "\n" in path
        or "\r" in path
        or _DRIVE_RE.match(path) is not None
    ):
        return None
    sha256 = None
    if hash_field:
        if _CANONICAL_HASH_RE.match(hash_field) is None:
            return None
        encoded = hash_field[len(_ALGORITHM) + 1 :].replace("-", "+").replace("_", "/")
        sha256 = binascii.a2b_base64(encoded + "=").hex()
    size = None
    if size_field:
        if _SIZE_RE.match(size_field) is None:
            return None
        size = int(size_field)
    return RecordRow(path=path, sha256=sha256, size=size)


def _parse_fields(fields: list[str]) -> tuple[RecordRow | None, list[str]]:
    if len(fields) != 3:
        return None, [f"expected 3 fields (path,hash,size), found {len(fields)}"]
    path, hash_field, size_field = fields
    problems = _path_problems(path)

    sha256: str | None = None
    if hash_field:
        try:
            sha256 = record_hash_to_hex(hash_field)
        except ValueError as exc:
            problems.append(str(exc))

    size: int | None = None
    if size_field:
        if _SIZE_RE.match(size_field):
            size = int(size_field)
        else:
            problems.append(f"size {size_field!r} is not a non-negative decimal integer")

    if problems:
        return None, problems
    return RecordRow(path=path, sha256=sha256, size=size), problems


def _path_problems(path: str) -> list[str]:
    if not path:
        return ["empty path"]
    problems: list[str] = []
    if path.startswith(("/", "\\")) or _DRIVE_RE.match(path):
        problems.append(f"absolute path {path!r} (RECORD paths are relative to the site dir)")
    if "\0" in path:
        problems.append(f"path {path!r} contains a NUL character")
    if "\n" in path or "\r" in path:
        problems.append(f"path {path!r} contains a line break")
    return problems
