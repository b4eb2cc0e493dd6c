"""What the ``audit-lock`` tests share: fake digests, writing locks, running the CLI."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

from pthguard.cli.app import main

REPO = Path(__file__).resolve().parents[2]
H1 = "a" * 64
H2 = "b" * 64
MD5 = "c" * 32
SHA1 = "d" * 40
SHA512 = "e" * 128


def audit(*args: str | Path) -> tuple[int, dict[str, Any]]:
    """In-process ``audit-lock ... --format json``: (exit code, report)."""
    out = io.StringIO()
    code = main(["audit-lock", *map(str, args), "--format", "json"], out=out)
    return code, json.loads(out.getvalue())


def findings(doc: dict[str, Any], index: int = 0) -> list[tuple[str, str | None, int | None]]:
    """``(kind, name, line)`` of every finding of lock ``index``."""
    return [(f["kind"], f["name"], f["line"]) for f in doc["locks"][index]["findings"]]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def assert_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pthguard: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
