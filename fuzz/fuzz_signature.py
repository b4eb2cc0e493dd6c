"""Detached signature files (SSHSIG armour or JSON entries) and payloads: only
PthguardError may escape."""

from __future__ import annotations

import contextlib

import atheris
from _common import run

with atheris.instrument_imports():
    from pthguard._detached import read_payload, read_signature_file
    from pthguard._sshsig import parse_allowed_signers, parse_public_key_line
    from pthguard.errors import PthguardError


def test_one_input(data: bytes) -> None:
    for parse in (read_signature_file, read_payload):
        with contextlib.suppress(PthguardError):
            parse(data, "input")
    text = data.decode("utf-8", "surrogateescape")
    for parse_text in (parse_allowed_signers, parse_public_key_line):
        with contextlib.suppress(PthguardError):
            parse_text(text, "input")


if __name__ == "__main__":
    run(test_one_input)
