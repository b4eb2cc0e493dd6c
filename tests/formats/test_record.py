"""Tests of pthguard.formats.record: strict RECORD parsing."""

from __future__ import annotations

import base64
import csv
import hashlib
import io

import pytest

from pthguard.errors import PthguardError, RecordError
from pthguard.formats.record import (
    RecordRow,
    hex_to_record_hash,
    parse_record,
    parse_record_lenient,
    read_record,
    record_hash_to_hex,
)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
EMPTY_RECORD_HASH = "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
DIGEST = hashlib.sha256(b"print('hi')\n").hexdigest()


def problems_of(text: str) -> list[str]:
    with pytest.raises(RecordError) as info:
        parse_record(text.splitlines(keepends=True))
    assert isinstance(info.value, PthguardError)
    return info.value.problems


# -- hashes ----------------------------------------------------------------------------------


def test_known_hash() -> None:
    assert record_hash_to_hex(EMPTY_RECORD_HASH) == EMPTY_SHA256
    assert hex_to_record_hash(EMPTY_SHA256) == EMPTY_RECORD_HASH


def test_hex_to_record_hash_matches_what_installers_write() -> None:
    data = b"\xfb\xff" * 100
    digest = hashlib.sha256(data).digest()
    written = "sha256=" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert hex_to_record_hash(digest.hex()) == written
    assert hex_to_record_hash(digest.hex().upper()) == written
    assert record_hash_to_hex(written) == digest.hex()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", "malformed hash"),
        ("md5=1B2M2Y8AsgTpgAmY7PhCfg", "unsupported hash algorithm 'md5'"),
        ("sha1=2jmj7l5rSw0yVb_vlWAYkK_YBwk", "unsupported hash algorithm 'sha1'"),
        ("sha512=" + "A" * 86, "unsupported hash algorithm 'sha512'"),
        ("SHA256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", "unsupported hash algorithm"),
        ("=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", "unsupported hash algorithm ''"),
        ("sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=", "padding"),
        ("sha256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", "not URL-safe base64"),
        ("sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuF", "decodes to 31 bytes"),
        ("sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFUAAA", "decodes to 34 bytes"),
        ("sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFV", "not canonical"),
        ("sha256=", "decodes to 0 bytes"),
        ("sha256=A", "impossible base64 length"),
        ("sha256=47DEQpj8HBSa-_TImW-5JCe uQeRkm5NMpJWZG3hSuFU", "not URL-safe base64"),
        ("sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuF\u00e9", "not URL-safe base64"),
    ],
)
def test_bad_hashes(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        record_hash_to_hex(value)


@pytest.mark.parametrize("value", ["", "abc", "g" * 64, "a" * 63, "a" * 65, " " + "a" * 64])
def test_bad_hex(value: str) -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        hex_to_record_hash(value)


# -- rows ------------------------------------------------------------------------------------


def test_typical_record() -> None:
    text = (
        f"pkg/__init__.py,{EMPTY_RECORD_HASH},0\n"
        f"pkg/mod.py,{hex_to_record_hash(DIGEST)},12\n"
        "pkg/__pycache__/mod.cpython-312.pyc,,\n"
        f"../../../bin/tool,{EMPTY_RECORD_HASH},\n"
        "pkg-1.0.dist-info/INSTALLER,,5\n"
        "pkg-1.0.dist-info/RECORD,,\n"
    )
    assert parse_record(io.StringIO(text, newline="")) == (
        RecordRow(path="pkg/__init__.py", sha256=EMPTY_SHA256, size=0),
        RecordRow(path="pkg/mod.py", sha256=DIGEST, size=12),
        RecordRow(path="pkg/__pycache__/mod.cpython-312.pyc", sha256=None, size=None),
        RecordRow(path="../../../bin/tool", sha256=EMPTY_SHA256, size=None),
        RecordRow(path="pkg-1.0.dist-info/INSTALLER", sha256=None, size=5),
        RecordRow(path="pkg-1.0.dist-info/RECORD", sha256=None, size=None),
    )


def test_a_whole_text_is_accepted() -> None:
    text = f"a.py,{EMPTY_RECORD_HASH},0\r\nb.py,,\r\n"
    assert [row.path for row in parse_record(text)] == ["a.py", "b.py"]


def test_lines_without_endings() -> None:
    assert [row.path for row in parse_record(["a.py,,", "b.py,,"])] == ["a.py", "b.py"]


def test_quoted_fields() -> None:
    text = f'"dir with, comma/a.py",{EMPTY_RECORD_HASH},0\n"quote""d.py",,\n'
    assert [row.path for row in parse_record(text)] == ["dir with, comma/a.py", 'quote"d.py']


def test_a_quote_inside_an_unquoted_field_is_literal() -> None:
    assert parse_record(['a"b,,\n'])[0].path == 'a"b'


def test_round_trip_through_csv_writer() -> None:
    rows = [
        RecordRow(path="a b/c,d.py", sha256=DIGEST, size=3),
        RecordRow(path="x\u00e9\u4e2d.py", sha256=None, size=None),
        RecordRow(path='q"uote', sha256=EMPTY_SHA256, size=0),
    ]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(
            [row.path, hex_to_record_hash(row.sha256) if row.sha256 else "", row.size or ""]
        )
    # size 0 was written as "" by `or`, so compare paths and hashes only.
    parsed = parse_record(out.getvalue())
    assert [(row.path, row.sha256) for row in parsed] == [(row.path, row.sha256) for row in rows]


def test_empty_record() -> None:
    assert parse_record([]) == ()
    assert parse_record("") == ()
    assert parse_record(["\n", "\n"]) == ()


def test_trailing_blank_lines_are_ignored() -> None:
    assert len(parse_record(["a,,\n", "\n", "  \n", "\r\n"])) == 1


def test_blank_line_in_the_middle() -> None:
    assert problems_of("a,,\n\nb,,\n") == ["row 2: blank line"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("a.py,,,", "expected 3 fields (path,hash,size), found 4"),
        ("a.py,", "expected 3 fields (path,hash,size), found 2"),
        ("a.py", "expected 3 fields (path,hash,size), found 1"),
        (",,", "empty path"),
        (f",{EMPTY_RECORD_HASH},0", "empty path"),
        ("/etc/passwd,,", "absolute path '/etc/passwd'"),
        ("\\\\server\\share,,", "absolute path"),
        ("C:/x.py,,", "absolute path"),
        ("c:x.py,,", "absolute path"),
        ("a.py,md5=1B2M2Y8AsgTpgAmY7PhCfg,0", "unsupported hash algorithm 'md5'"),
        ("a.py,sha256=abc,0", "decodes to 2 bytes, expected 32"),
        ("a.py,,-1", "size '-1' is not a non-negative decimal integer"),
        ("a.py,,+1", "size '+1' is not"),
        ("a.py,,1.0", "size '1.0' is not"),
        ("a.py,, 1", "size ' 1' is not"),
        ("a.py,,1_000", "size '1_000' is not"),
        ("a.py,,\u0661", "is not a non-negative decimal integer"),
        ("a.py,,0x10", "is not"),
        ('"a\nb.py",,', "contains a line break"),
        ('"a\rb.py",,', "contains a line break"),
        ('"a"b,,', "malformed CSV"),
    ],
)
def test_bad_rows(line: str, problem: str) -> None:
    (found,) = problems_of(line + "\n")
    assert found.startswith("row 1: ")
    assert problem in found


