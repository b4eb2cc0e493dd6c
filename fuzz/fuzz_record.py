"""RECORD files: ``parse_record`` raises only RecordError; its lenient twin never raises and
keeps only clean rows."""

from __future__ import annotations

import atheris
from _common import run

with atheris.instrument_imports():
    from pthguard.errors import RecordError
    from pthguard.formats.record import parse_record, parse_record_lenient


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")  # what the snapshot hands over
    rows, problems = parse_record_lenient(text)
    if len({row.path for row in rows}) != len(rows):
        raise AssertionError("duplicate paths among the clean rows")
    try:
        strict = parse_record(text)
    except RecordError as exc:
        if not problems:
            raise AssertionError("strict parse failed; the lenient one found no problem") from exc
        return
    if strict != rows or problems:
        raise AssertionError("strict and lenient parses disagree")


if __name__ == "__main__":
    run(test_one_input)
