"""``.pth``/``.start`` reading for every CPython version, the gate's own line counting
against that model, and the analyzer on the same bytes (nothing may raise)."""

from __future__ import annotations

import contextlib
import types
from unittest import mock

import atheris
from _common import run

with atheris.instrument_imports():
    from pthguard.analysis.analyze import SUPPORTED_VERSIONS, analyze
    from pthguard.formats import pth as _pth
    from pthguard.gate import cold as _gate


def test_one_input(data: bytes) -> None:
    for version in SUPPORTED_VERSIONS:
        reading = _pth.read_pth(data, version)
        if reading.decode_error is not None:
            continue
        fake = types.SimpleNamespace(version_info=(*version, 0, "final", 0))
        with mock.patch.object(_gate, "sys", fake):
            counted = _gate._code_lines(data)
        expected = sum(1 for line in reading.lines if line.kind == "import")
        if counted != expected:
            raise AssertionError(
                f"{version}: gate counts {counted} import lines, site runs {expected}"
            )
    with contextlib.suppress(UnicodeDecodeError):
        _pth.parse_start(data)
    for name in ("x.pth", "x.start", "sitecustomize.py"):
        analyze(name, data)


if __name__ == "__main__":
    run(test_one_input)
