"""``audit-lock`` text and JSON: pure functions of the audited locks."""

from __future__ import annotations

import json

from pthguard.findings import Finding
from pthguard.lock.model import Lock, LockedPackage
from pthguard.lock.rules import RULES
from pthguard.render.lock import SCHEMA, finding_line, render_json, render_text

PIN = LockedPackage(
    name="alpha",
    version="1.0",
    arbitrary=False,
    marker=None,
    parsed_marker=None,
    source="pin",
    file="r.txt",
    line=1,
)
CONSTRAINT = LockedPackage(
    name="beta",
    version="2.0",
    arbitrary=False,
    marker="python_version >= '3'",
    parsed_marker=None,
    source="pin",
    file="c.txt",
    line=1,
    constraint=True,
)
NO_HASH = RULES["no-hash"].finding("no --hash", path="r.txt", line=1, subject="alpha")
NOT_LOCKED = RULES["not-locked"].finding("installed", path="environment py", subject="gamma")
CLEAN = Lock(
    path="r.txt", kind="requirements", files=("r.txt", "c.txt"), packages=(PIN, CONSTRAINT)
)
DIRTY = Lock(
    path="pylock.toml", kind="pylock", files=("pylock.toml",), findings=(NO_HASH, NOT_LOCKED)
)


def test_finding_line() -> None:
    assert finding_line(NO_HASH) == "r.txt:1: alpha: no --hash"
    assert finding_line(NOT_LOCKED) == "environment py: gamma: installed"
    assert finding_line(Finding(rule="k", severity="medium", path="f", message="m")) == "f: m"


def test_text() -> None:
    assert render_text([CLEAN, DIRTY], "/venv/bin/python") == (
        "r.txt: 1 package(s) in 2 files, compared with /venv/bin/python: ok\n"
        "pylock.toml: 0 package(s), compared with /venv/bin/python: 2 finding(s)\n"
        "  r.txt:1: alpha: no --hash\n"
        "  environment py: gamma: installed\n"
    )


def test_json() -> None:
    doc = json.loads(render_json([CLEAN, DIRTY], None))
    assert (doc["schema"], doc["ok"], doc["python"]) == (SCHEMA, False, None)
    assert doc["locks"][0] == {
        "path": "r.txt",
        "kind": "requirements",
        "files": ["r.txt", "c.txt"],
        "packages": [
            {
                "name": "alpha",
                "version": "1.0",
                "marker": None,
                "source": "pin",
                "file": "r.txt",
                "line": 1,
                "constraint": False,
            },
            {
                "name": "beta",
                "version": "2.0",
                "marker": "python_version >= '3'",
                "source": "pin",
                "file": "c.txt",
                "line": 1,
                "constraint": True,
            },
        ],
        "findings": [],
    }
    assert doc["locks"][1]["findings"][1] == {
        "kind": "not-locked",
        "file": "environment py",
        "line": None,
        "name": "gamma",
        "message": "installed",
    }
    assert json.loads(render_json([CLEAN], "py"))["ok"] is True
