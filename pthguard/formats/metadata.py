"""A distribution's ``Name`` and ``Version`` from its core metadata (``METADATA``,
``PKG-INFO``), as :class:`email.parser.BytesHeaderParser` reads them, and the normalised
form of a distribution name.

The metadata file is an RFC 822 header block, then an optional body. pthguard needs only
two fields of it, on every ``verify`` and ``snapshot``, so :func:`name_and_version` reads
the header block itself when it is plain, and gives the file to the ``email`` package
(``compat32``, the reading pthguard has always used) when it is not. Plain means:

* the header block (up to the first empty line, or the end of the file) has no ``\\r``;
* every line of it is ``FIELD: value`` with a field name of printable ASCII other than
  ``:`` (what ``email``'s ``headerRE`` accepts, with at least one character), or a
  continuation line starting with a space or a tab after such a line;
* the first ``Name`` and the first ``Version`` field (names compared case-insensitively)
  have no continuation line, and their values are ASCII.

Anything else (a ``\\r`` line ending, a folded ``Name``, a non-ASCII or non-UTF-8 value, a
``From `` envelope line, a line that ends the header block early, an empty field name, a
continuation line first) is read by ``email``, so both readings always agree
(``tests/formats/test_metadata.py`` compares them on real and odd files). A missing field
is ``""`` in both.
"""

from __future__ import annotations

import re

__all__ = ["name_and_version", "normalize_name"]

_FIELD = re.compile(rb"[!-9;-~]+:")
_WANTED = frozenset((b"name", b"version"))


def name_and_version(data: bytes) -> tuple[str, str]:
    """The first ``Name`` and ``Version`` fields of ``data``, stripped (``""`` if absent)."""
    found = _plain_fields(data)
    return found if found is not None else _email_fields(data)


def normalize_name(name: str) -> str:
    """PEP 503's normal form, ``re.sub(r"[-_.]+", "-", name).lower()`` (as
    ``packaging.utils.canonicalize_name`` computes it, without importing ``packaging``)."""
    value = name.lower().replace("_", "-").replace(".", "-")
    while "--" in value:
        value = value.replace("--", "-")
    return value


def _plain_fields(data: bytes) -> tuple[str, str] | None:
    """The fields when the header block is plain (module docstring), else ``None``."""
    end = data.find(b"\n\n")
    head = data[: end + 1] if end >= 0 else data
    if b"\r" in head:
        return None
    lines = head.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the split after the last line's newline
    values: dict[bytes, bytes] = {}
    last: bytes | None = None  # the field of the previous line, when it is a wanted one
    for index, line in enumerate(lines):
        if line[:1] in (b" ", b"\t"):
            if last is not None or index == 0:
                return None  # a wanted field folded, or a continuation line first
            continue
        match = _FIELD.match(line)
        if match is None:
            return None  # "From ", an empty field name, a line that ends the header block
        field = line[: match.end() - 1].lower()
        last = None
        if field in _WANTED and field not in values:
            values[field] = line[match.end() :]
            last = field
    try:
        name = values.get(b"name", b"").decode("ascii")
        version = values.get(b"version", b"").decode("ascii")
    except UnicodeDecodeError:
        return None
    return name.strip(), version.strip()


def _email_fields(data: bytes) -> tuple[str, str]:
    from email.parser import BytesHeaderParser  # noqa: PLC0415 (only for unusual files)

    headers = BytesHeaderParser().parsebytes(data)
    return str(headers.get("Name", "")).strip(), str(headers.get("Version", "")).strip()
