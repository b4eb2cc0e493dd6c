"""Property tests of pthguard.formats.pth."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pthguard.formats.pth import (
    decode_pth,
    exec_source,
    executable_lines,
    parse_pth,
    parse_start,
    path_entry,
    read_pth,
)
from pthguard.gate.cold import _pep829_import_lines

VERSIONS = st.sampled_from([(3, 10), (3, 11), (3, 12), (3, 13), (3, 14), (3, 15)])
ENCODINGS = st.sampled_from(["utf-8", "latin-1", "ascii", "cp1252", "utf-16"])
SPLITLINES_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Bytes that are often valid UTF-8 and full of the characters that matter.
INTERESTING = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "import ",
                "import\t",
                "import",
                "#",
                " ",
                "\t",
                "x",
                "\ufeff",
                "\u00e9",
                *SPLITLINES_BREAKS,
                "\r\n",
                "\x1f",
                "\x00",
            ]
        ),
        max_size=40,
    ).map(lambda parts: "".join(parts).encode()),
    st.text(max_size=100).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=50).map(lambda tail: b"import x\n" + b"#" * 8200 + b"\n" + tail),
)


@given(INTERESTING, VERSIONS, ENCODINGS)
def test_parse_pth_never_raises(data: bytes, version: tuple[int, int], encoding: str) -> None:
    lines = parse_pth(data, version, locale_encoding=encoding)
    assert [line.number for line in lines] == list(range(1, len(lines) + 1))
    for line in lines:
        breaks = SPLITLINES_BREAKS if version >= (3, 13) else "\n\r"
        assert not any(c in line.text for c in breaks)
        if line.kind == "import":
            assert exec_source(line, version).startswith(("import ", "import\t"))
        elif line.kind == "path":
            assert path_entry(line, version).strip()
        elif line.kind == "blank":
            assert not line.text.strip()
        else:
            assert line.text.lstrip().startswith("#")
    assert executable_lines(data, version, locale_encoding=encoding) == tuple(
        line for line in lines if line.kind == "import"
    )


@given(INTERESTING, VERSIONS)
def test_read_pth_agrees_with_decode_pth(data: bytes, version: tuple[int, int]) -> None:
    reading = read_pth(data, version)
    try:
        text = decode_pth(data, version)
    except UnicodeDecodeError:
        assert reading.decode_error is not None
        if version >= (3, 13):
            assert reading.lines == ()
    else:
        assert reading.decode_error is None
        texts = [line.text for line in reading.lines]
        if version >= (3, 13):
            assert texts == text.splitlines()
        else:  # newlines are already translated: iteration splits on "\n" only
            parts = text.split("\n")
            assert texts == (parts[:-1] if parts[-1] == "" else parts)


@given(st.text(max_size=200), VERSIONS)
def test_utf8_text_decodes_to_itself(text: str, version: tuple[int, int]) -> None:
    data = text.encode("utf-8", "surrogatepass")
    try:
        decoded = decode_pth(data, version)
    except UnicodeDecodeError:
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        return
    expected = text.removeprefix("\ufeff") if version >= (3, 13) else text
    if version < (3, 13):
        expected = expected.replace("\r\n", "\n").replace("\r", "\n")
    assert decoded == expected


@given(INTERESTING)
def test_parse_start_raises_only_unicode_decode_error(data: bytes) -> None:
    try:
        entries = parse_start(data)
    except UnicodeDecodeError:
        return
    for entry in entries:
        assert entry.text == entry.text.strip()
        assert entry.text
        assert not entry.text.startswith("#")
        if entry.valid:
            assert entry.text == f"{entry.module}:{entry.attribute}"
        else:
            assert entry.attribute is None


@given(INTERESTING)
def test_the_seals_pep829_import_lines_agree_with_the_model(data: bytes) -> None:
    """The 3.15 gate's own reading of a file's import lines (``cold._pep829_import_lines``)
    is what the model of 3.15's site says it runs, which install precomputes into the seal
    (``pth_imports``), for UTF-8 files."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return  # not precomputed: the gate decodes such a file with the locale's encoding
    modelled = tuple(exec_source(line, (3, 15)) for line in executable_lines(data, (3, 15)))
    assert _pep829_import_lines(text) == modelled
