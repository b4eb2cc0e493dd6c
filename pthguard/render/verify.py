"""The text and JSON forms of ``verify`` and ``diff`` reports (pure). Only the CLI writes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pthguard.manifest.compare import Difference
from pthguard.manifest.envelope import VerificationResult
from pthguard.render.findings import environment_word

if TYPE_CHECKING:
    from pthguard.guard.verify import VerifyReport

VERIFY_SCHEMA = "pthguard-verify/1"
DIFF_SCHEMA = "pthguard-diff/1"
_MAX_LINE = 240


def _clip(line: str) -> str:
    line = line.replace("\r", "\\r")
    return line if len(line) <= _MAX_LINE else line[:_MAX_LINE] + f"... ({len(line)} chars)"


def difference_lines(diff: Difference) -> list[str]:
    words = {"added": "unlisted", "removed": "missing", "changed": "changed"}
    if diff.category in ("site_dir", "environment", "unclaimed"):
        words = {"added": "new", "removed": "missing", "changed": "changed"}
    head = f"{words[diff.change]} {diff.category.replace('_', ' ')} {diff.subject}"
    if diff.verdict == "notice":
        head += " (notice)"
    out = [head]
    if diff.expected is not None:
        out.append(f"    expected: {diff.expected}")
    if diff.found is not None:
        out.append(f"    found:    {diff.found}")
    for line in diff.new_code_lines:
        out.append(f"    new code: {_clip(line)}")
    return out


def signer_text(result: VerificationResult) -> str:
    return ", ".join(f"{k.name} ({k.keyid[:16]})" for k in result.signed_by) or "nobody"


def verify_text(report: VerifyReport) -> str:
    manifest = report.envelope.manifest
    state = "matches" if report.ok else "does NOT match"
    lines = [
        f"{report.python}: environment {state} {report.manifest_path} "
        f"(version {manifest.version}, signed by {signer_text(report.signatures)}, "
        f"expires {manifest.expires})"
    ]
    for diff in report.differences:
        lines.extend("  " + line for line in difference_lines(diff))
    for finding in report.findings:
        lines.append(f"  {environment_word(finding)}: {finding.path}: {finding.message}")
    checked = "deep check of every RECORD file" if report.deep else "startup files and metadata"
    lines.append(
        f"{len(report.violations)} violation(s), "
        f"{len(report.differences) - len(report.violations)} notice(s)"
        + (f", {len(report.errors)} error(s)" if report.errors else "")
        + f"; {checked}"
    )
    return "\n".join(lines) + "\n"


def verify_json(report: VerifyReport) -> str:
    manifest = report.envelope.manifest
    doc = {
        "schema": VERIFY_SCHEMA,
        "ok": report.ok,
        "python": report.python,
        "deep": report.deep,
        "manifest": {
            "path": report.manifest_path,
            "version": manifest.version,
            "expires": manifest.expires,
            "signed_by": [{"name": k.name, "keyid": k.keyid} for k in report.signatures.signed_by],
            "threshold": report.signatures.threshold,
        },
        "differences": [d.to_dict() for d in report.differences],
        "findings": [
            {"severity": environment_word(f), "path": f.path, "message": f.message}
            for f in report.findings
        ],
        "permission_warnings": list(report.permission_warnings),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def diff_text(old: str, new: str, differences: list[Difference]) -> str:
    if not differences:
        return f"{old} and {new} describe the same environment\n"
    lines = [f"changes from {old} to {new} (new code lines first):"]
    for diff in differences:
        lines.extend("  " + line for line in difference_lines(diff))
    code = sum(len(d.new_code_lines) for d in differences)
    lines.append(f"{len(differences)} change(s), {code} new code line(s) to review")
    return "\n".join(lines) + "\n"


def diff_json(old: str, new: str, differences: list[Difference]) -> str:
    doc = {
        "schema": DIFF_SCHEMA,
        "old": old,
        "new": new,
        "differences": [d.to_dict() for d in differences],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
