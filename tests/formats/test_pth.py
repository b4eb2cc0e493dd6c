"""Tests of pthguard.formats.pth: per-version expectations, and a differential test that runs each
real interpreter's ``site.addsitedir`` over tricky files and compares with the model."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pthguard.formats import pth as _pth
from pthguard.formats.pth import (
    PthLine,
    StartEntry,
    abandons_file_on_error,
    decode_pth,
    decode_start,
    exec_source,
    executable_lines,
    is_skipped_name,
    parse_pth,
    parse_start,
    path_entry,
    read_pth,
)

LEGACY = [(3, 10), (3, 11), (3, 12)]
SPLITLINES = [(3, 13), (3, 14)]
PEP829 = [(3, 15)]
ALL_VERSIONS = LEGACY + SPLITLINES + PEP829
BOM = b"\xef\xbb\xbf"


def kinds(data: bytes, version: tuple[int, int]) -> list[tuple[str, str]]:
    return [(line.kind, line.text) for line in parse_pth(data, version)]


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_simple_file_is_the_same_everywhere(version: tuple[int, int]) -> None:
    data = b"# a comment\n\nimport os; os.environ\nsome/dir\n"
    assert parse_pth(data, version) == (
        PthLine(number=1, text="# a comment", kind="comment"),
        PthLine(number=2, text="", kind="blank"),
        PthLine(number=3, text="import os; os.environ", kind="import"),
        PthLine(number=4, text="some/dir", kind="path"),
    )


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_import_needs_a_space_or_tab(version: tuple[int, int]) -> None:
    data = b"import\tsys\nimport  sys\nimportsys\nimport\nImport sys\nimport.x\n"
    assert [line.kind for line in parse_pth(data, version)] == [
        "import",
        "import",
        "path",
        "path",
        "path",
        "path",
    ]


@pytest.mark.parametrize("version", LEGACY + SPLITLINES)
def test_leading_whitespace_makes_a_path_line_before_315(version: tuple[int, int]) -> None:
    assert kinds(b"  import sys\n\timport sys\n # comment\n", version) == [
        ("path", "  import sys"),
        ("path", "\timport sys"),
        ("path", " # comment"),
    ]


def test_lines_are_stripped_from_315() -> None:
    lines = parse_pth(b"  import sys  \n\timport\tsys\n # comment\n  dir  \n \t \n", (3, 15))
    assert [(line.kind, line.text) for line in lines] == [
        ("import", "  import sys  "),
        ("import", "\timport\tsys"),
        ("comment", " # comment"),
        ("path", "  dir  "),
        ("blank", " \t "),
    ]
    assert exec_source(lines[0], (3, 15)) == "import sys"
    assert path_entry(lines[3], (3, 15)) == "dir"


def test_import_followed_by_only_whitespace() -> None:
    # "import " is an import line (a SyntaxError when run) up to 3.14; stripped, it is "import".
    assert kinds(b"import \n", (3, 14)) == [("import", "import ")]
    assert kinds(b"import \n", (3, 15)) == [("path", "import ")]


@pytest.mark.parametrize("version", LEGACY + SPLITLINES)
def test_path_entry_is_rstripped_before_315(version: tuple[int, int]) -> None:
    (line,) = parse_pth(b" dir \t\n", version)
    assert path_entry(line, version) == " dir"


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_exec_source_is_the_line(version: tuple[int, int]) -> None:
    (line,) = executable_lines(b"import sys; print(1)  \n", version)
    expected = "import sys; print(1)" if version >= (3, 15) else "import sys; print(1)  "
    assert exec_source(line, version) == expected


def test_exec_source_and_path_entry_reject_other_kinds() -> None:
    comment = PthLine(number=1, text="# x", kind="comment")
    with pytest.raises(ValueError, match="comment line"):
        exec_source(comment, (3, 12))
    with pytest.raises(ValueError, match="comment line"):
        path_entry(comment, (3, 12))


# -- line splitting --------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_crlf_and_cr_are_line_endings_everywhere(version: tuple[int, int]) -> None:
    assert kinds(b"import a\r\nb\rc\n", version) == [
        ("import", "import a"),
        ("path", "b"),
        ("path", "c"),
    ]


@pytest.mark.parametrize("separator", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028"])
def test_splitlines_separators_split_from_313(separator: str) -> None:
    data = f"import a{separator}import b\n".encode()
    for version in LEGACY:
        assert kinds(data, version) == [("import", f"import a{separator}import b")]
    for version in SPLITLINES + PEP829:
        assert kinds(data, version) == [("import", "import a"), ("import", "import b")]


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_unit_separator_is_whitespace_not_a_line_break(version: tuple[int, int]) -> None:
    # \x1f is str.isspace() but not a str.splitlines() boundary.
    (line,) = parse_pth(b"dir\x1f\n", version)
    assert path_entry(line, version) == "dir"


def test_formfeed_hides_an_import_line_before_313() -> None:
    data = b"some/dir\x0cimport evil\n"
    assert executable_lines(data, (3, 12)) == ()
    assert [line.text for line in executable_lines(data, (3, 13))] == ["import evil"]


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_line_numbers_count_every_line(version: tuple[int, int]) -> None:
    lines = parse_pth(b"#\n\n\nimport x\n", version)
    assert [line.number for line in lines] == [1, 2, 3, 4]
    assert executable_lines(b"#\n\n\nimport x\n", version)[0].number == 4


def test_line_numbers_follow_formfeed_splitting() -> None:
    data = b"a\x0cb\nimport x\n"
    assert executable_lines(data, (3, 12))[0].number == 2
    assert executable_lines(data, (3, 13))[0].number == 3


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_empty_file(version: tuple[int, int]) -> None:
    assert read_pth(b"", version).lines == ()
    assert read_pth(b"", version).decode_error is None


# -- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", LEGACY)
def test_bom_is_kept_before_313(version: tuple[int, int]) -> None:
    assert decode_pth(BOM + b"import x\n", version) == "\ufeffimport x\n"
    assert kinds(BOM + b"import x\n", version) == [("path", "\ufeffimport x")]
    assert kinds(BOM + b"# comment\n", version) == [("path", "\ufeff# comment")]


@pytest.mark.parametrize("version", SPLITLINES + PEP829)
def test_one_bom_is_removed_from_313(version: tuple[int, int]) -> None:
    assert decode_pth(BOM + b"import x\n", version) == "import x\n"
    assert kinds(BOM + b"import x\n", version) == [("import", "import x")]
    assert kinds(BOM + BOM + b"import x\n", version) == [("path", "\ufeffimport x")]


def test_legacy_decoding_translates_newlines() -> None:
    assert decode_pth(b"a\r\nb\rc", (3, 12)) == "a\nb\nc"
    assert decode_pth(b"a\r\nb\rc", (3, 13)) == "a\r\nb\rc"


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_invalid_utf8_raises_with_a_utf8_locale(version: tuple[int, int]) -> None:
    data = b"import x\n# caf\xe9\n"
    with pytest.raises(UnicodeDecodeError):
        decode_pth(data, version)
    reading = read_pth(data, version)
    assert reading.lines == ()
    assert reading.decode_error is not None
    assert "utf-8" in reading.decode_error


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_latin1_locale_fallback(version: tuple[int, int]) -> None:
    data = b"import x # caf\xe9\n"
    assert decode_pth(data, version, locale_encoding="latin-1") == "import x # caf\xe9\n"
    (line,) = executable_lines(data, version, locale_encoding="latin-1")
    assert line.text == "import x # caf\xe9"


def test_ascii_locale_rejects_utf8_only_before_313() -> None:
    data = "import x # café\n".encode()
    for version in LEGACY:
        assert read_pth(data, version, locale_encoding="ascii").decode_error is not None
    for version in SPLITLINES + PEP829:
        reading = read_pth(data, version, locale_encoding="ascii")
        assert reading.decode_error is None
        assert reading.lines[0].text == "import x # café"


def test_utf8_wins_over_the_locale_from_313() -> None:
    data = "d\u00e9j\u00e0\n".encode()
    assert decode_pth(data, (3, 12), locale_encoding="latin-1") == "d\xc3\xa9j\xc3\xa0\n"
    assert decode_pth(data, (3, 13), locale_encoding="latin-1") == "d\u00e9j\u00e0\n"


def test_lines_of_earlier_chunks_are_reached_before_a_late_decoding_error() -> None:
    data = b"import early\n" + b"#" * 9000 + b"\n# \xff\nimport late\n"
    for version in LEGACY:
        reading = read_pth(data, version)
        assert [line.text for line in reading.lines] == ["import early"]
        assert reading.decode_error is not None
    for version in SPLITLINES + PEP829:
        reading = read_pth(data, version)
        assert reading.lines == ()
        assert reading.decode_error is not None


def test_a_bad_byte_in_the_first_chunk_stops_everything() -> None:
    data = b"import early\n" + b"#" * 100 + b"\n# \xff\n"
    assert read_pth(data, (3, 10)).lines == ()


def test_decoding_goes_by_8k_chunks_before_313() -> None:
    # Complete lines of a chunk are reached only if the whole chunk decodes; a character
    # split between two chunks is fine.
    data = _chunks_case()
    for version in LEGACY:
        reading = read_pth(data, version)
        imports = [line.text for line in reading.lines if line.kind == "import"]
        assert imports == ["import sys #r1", "import sys #r2"]
        assert reading.decode_error is not None
    assert read_pth(data, (3, 13)).lines == ()


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match=r"3\.10 and later"):
        parse_pth(b"", (3, 9))
    with pytest.raises(ValueError, match=r"3\.10 and later"):
        parse_pth(b"", (2, 7))


def test_later_versions_use_315_rules() -> None:
    assert kinds(b"  import x\n", (3, 16)) == [("import", "  import x")]


def test_unknown_locale_encoding() -> None:
    with pytest.raises(LookupError):
        parse_pth(b"x", (3, 12), locale_encoding="no-such-codec")


# -- errors and names ------------------------------------------------------------------------


def test_abandons_file_on_error() -> None:
    assert [abandons_file_on_error(v) for v in ALL_VERSIONS] == [True] * 5 + [False]


@pytest.mark.parametrize(
    ("name", "skipped_310_312", "skipped_313_314", "skipped_315"),
    [
        ("a.pth", False, False, False),
        (".hidden.pth", False, True, True),
        (".pth", False, True, True),
        ("a.PTH", True, True, True),
        ("a.pth.bak", True, True, True),
        ("a.start", True, True, False),
        (".a.start", True, True, True),
        ("a.START", True, True, True),
        ("!a.pth", False, False, False),
        ("sitecustomize.py", True, True, True),
    ],
)
def test_is_skipped_name(
    name: str, skipped_310_312: bool, skipped_313_314: bool, skipped_315: bool
) -> None:
    for version in LEGACY:
        assert is_skipped_name(name, version) is skipped_310_312
    for version in SPLITLINES:
        assert is_skipped_name(name, version) is skipped_313_314
    assert is_skipped_name(name, (3, 15)) is skipped_315


# -- .start files ----------------------------------------------------------------------------


def test_parse_start() -> None:
    data = BOM + b"# comment\n\n  pkg.mod:main  \r\n\tpkg:Class.method\x0cbad entry\npkg.mod\n"
    assert parse_start(data) == (
        StartEntry(number=3, text="pkg.mod:main", module="pkg.mod", attribute="main"),
        StartEntry(number=4, text="pkg:Class.method", module="pkg", attribute="Class.method"),
        StartEntry(number=5, text="bad entry", module=None, attribute=None),
        StartEntry(number=6, text="pkg.mod", module=None, attribute=None),
    )


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("a:b", True),
        ("a.b.c:d.e", True),
        ("_a1:_b2", True),
        ("\u00e9t\u00e9:f", True),
        ("a:", False),
        (":b", False),
        ("a", False),
        ("a.b", False),
        ("1a:b", False),
        ("a:1b", False),
        ("a.1b:c", False),
        ("a:b:c", False),
        ("a-b:c", False),
        ("a :b", False),
        ("a:b()", False),
        ("a..b:c", False),
    ],
)
def test_start_entry_syntax(text: str, valid: bool) -> None:
    (entry,) = parse_start(text.encode())
    assert entry.valid is valid


def test_start_only_accepts_utf8() -> None:
    with pytest.raises(UnicodeDecodeError):
        parse_start(b"a:b\n\xff\n")
    with pytest.raises(UnicodeDecodeError):
        decode_start(b"\xe9")
    assert parse_start(b"") == ()
    assert parse_start(b"# only a comment\n") == ()


# -- differential test against real interpreters ----------------------------------------------

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
SID_ROOT = Path("/opt/sid-pythons")
MISSING_MODULE = "_pthguard_no_such_module_"


@dataclass(frozen=True, slots=True, kw_only=True)
class Interpreter:
    argv: tuple[str, ...]
    #: Where the interpreter's "/" is on the host: "/" or the chroot.
    root: Path

    def inside(self, host_path: Path) -> str:
        if self.root == Path("/"):
            return str(host_path)
        return "/" + str(host_path.relative_to(self.root))


def _find_interpreter(minor: str) -> Interpreter:
    if minor in {"3.14", "3.15"}:
        exe = SID_ROOT / "usr" / "bin" / f"python{minor}"
        chroot = shutil.which("chroot") or "/usr/sbin/chroot"
        if not exe.exists():
            pytest.skip(f"no Python {minor} in {SID_ROOT}")
        if os.geteuid() != 0 or not Path(chroot).exists():
            pytest.skip(f"running Python {minor} needs chroot as root")
        return Interpreter(argv=(chroot, str(SID_ROOT), f"/usr/bin/python{minor}"), root=SID_ROOT)
    for candidate in sorted(glob.glob(str(PYENV_VERSIONS / "3.1*" / "bin" / "python3"))):
        if Path(candidate).parent.parent.name.startswith(f"{minor}."):
            return Interpreter(argv=(candidate,), root=Path("/"))
    pytest.skip(f"no pyenv Python {minor} under {PYENV_VERSIONS}")


RUNNER = r"""
import builtins, json, os, sys
import site

