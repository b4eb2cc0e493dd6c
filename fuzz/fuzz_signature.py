"""Detached signature files (SSHSIG armour or JSON entries) and payloads: only
PthguardError may escape."""

from __future__ import annotations

import contextlib

import atheris
from _common import run

with atheris.instrument_imports():
    from pthguard.errors import PthguardError
    from pthguard.formats.allowed_signers import parse_allowed_signers
    from pthguard.formats.openssh import parse_public_key_line
    from pthguard.manifest.detached import read_payload, read_signature_file


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
