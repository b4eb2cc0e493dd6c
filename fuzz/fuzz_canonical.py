"""Canonical JSON: ``loads`` raises only CanonicalJSONError; what it accepts canonicalises to
a fixed point."""

from __future__ import annotations

import atheris
from _common import run

with atheris.instrument_imports():
    from pthguard.errors import CanonicalJSONError
    from pthguard.manifest.canonical import canonical_bytes, loads


def test_one_input(data: bytes) -> None:
    try:
        value = loads(data)
        once = canonical_bytes(value)
    except CanonicalJSONError:
        return
    if canonical_bytes(loads(once)) != once:
        raise AssertionError("canonical form is not a fixed point")


if __name__ == "__main__":
    run(test_one_input)
