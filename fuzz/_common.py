"""Shared set-up of the atheris harnesses: pthguard from this checkout, instrumented."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "fixtures" / "golden" / "manifest-v1.json"
KEY_PUB = ROOT / "tests" / "fixtures" / "keys" / "test-release-1.pub"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def run(test_one_input: Callable[[bytes], None]) -> None:
    """libFuzzer's command line (``-max_total_time=60 CORPUS_DIR``...), then fuzz."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
