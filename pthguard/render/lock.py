"""``audit-lock`` results as text or JSON: pure functions of the audited locks."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pthguard.findings import Finding
from pthguard.lock.model import Lock

__all__ = ["SCHEMA", "finding_dict", "finding_line", "render_json", "render_text"]

SCHEMA = "pthguard-audit-lock/1"


def finding_line(finding: Finding) -> str:
    """``file:line: name: message`` (line and name when known)."""
    file = finding.path or ""
    where = f"{file}:{finding.line}" if finding.line is not None else file
    name = f"{finding.subject}: " if finding.subject else ""
    return f"{where}: {name}{finding.message}"


def finding_dict(finding: Finding) -> dict[str, object]:
    """A finding as ``pthguard-audit-lock/1`` writes it: the rule is its ``kind``, the file
    its ``file``, the package its ``name``."""
    return {
        "kind": finding.rule,
        "file": finding.path,
        "line": finding.line,
        "name": finding.subject,
        "message": finding.message,
    }


def render_text(locks: Sequence[Lock], python: str | None) -> str:
    """One summary line per lock, then its findings indented."""
    lines = []
    for lock in locks:
        count = sum(not p.constraint for p in lock.packages)
        files = f" in {len(lock.files)} files" if len(lock.files) > 1 else ""
        against = f", compared with {python}" if python else ""
        verdict = f"{len(lock.findings)} finding(s)" if lock.findings else "ok"
        lines.append(f"{lock.path}: {count} package(s){files}{against}: {verdict}")
        lines.extend(f"  {finding_line(finding)}" for finding in lock.findings)
    return "\n".join(lines) + "\n"


def render_json(locks: Sequence[Lock], python: str | None) -> str:
    """The ``pthguard-audit-lock/1`` report."""
    doc = {
        "schema": SCHEMA,
        "ok": not any(lock.findings for lock in locks),
        "python": python,
        "locks": [
            {
                "path": lock.path,
                "kind": lock.kind,
                "files": list(lock.files),
                "packages": [p.to_dict() for p in lock.packages],
                "findings": [finding_dict(f) for f in lock.findings],
            }
            for lock in locks
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
