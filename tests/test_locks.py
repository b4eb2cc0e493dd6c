"""Our own hash-pinned locks: what pthguard needs at run time is pinned at the same version in
the development lock (the suite tests what users install)."""

from __future__ import annotations

import re
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ \\]+)", re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    text = (REQUIREMENTS / name).read_text(encoding="utf-8")
    return {m.group(1).lower(): m.group(2) for m in _PIN.finditer(text)}


def test_runtime_pins_are_the_development_pins() -> None:
    runtime, dev = pins("runtime.lock"), pins("dev.lock")
    assert runtime, "runtime.lock pins nothing"
    assert {n: v for n, v in runtime.items() if dev.get(n) != v} == {}


def test_every_pin_has_a_hash() -> None:
    for name in ("runtime.lock", "dev.lock"):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", (REQUIREMENTS / name).read_text(encoding="utf-8"))
        for block in blocks:
            if _PIN.match(block):
                assert "--hash=sha256:" in block, f"{name}: {block.splitlines()[0]}"
