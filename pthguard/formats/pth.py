r"""How each CPython version reads a ``.pth`` file and a PEP 829 ``.start`` file.

Pure functions of ``(bytes, version)``: nothing here touches the file system, imports or
executes anything. Every statement below was read in ``Lib/site.py`` of CPython 3.10.13,
3.11.7, 3.12.1, 3.13.0 (pyenv builds), Debian's 3.14.10 and 3.15.2, and is checked against
those interpreters by ``tests/formats/test_pth.py::test_matches_real_interpreter``.

``.pth`` files: ``site.addpackage`` (3.10-3.14); ``site._read_pthstart_file`` and
``StartupState._read_pth_file`` (3.15)
-------------------------------------------------------------------------------------

* Names. ``site`` lists the directory and reads the names ending in exactly ``.pth``
  (``X.PTH`` is never read, on any OS) in ``sorted()`` (code point) order; from 3.13 it skips
  names starting with ``.``; from 3.15 it also reads ``*.start`` (after all ``.pth``).
  From 3.13 files with the hidden flag are skipped too, but that is a ``stat`` property,
  not a name one: ``st_flags & UF_HIDDEN`` (macOS/BSD ``chflags hidden``) or
  ``st_file_attributes & FILE_ATTRIBUTE_HIDDEN`` (Windows). :func:`is_skipped_name` cannot
  see it; whoever lists a directory must check it.
* Decoding, 3.10-3.12: ``io.TextIOWrapper(io.open_code(f), encoding="locale")``, strict,
  read chunk by chunk while the lines are processed. A UTF-8 BOM is kept: line 1 then
  starts with ``\ufeff`` and is never a comment or an import line.
* Decoding, 3.13+: the whole file at once as ``utf-8-sig`` (one leading BOM removed), and
  if that fails as the locale encoding (strict), before any line is processed.
* "The locale encoding" differs by version. 3.10 resolves ``encoding="locale"`` with
  ``locale.getpreferredencoding(False)``, which is UTF-8 in UTF-8 mode (``-X utf8``, or a
  run in the C/POSIX locale). 3.11 and 3.12 use ``locale.getencoding()``, which ignores
  UTF-8 mode: with ``LC_ALL=C`` a ``.pth`` must be pure ASCII. 3.13+ fall back to
  ``locale.getencoding()`` too. The functions here take it as ``locale_encoding`` (default
  ``"utf-8"``, that of the usual ``C.UTF-8`` and ``*.UTF-8`` locales) and never look at the
  running process's locale.
* Undecodable bytes: ``UnicodeDecodeError`` escapes ``site`` (nothing catches it). At
  startup that is fatal ("Fatal Python error: init_import_site"); a runtime
  ``site.addsitedir()`` raises it to its caller. 3.10-3.12 have by then acted on the lines
  of the chunks decoded before the bad byte (an import line there has run): line
  iteration decodes 8,192-byte chunks, and yields a line only once the chunk holding its
  end has decoded. This module reproduces that by iterating an :class:`io.TextIOWrapper`
  over the bytes, which chunks exactly like the file object ``site`` uses. 3.13 and 3.14
  have processed no line of that file (earlier files have run). 3.15 raises while it reads
  the files, so nothing of the batch is applied: no path, no import line, no entry point.
* Line splitting: 3.10-3.12 universal newlines (``\n``, ``\r\n``, ``\r``) only. 3.13+
  ``str.splitlines()``, which also splits on ``\x0b \x0c \x1c \x1d \x1e \x85 \u2028
  \u2029``. Line numbers count those lines from 1.
* Classification, 3.10-3.14, in this order on the raw line: starts with ``#``: comment;
  ``line.strip() == ""``: blank; starts with ``"import "`` or ``"import\t"``: import line,
  passed to ``exec()`` as it is (3.10-3.12 with its ``\n``); anything else: a path line,
  ``line.rstrip()`` joined to the site directory. So ``"  import x"`` and ``" # x"`` are
  path lines.
* Classification, 3.15: every line is ``strip()``-ed first; empty: blank; starts with
  ``#``: comment; starts with ``"import "`` or ``"import\t"``: import line, the stripped
  line is exec'd; anything else: path line, the stripped line is joined.
* A path is appended to ``sys.path`` (absolute, normalised) only if it exists and is not
  there yet; 3.15 reports a missing one on stderr.
* Errors, 3.10-3.14: lines are processed in order, an import line runs before the next
  line is read, and the first exception in a line (``except Exception``) is reported and
  the rest of the file is ignored. 3.15 (PEP 829): ``site.main()`` reads every ``.pth``
  and ``.start`` file of every site directory first, then appends all path lines, then
  runs the import lines of each ``.pth`` in order (an exception is reported and the next
  line runs), then calls the ``.start`` entry points.
* 3.15 still runs import lines (deprecated). CPython plans to ignore them silently in 3.18
  and 3.19 and with a warning from 3.20; this module reports them as ``import`` lines for
  every version from 3.15 on, which errs towards reporting code that may run.
* 3.15: the import lines of ``<name>.pth`` do not run at all when ``<name>.start`` in the
  same directory was read, even if it is empty or holds only comments. A ``.start`` that
  is not UTF-8 is skipped entirely (no locale fallback) and does *not* suppress its
  ``.pth``. That depends on another file, so :func:`executable_lines` does not apply it.
* Import lines run via ``exec(line)`` with ``site``'s globals and the locals of the
  reading function (``sitedir``, ``fullname``...): the source is arbitrary Python that
  merely begins with ``import``.

``.start`` files (3.15, PEP 829)
--------------------------------

Decoded as ``utf-8-sig`` (strict; an undecodable file is skipped), split with
``str.splitlines()``; each line is stripped; empty lines and lines starting with ``#`` are
ignored; every other line is an entry point, resolved at call time with
``pkgutil.resolve_name(entry, strict=True)``, which accepts only ``pkg.mod:attr.path``
(each part a run of ``\w`` not starting with a digit), and called with no arguments. A
malformed or failing entry is reported on stderr and the next one is tried. Resolving
imports the module, which runs its body before the callable is even looked up.
"""