config = json.load(open(sys.argv[1]))
real_exec = builtins.exec
calls = []
resolved = []


def spy_exec(source, globals=None, locals=None, /):
    frame = sys._getframe(1)
    if frame.f_globals.get("__name__") == "site":  # not importlib executing a module
        calls.append(source)
    if globals is None:
        globals, locals = frame.f_globals, frame.f_locals
    return real_exec(source, globals, locals)


if hasattr(site, "StartupState"):
    import pkgutil

    real_resolve = pkgutil.resolve_name

    def spy_resolve(name, *, strict=False):
        try:
            found = real_resolve(name, strict=strict)
        except Exception as exc:
            resolved.append([name, strict, type(exc).__name__])
            raise
        resolved.append([name, strict, None])
        return found

    pkgutil.resolve_name = spy_resolve

results = {"version": list(sys.version_info[:2]), "cases": {}}
for case, sitedir in config.items():
    del calls[:], resolved[:]
    before = list(sys.path)
    builtins.exec = spy_exec
    try:
        site.addsitedir(sitedir)
        error = None
    except Exception as exc:
        error = type(exc).__name__
    finally:
        builtins.exec = real_exec
    added = [os.path.relpath(p, sitedir) for p in sys.path if p not in before]
    sys.path[:] = before
    results["cases"][case] = {
        "exec": list(calls), "added": added, "error": error, "resolved": list(resolved)
    }