def test_nul_in_path_is_a_problem() -> None:
    # csv on 3.10 rejects the line, later versions accept it and pthguard rejects the path.
    (found,) = problems_of("a\0b,,\n")
    assert "NUL" in found


def test_every_problem_is_listed_with_its_row() -> None:
    text = (
        "good.py,,\n"
        "/abs,md5=x,-3\n"
        "good.py,,\n"
        "two,fields\n"
        f"ok.py,{EMPTY_RECORD_HASH},0\n"
        '"unterminated,,\n'
    )
    problems = problems_of(text)
    assert problems == [
        "row 2: absolute path '/abs' (RECORD paths are relative to the site dir)",
        "row 2: unsupported hash algorithm 'md5' (only sha256 is accepted)",
        "row 2: size '-3' is not a non-negative decimal integer",
        "row 3: duplicate path 'good.py' (first on row 1)",
        "row 4: expected 3 fields (path,hash,size), found 2",
        "row 6: malformed CSV: unexpected end of data",
    ]


def test_row_numbers_count_lines_of_multiline_rows() -> None:
    problems = problems_of('"a\nb",,\nc,,,\n')
    assert problems[0].startswith("row 1: ")
    assert problems[1] == "row 3: expected 3 fields (path,hash,size), found 4"


def test_error_message_summarises() -> None:
    with pytest.raises(RecordError, match=r"malformed RECORD: row 1: empty path"):
        parse_record([",,\n"])


def test_duplicates_are_exact_matches() -> None:
    rows = parse_record(["a/b.py,,\n", "a/./b.py,,\n", "A/b.py,,\n"])
    assert len(rows) == 3


def test_lenient_keeps_the_good_rows() -> None:
    rows, problems = parse_record_lenient(
        ["a.py,,\n", "/b.py,,\n", "a.py,,1\n", f"c.py,{EMPTY_RECORD_HASH},0\n", "\n"]
    )
    assert rows == (
        RecordRow(path="a.py", sha256=None, size=None),
        RecordRow(path="c.py", sha256=EMPTY_SHA256, size=0),
    )
    assert problems == [
        "row 2: absolute path '/b.py' (RECORD paths are relative to the site dir)",
        "row 3: duplicate path 'a.py' (first on row 1)",
    ]


def test_a_bad_row_does_not_claim_its_path() -> None:
    # The first row is rejected, so the second one with the same path is the one kept.
    rows, problems = parse_record_lenient(["a.py,,x\n", "a.py,,1\n"])
    assert rows == (RecordRow(path="a.py", sha256=None, size=1),)
    assert len(problems) == 1


def test_large_sizes() -> None:
    (row,) = parse_record([f"a.py,,{2**70}\n"])
    assert row.size == 2**70


def test_row_is_frozen() -> None:
    row = RecordRow(path="a", sha256=None, size=None)
    with pytest.raises(AttributeError):
        row.path = "b"  # type: ignore[misc]


def test_read_record_keeps_a_form_feed_inside_a_path() -> None:
    digest = EMPTY_RECORD_HASH
    data = f"pkg/a\x0cb.py,{digest},1\r\npkg/c.py,{digest},1\n".encode()
    rows, problems = read_record(data)
    assert problems == []
    assert [row.path for row in rows] == ["pkg/a\x0cb.py", "pkg/c.py"]


def test_read_record_reports_bytes_that_are_not_utf8_and_loses_no_path() -> None:
    digest = EMPTY_RECORD_HASH
    data = b"pkg/\xff.py," + digest.encode() + b",1\npkg/c.py," + digest.encode() + b",1\n"
    rows, problems = read_record(data)
    assert problems == ["not UTF-8 (invalid start byte at byte 4)"]
    assert [row.path for row in rows] == ["pkg/\udcff.py", "pkg/c.py"]
