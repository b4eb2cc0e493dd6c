"""Manifest files: ``parse_envelope`` + ``verify`` (only PthguardError may escape; nothing but
a canonically identical ``signed`` may verify). Seed the corpus with the golden manifest."""

from __future__ import annotations

import datetime as dt

import atheris
from _common import GOLDEN, KEY_PUB, run

with atheris.instrument_imports():
    from pthguard.errors import PthguardError
    from pthguard.manifest.canonical import canonical_bytes
    from pthguard.manifest.envelope import parse_envelope, verify
    from pthguard.manifest.keys import load_public_key

TRUSTED = [load_public_key(KEY_PUB)]
NOW = dt.datetime(2026, 3, 24, tzinfo=dt.timezone.utc)
GOLDEN_SIGNED = canonical_bytes(parse_envelope(GOLDEN.read_bytes()).signed)


def test_one_input(data: bytes) -> None:
    try:
        envelope = parse_envelope(data)
        verify(envelope, TRUSTED, NOW)
    except PthguardError:
        return
    if canonical_bytes(envelope.signed) != GOLDEN_SIGNED:
        raise AssertionError("a manifest other than the signed one verifies")


if __name__ == "__main__":
    run(test_one_input)