from __future__ import annotations

import io
import os.path
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "PthLine",
    "PthLineKind",
    "PthReading",
    "StartEntry",
    "abandons_file_on_error",
    "decode_pth",
    "decode_start",
    "exec_source",
    "executable_lines",
    "is_skipped_name",
    "joined_paths",
    "parse_pth",
    "parse_start",
    "path_entry",
    "read_pth",
]

PthLineKind = Literal["blank", "comment", "import", "path"]

_OLDEST = (3, 10)
_WHOLE_FILE_DECODE = (3, 13)  # utf-8-sig + fallback, str.splitlines(), dot-files skipped
_PEP_829 = (3, 15)  # stripped lines, .start files, phases, errors do not abandon a file
_IMPORT_PREFIXES = ("import ", "import\t")

# pkgutil.resolve_name(name, strict=True) in 3.15, with ``$`` spelled ``\Z``: the two differ
# only before a final newline, and a stripped line has none.
_DOTTED_WORDS = r"(?!\d)(\w+)(\.(?!\d)(\w+))*"
_STRICT_ENTRY_POINT_RE = re.compile(
    f"(?P<pkg>{_DOTTED_WORDS})(?P<cln>:(?P<obj>{_DOTTED_WORDS}))\\Z", re.UNICODE
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PthLine:
    """One line of a ``.pth`` file as a given CPython version sees it."""

    #: 1-based, as CPython counts in its error messages.
    number: int
    #: The decoded line without its line ending (not stripped).
    text: str
    kind: PthLineKind


@dataclass(frozen=True, slots=True, kw_only=True)
class PthReading:
    """What ``site`` reaches in a ``.pth`` file, and whether decoding it fails."""

    #: The lines ``site`` processes, in order (all of them unless decoding fails part way).
    lines: tuple[PthLine, ...]
    #: The ``UnicodeDecodeError`` that escapes ``site`` after ``lines``, or ``None``.
    decode_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StartEntry:
    """One entry point of a PEP 829 ``.start`` file."""

    #: 1-based line number (lines as split by ``str.splitlines()``).
    number: int
    #: The stripped line: exactly the string passed to ``pkgutil.resolve_name``.
    text: str
    #: ``pkg.mod`` when ``text`` has the strict ``pkg.mod:attr`` form, else ``None``.
    module: str | None
    #: The attribute path after the colon (``func`` or ``Class.method``), else ``None``.
    attribute: str | None

    @property
    def valid(self) -> bool:
        """Whether ``pkgutil.resolve_name(text, strict=True)`` accepts the syntax."""
        return self.module is not None


def _minor(version: tuple[int, int]) -> tuple[int, int]:
    major_minor = (int(version[0]), int(version[1]))
    if major_minor[0] != 3 or major_minor < _OLDEST:
        raise ValueError(f"pthguard models CPython 3.10 and later, not {version!r}")
    return major_minor


def decode_pth(data: bytes, version: tuple[int, int], *, locale_encoding: str = "utf-8") -> str:
    """The text that ``version``'s ``site`` reads from a ``.pth`` file's bytes.

    Before 3.13 this is what ``TextIOWrapper(..., encoding=locale_encoding).read()`` returns
    (no BOM removal, ``\\r\\n`` and ``\\r`` already turned into ``\\n``); from 3.13 it is
    ``data.decode("utf-8-sig")``, or ``data.decode(locale_encoding)`` if that fails.
    Raises :class:`UnicodeDecodeError` where that version's ``site`` does (it does not catch
    it), and :class:`LookupError` for an unknown ``locale_encoding``.
    """
    if _minor(version) < _WHOLE_FILE_DECODE:
        return io.TextIOWrapper(io.BytesIO(data), encoding=locale_encoding).read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode(locale_encoding)


def read_pth(
    data: bytes, version: tuple[int, int], *, locale_encoding: str = "utf-8"
) -> PthReading:
    """Classify the lines ``version``'s ``site`` reaches, and report a decoding failure.

    Never raises for any bytes (only :class:`ValueError` for an unsupported ``version`` and
    :class:`LookupError` for an unknown ``locale_encoding``).
    """
    minor = _minor(version)
    texts: list[str] = []
    error: str | None = None
    if minor < _WHOLE_FILE_DECODE:
        wrapper = io.TextIOWrapper(io.BytesIO(data), encoding=locale_encoding)
        try:
            texts.extend(line.removesuffix("\n") for line in wrapper)
        except UnicodeError as exc:
            error = str(exc)
    else:
        try:
            texts = decode_pth(data, minor, locale_encoding=locale_encoding).splitlines()
        except UnicodeError as exc:
            error = str(exc)
    lines = tuple(
        PthLine(number=number, text=text, kind=_classify(text, minor))
        for number, text in enumerate(texts, 1)
    )
    return PthReading(lines=lines, decode_error=error)


def parse_pth(
    data: bytes, version: tuple[int, int], *, locale_encoding: str = "utf-8"
) -> tuple[PthLine, ...]:
    """Every line ``version``'s ``site`` reaches in a ``.pth`` file, classified.

    Never raises for any bytes. If the file cannot be decoded, the result holds the lines
    ``site`` acts on before the ``UnicodeDecodeError`` (none from 3.13); use
    :func:`read_pth` to learn about the error.
    """
    return read_pth(data, version, locale_encoding=locale_encoding).lines


def executable_lines(
    data: bytes, version: tuple[int, int], *, locale_encoding: str = "utf-8"
) -> tuple[PthLine, ...]:
    """The ``import`` lines: the ones ``site`` passes to ``exec()``.

    Each runs only if every earlier import line of the file succeeded (before 3.15, see
    :func:`abandons_file_on_error`) and, from 3.15, only if no ``.start`` file of the same
    name was read.
    """
    lines = parse_pth(data, version, locale_encoding=locale_encoding)
    return tuple(line for line in lines if line.kind == "import")


def exec_source(line: PthLine, version: tuple[int, int]) -> str:
    """The source ``site`` passes to ``exec()`` for an import line.

    Before 3.13 CPython also passes the line's ``\\n`` when it has one; a trailing newline
    changes nothing ``exec()`` does, so it is left out here.
    """
    if line.kind != "import":
        raise ValueError(f"line {line.number} is a {line.kind} line, not an import line")
    return line.text.strip() if _minor(version) >= _PEP_829 else line.text


def path_entry(line: PthLine, version: tuple[int, int]) -> str:
    """The string ``site`` joins to the site directory for a path line.

    The result is appended to ``sys.path`` (made absolute and normalised) only if it exists
    and is not there yet.
    """
    if line.kind != "path":
        raise ValueError(f"line {line.number} is a {line.kind} line, not a path line")
    return line.text.strip() if _minor(version) >= _PEP_829 else line.text.rstrip()


def joined_paths(lines: Sequence[PthLine], sitedir: str, version: tuple[int, int]) -> list[str]:
    """What ``site`` joins to ``sitedir`` for each path line (normalised, in order). ``site``
    appends a result to ``sys.path`` only if it exists and is not there yet: the caller,
    which may look at the file system, checks that."""
    return [
        os.path.normpath(os.path.join(sitedir, path_entry(line, version)))
        for line in lines
        if line.kind == "path"
    ]


def abandons_file_on_error(version: tuple[int, int]) -> bool:
    """Whether an exception in one line makes ``site`` ignore the rest of the file."""
    return _minor(version) < _PEP_829


def is_skipped_name(name: str, version: tuple[int, int]) -> bool:
    """Whether ``site`` ignores a directory entry of this name when it lists a site dir.

    ``site`` reads ``*.pth`` files, and from 3.15 ``*.start`` files; from 3.13 it skips names
    that start with ``.``. Files with the hidden flag are skipped too (3.13+), but the flag
    is a ``stat`` property that a name cannot show: check it separately.
    """
    minor = _minor(version)
    if minor >= _WHOLE_FILE_DECODE and name.startswith("."):
        return True
    if name.endswith(".pth"):
        return False
    return not (minor >= _PEP_829 and name.endswith(".start"))


def _classify(text: str, minor: tuple[int, int]) -> PthLineKind:
    if minor >= _PEP_829:
        stripped = text.strip()
        if not stripped:
            return "blank"
        if stripped.startswith("#"):
            return "comment"
        return "import" if stripped.startswith(_IMPORT_PREFIXES) else "path"
    if text.startswith("#"):
        return "comment"
    if not text.strip():
        return "blank"
    return "import" if text.startswith(_IMPORT_PREFIXES) else "path"


def decode_start(data: bytes) -> str:
    """The text of a ``.start`` file: ``utf-8-sig``, strict, with no locale fallback.

    Raises :class:`UnicodeDecodeError` when 3.15 would skip the file.
    """
    return data.decode("utf-8-sig")


def parse_start(data: bytes) -> tuple[StartEntry, ...]:
    """The entry points of a PEP 829 ``.start`` file, as 3.15 reads them.

    Blank and comment lines are left out, as CPython does. Raises
    :class:`UnicodeDecodeError` when the file is not UTF-8: 3.15 then ignores the file
    entirely, and it does not suppress the import lines of the ``.pth`` of the same name
    (an empty ``.start`` does).
    """
    entries: list[StartEntry] = []
    for number, line in enumerate(decode_start(data).splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = _STRICT_ENTRY_POINT_RE.match(text)
        entries.append(
            StartEntry(
                number=number,
                text=text,
                module=match["pkg"] if match else None,
                attribute=match["obj"] if match else None,
            )
        )
    return tuple(entries)
