"""Property tests of pthguard.formats.record."""

from __future__ import annotations

import contextlib
import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from pthguard.errors import RecordError
from pthguard.formats.record import (
    RecordRow,
    _parse_fields,
    _plain_row,
    hex_to_record_hash,
    parse_record,
    parse_record_lenient,
    record_hash_to_hex,
)

HEX_DIGESTS = st.binary(min_size=32, max_size=32).map(bytes.hex)
# Text that looks like RECORD rows often enough to reach every check.
FIELD_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "a.py", "/abs", "../bin/x", "sha256=", "md5=x", "0", "-1", '"', ","]),
    HEX_DIGESTS.map(hex_to_record_hash),
)
LINES = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.lists(FIELD_TEXT, max_size=4).map(",".join),
    ).map(lambda line: line + "\n"),
    max_size=12,
)
# Paths an installer could write: non-empty, relative, no NUL or line break.
PATHS = st.text(min_size=1, max_size=30).filter(
    lambda p: (
        not p.startswith(("/", "\\"))
        and not (len(p) >= 2 and p[1] == ":" and p[0].isascii() and p[0].isalpha())
        and not any(c in p for c in "\0\n\r")
        and p.strip() != ""
    )
)
ROWS = st.lists(
    st.builds(
        RecordRow,
        path=PATHS,
        sha256=st.none() | HEX_DIGESTS,
        size=st.none() | st.integers(min_value=0, max_value=2**63),
    ),
    max_size=10,
    unique_by=lambda row: row.path,
)


@given(LINES)
def test_parse_record_raises_only_record_error(lines: list[str]) -> None:
    problems: list[str] = []
    try:
        rows = parse_record(lines)
    except RecordError as exc:
        problems = exc.problems
    else:
        assert parse_record_lenient(lines) == (rows, [])
        return
    assert problems
    assert all(problem.startswith("row ") for problem in problems)
    assert parse_record_lenient(lines)[1] == problems


@given(st.text(max_size=200))
def test_parse_record_of_any_text_raises_only_record_error(text: str) -> None:
    with contextlib.suppress(RecordError):
        parse_record(text)


@given(LINES)
def test_lenient_rows_are_a_clean_subset(lines: list[str]) -> None:
    rows, problems = parse_record_lenient(lines)
    assert len({row.path for row in rows}) == len(rows)
    if not problems:
        assert parse_record(lines) == rows
    for row in rows:
        assert row.path
        assert row.size is None or row.size >= 0
        assert row.sha256 is None or len(row.sha256) == 64


@given(ROWS)
def test_rows_written_by_csv_writer_parse_back(rows: list[RecordRow]) -> None:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(
            [
                row.path,
                "" if row.sha256 is None else hex_to_record_hash(row.sha256),
                "" if row.size is None else str(row.size),
            ]
        )
    assert parse_record(out.getvalue()) == tuple(rows)


@given(HEX_DIGESTS)
def test_hash_round_trip(hexdigest: str) -> None:
    value = hex_to_record_hash(hexdigest)
    assert value.startswith("sha256=")
    assert "=" not in value.removeprefix("sha256=")
    assert record_hash_to_hex(value) == hexdigest
    assert hex_to_record_hash(hexdigest.upper()) == value


@given(st.text(max_size=60))
def test_record_hash_to_hex_raises_only_value_error(value: str) -> None:
    try:
        hexdigest = record_hash_to_hex(value)
    except ValueError:
        pass
    else:
        assert hex_to_record_hash(hexdigest) == value  # one spelling per digest


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/"))
def test_every_accepted_spelling_is_canonical(encoded: str) -> None:
    value = "sha256=" + encoded
    try:
        hexdigest = record_hash_to_hex(value)
    except ValueError:
        return
    assert hex_to_record_hash(hexdigest) == value


# Fields near the form installers write, and one character away from it.
HASH_FIELDS = st.one_of(
    st.just(""),
    HEX_DIGESTS.map(hex_to_record_hash),
    HEX_DIGESTS.map(hex_to_record_hash).map(lambda h: h[:-1] + "B"),  # not canonical
    HEX_DIGESTS.map(hex_to_record_hash).map(lambda h: h + "="),
    HEX_DIGESTS.map(hex_to_record_hash).map(lambda h: "SHA256" + h[6:]),
    st.text(alphabet="sha256=ABCabc-_+/0189", max_size=50),
)
PATH_FIELDS = st.one_of(
    PATHS,
    st.sampled_from(["", "/x", "\\x", "C:x", "c:", "a\0b", "a\nb", "a\rb", "é/ü.py", "1:x"]),
)
SIZE_FIELDS = st.one_of(
    st.just(""), st.integers(min_value=0).map(str), st.sampled_from(["-1", "1.0", "١٢", " 1"])
)


@given(st.lists(st.one_of(PATH_FIELDS, HASH_FIELDS, SIZE_FIELDS), min_size=0, max_size=4))
def test_the_plain_row_reading_is_the_full_reading(fields: list[str]) -> None:
    """A row read on the fast path is exactly the row the full check reads, with no
    problem; every other row goes to the full check."""
    plain = _plain_row(fields)
    if plain is not None:
        assert _parse_fields(fields) == (plain, [])


@given(PATH_FIELDS, HASH_FIELDS, SIZE_FIELDS)
def test_the_plain_row_reading_of_three_fields(path: str, digest: str, size: str) -> None:
    fields = [path, digest, size]
    row, problems = _parse_fields(fields)
    plain = _plain_row(fields)
    if plain is None:
        return
    assert (row, problems) == (plain, [])