sys.stdout.write(json.dumps(results, ensure_ascii=True))
"""


def _chunks_case() -> bytes:
    """``site`` (3.10-3.12) decodes 8,192-byte chunks: r1 and r2 run, r3 does not."""
    data = (
        b"import sys #r1\n"
        + ("# " + "\u00e9" * 4100 + "\n").encode()  # a two-byte character spans 8192
        + b"import sys #r2\n"
        + b"#" * 8000
        + b"\n"
        + b"#" * 200
        + b"\nimport sys #r3\n\xff\nimport sys #r4\n"
    )
    assert 8192 < data.index(b"#r2") < 16384 < data.index(b"#r3") < data.index(b"\xff")
    return data


# Each case is a site directory: file name -> bytes.
ONE_FILE_CASES: dict[str, bytes] = {
    "crlf": b"import sys #crlf-1\r\nd1\r\n# comment\r\n\r\n  \r\nimport\tsys #crlf-2\r\n",
    "cr": b"import sys #cr-1\rd1\rimport sys #cr-2",
    "formfeed": b"import sys #ff-1\x0cimport sys #ff-2\nd1\x0cd2\n\x0cimport sys #ff-3\n",
    "separators": (
        b"d1\x0bd2\nd3\x1cd4\x1dd5\x1ed6\ne1\xc2\x85e2\ne3\xe2\x80\xa8e4\xe2\x80\xa9e5\n"
        b"import sys #sep-1\x0bimport sys #sep-2\n"
    ),
    "bom_import": BOM + b"import sys #bom\nd1\n",
    "bom_comment": BOM + b"# comment\nimport sys #after-bom\n",
    "bom_path": BOM + b"d1\n",
    "double_bom": BOM + BOM + b"import sys #bom2\n",
    "leading_ws": b"  import sys #lead-space\n\timport sys #lead-tab\n d1\n\x0cimport sys #ff\n",
    "import_variants": (
        b"import\tsys #tab\nimport  sys #two\nimportsys\nimport\nimport \nImport sys\n"
        b"import\x0bsys\nd1\n"
    ),
    "comments": b"#import sys #c1\n # indented\n\t#tab\n#\nd1 # not a comment\n",
    "trailing_ws": b"d1   \t\nimport sys #tw   \t\nd2\x1f\n",
    "abandon": b"import sys #ab-1\nimport " + MISSING_MODULE.encode() + b" #ab-2\n"
    b"import sys #ab-3\nd1\n",
    "syntax_error": b"d1\nimport sys sys\nd2\n",
    "nul": b"d1\nimport sys #nul\x00\nd2\n",
    "no_final_newline": b"d1\nimport sys #last",
    "empty": b"",
    "only_blank": b"\n\n  \n\t\n",
    "dup_paths": b"d1\nd1/\n./d1\nd2\nd1\n",
    "nonutf8_early": b"import sys #early\n# caf\xe9\nd1\n",
    "nonutf8_late": b"import sys #early\nd1\n" + b"#" * 9000 + b"\n# \xff\nimport sys #late\nd2\n",
    "nonutf8_chunks": _chunks_case(),
    "nonutf8_after_abandon": b"import "
    + MISSING_MODULE.encode()
    + b"\n"
    + b"#" * 9000
    + b"\n\xff\n",
    "encoded_surrogate": b"import sys #s\n# \xed\xa0\x80\n",
    "utf8_nonascii": "# caf\u00e9\nimport sys #\u00fc\nd1\n".encode(),
    "cr_lf_across_chunks": b"#" * 8191 + b"\r\nimport sys #boundary\nd1\n",
}
ENCODING_CASES = [
    "crlf",
    "bom_import",
    "nonutf8_early",
    "nonutf8_late",
    "utf8_nonascii",
    "nonutf8_after_abandon",
]
MULTI_FILE_CASES: dict[str, dict[str, bytes]] = {
    "names": {
        "a.pth": b"import sys #a\n",
        ".hidden.pth": b"import sys #hidden\n",
        "B.PTH": b"import sys #upper\n",
        "c.pth.txt": b"import sys #txt\n",
        "!first.pth": b"import sys #bang\n",
        "e.pth": b"import " + MISSING_MODULE.encode() + b" #e1\nimport sys #e2\n",
        "f.pth": b"import sys #f\n",
        "g.start": b"os:getpid\n",
        ".hidden.start": b"os:getcwd\n",
        "h.START": b"os:getcwd\n",
    },
    "start": {
        "w.pth": b"import sys #w-suppressed-from-315\n",
        "w.start": b"# only a comment\n",
        "x.pth": b"import sys #x-suppressed-from-315\nd1\n",
        "x.start": BOM
        + b"# entry points\n\n  os:getpid  \nbad entry\nos.path\n"
        + MISSING_MODULE.encode()
        + b":f\nsys:getdefaultencoding\r\nos:path.join?\n"
        + "\u00e9t\u00e9:f\na:\u00b2\n1a:b\nos :getpid\nos:getpid\x1f\n".encode(),
        "y.pth": b"import sys #y\n",
        "z.pth": b"import sys #z-not-suppressed\n",
        "z.start": b"os:getpid\n\xff\n",
    },
    "late_decode_error": {
        "a.pth": b"import sys #a-before\nd1\n",
        "b.pth": b"import sys #b\n\xff\n",
        "c.pth": b"import sys #c-after\n",
    },
}


def _cases(encoding: str) -> dict[str, dict[str, bytes]]:
    cases = {name: {"t.pth": data} for name, data in ONE_FILE_CASES.items()}
    cases.update(MULTI_FILE_CASES)
    if encoding == "ascii":
        return {name: cases[name] for name in ENCODING_CASES}
    return cases


def _candidate_dirs(files: dict[str, bytes]) -> set[str]:
    """Every path entry any version could join, so that the interpreters find them."""
    names: set[str] = set()
    for data in files.values():
        for version in ALL_VERSIONS:
            for encoding in ("utf-8", "latin-1"):
                for line in parse_pth(data, version, locale_encoding=encoding):
                    if line.kind == "path":
                        names.add(path_entry(line, version))
    return {
        name
        for name in names
        if name not in {".", ".."}
        and not any(c in name for c in "/\0")
        and not name.endswith((".pth", ".start"))
    }


def _compiles(source: str) -> bool:
    try:
        compile(source, "<pth>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def _fails(source: str) -> bool:
    return MISSING_MODULE in source or not _compiles(source)


def _predict(
    sitedir: Path, files: dict[str, bytes], version: tuple[int, int], encoding: str
) -> dict[str, object]:
    """What site.addsitedir(sitedir) does, according to pthguard.formats.pth."""
    names = sorted(name for name in files if not is_skipped_name(name, version))
    pth_names = [name for name in names if name.endswith(".pth")]
    start_names = [name for name in names if name.endswith(".start")]
    execs: list[str] = []
    added: list[str] = ["."]
    seen = {os.path.normpath(sitedir)}
    resolved: list[list[object]] = []

    def add_path(line: PthLine) -> None:
        full = os.path.normpath(os.path.join(sitedir, path_entry(line, version)))
        if full not in seen and os.path.exists(full):
            seen.add(full)
            added.append(os.path.relpath(full, sitedir))

    if version < (3, 15):
        for name in pth_names:
            reading = read_pth(files[name], version, locale_encoding=encoding)
            for line in reading.lines:
                if line.kind == "import":
                    execs.append(exec_source(line, version))
                    if _fails(execs[-1]):
                        assert abandons_file_on_error(version)
                        break
                elif line.kind == "path":
                    add_path(line)
            else:
                if reading.decode_error is not None:
                    return {"exec": execs, "added": added, "error": "UnicodeDecodeError"}
        return {"exec": execs, "added": added, "error": None, "resolved": resolved}

    imports: dict[str, list[PthLine]] = {}
    for name in pth_names:
        reading = read_pth(files[name], version, locale_encoding=encoding)
        if reading.decode_error is not None:
            return {"exec": [], "added": [], "error": "UnicodeDecodeError", "resolved": []}
        for line in reading.lines:
            if line.kind == "import":
                imports.setdefault(name, []).append(line)
            elif line.kind == "path":
                add_path(line)
    starts: dict[str, tuple[StartEntry, ...]] = {}
    for name in start_names:
        try:
            starts[name] = parse_start(files[name])
        except UnicodeDecodeError:
            continue
    for name, lines in imports.items():
        if name.removesuffix(".pth") + ".start" not in starts:
            execs.extend(exec_source(line, version) for line in lines)
    for entries in starts.values():
        for entry in entries:
            outcome = None
            if not entry.valid:
                outcome = "ValueError"
            elif entry.module not in {"os", "sys"}:
                outcome = "ModuleNotFoundError"
            resolved.append([entry.text, True, outcome])
    return {"exec": execs, "added": added, "error": None, "resolved": resolved}


@pytest.fixture
def scratch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A directory the interpreter under test can see (inside the chroot for 3.14+)."""
    minor = request.node.callspec.params["minor"]
    if minor in {"3.14", "3.15"} and (SID_ROOT / "tmp").is_dir():
        path = Path(tempfile.mkdtemp(prefix="pthguard-test-", dir=SID_ROOT / "tmp"))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
@pytest.mark.parametrize("minor", ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"])
def test_matches_real_interpreter(minor: str, encoding: str, scratch: Path) -> None:
    interpreter = _find_interpreter(minor)
    version = (3, int(minor.split(".")[1]))
    cases = _cases(encoding)
    config: dict[str, str] = {}
    for case_name, files in cases.items():
        sitedir = scratch / "cases" / case_name
        sitedir.mkdir(parents=True)
        for file_name, data in files.items():
            (sitedir / file_name).write_bytes(data)
        for dir_name in _candidate_dirs(files):
            if encoding == "ascii" and not dir_name.isascii():
                continue
            try:
                (sitedir / dir_name).mkdir()
            except (OSError, UnicodeError):
                continue
        config[case_name] = interpreter.inside(sitedir)
    (scratch / "config.json").write_text(json.dumps(config, ensure_ascii=True))
    (scratch / "runner.py").write_text(RUNNER)

    if encoding == "ascii":
        env, flags = {"LC_ALL": "C"}, ["-X", "utf8=0"]
    else:
        env, flags = {"LC_ALL": "C.UTF-8"}, []
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    proc = subprocess.run(
        [
            *interpreter.argv,
            "-S",
            "-I",
            *flags,
            interpreter.inside(scratch / "runner.py"),
            interpreter.inside(scratch / "config.json"),
        ],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    results = json.loads(proc.stdout)
    assert tuple(results["version"]) == version

    mismatches = []
    for case_name, files in cases.items():
        actual = results["cases"][case_name]
        if version < (3, 13):
            actual["exec"] = [source.removesuffix("\n") for source in actual["exec"]]
        expected = _predict(scratch / "cases" / case_name, files, version, encoding)
        expected.setdefault("resolved", [])
        if actual != expected:
            mismatches.append(f"{case_name}:\n  real:  {actual}\n  model: {expected}")
    assert not mismatches, "\n".join(mismatches)


def test_runner_checks_something() -> None:
    """The differential cases exercise every kind and both decoding outcomes."""
    seen_kinds: set[str] = set()
    errors: set[bool] = set()
    for data in ONE_FILE_CASES.values():
        for version in ALL_VERSIONS:
            reading = read_pth(data, version)
            seen_kinds.update(line.kind for line in reading.lines)
            errors.add(reading.decode_error is None)
    assert seen_kinds == {"blank", "comment", "import", "path"}
    assert errors == {True, False}


@pytest.mark.parametrize(
    ("version", "expected"),
    [((3, 14), ["/site/  lead"]), ((3, 15), ["/site/lead"])],
)
def test_joined_paths_strip_as_each_version_does(
    version: tuple[int, int], expected: list[str]
) -> None:
    """One reading of path lines for snapshot and scan: 3.15 strips both ends (PEP 829),
    older versions only the right end."""
    lines = _pth.parse_pth(b"  lead  \n# comment\n", version)
    assert _pth.joined_paths(lines, "/site", version) == expected
