"""The text and JSON forms of a ``scan``/``inspect`` report (pure), and the choice of form.

A :class:`Report` lists :class:`Item`\\ s: startup files (with their
:class:`~pthguard.analysis.analyze.Analysis`), archives (with archive-level findings) and paths that
could not be read. Exit code: 1 when any finding is ``high``; else 3 when the check could
not be completed (an ``operational`` rule: unreadable path, broken archive); else 0.

JSON (schema ``pthguard-scan/1``)::

    {"schema": "pthguard-scan/1", "command": "scan" | "inspect", "targets": [str],
     "exit_code": 0 | 1 | 3,
     "summary": {"items": n, "high": n, "medium": n, "low": n, "info": n,
                 "operational_errors": n},
     "items": [{"path": str, "member": str | null, "kind": "pth" | "start" | "module" |
                "archive" | "path", "location": str | null, "python": str | null,
                "severity": "high" | "medium" | "low" | "info",
                "sha256": str | null, "size": int | null, "versions": [str],
                "known": str | null, "executable_lines": int | null,
                "findings": [{"rule": str, "severity": str, "message": str,
                              "line": int | null, "evidence": str, "versions": [str]}],
                "decoded": [{"line": int | null, "depth": int, "via": str, "size": int,
                             "text": str}]}]}

Text: one block per item, most severe first; colour only when the caller asks for it (the
command does on a terminal, never when ``NO_COLOR`` is set). Every string taken from a
scanned file is shown with control characters escaped, so a file cannot drive the terminal.
"""

from __future__ import annotations

import json
import os
from typing import Final, TextIO

from pthguard.analysis.report import Item, Report
from pthguard.findings import SEVERITIES, Finding, Severity, rank

__all__ = [
    "SCAN_SCHEMA",
    "item_json",
    "item_lines",
    "render",
    "render_json",
    "render_text",
    "safe",
    "use_colour",
]

SCAN_SCHEMA: Final = "pthguard-scan/1"
_DECODED_LINES: Final = 12
_COLOURS: Final[dict[str, str]] = {
    "high": "\x1b[1;31m",
    "medium": "\x1b[33m",
    "low": "\x1b[36m",
    "info": "\x1b[2m",
}
_RESET: Final = "\x1b[0m"


def render(report: Report, fmt: str, out: TextIO) -> str:
    """The report in ``fmt``; text is coloured only on a terminal and without NO_COLOR."""
    if fmt == "json":
        return render_json(report)
    if fmt == "sarif":
        from pthguard.render.sarif import render_sarif  # noqa: PLC0415

        return render_sarif(report)
    return render_text(report, colour=use_colour(out))


def use_colour(out: TextIO) -> bool:
    if "NO_COLOR" in os.environ:
        return False
    isatty = getattr(out, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def safe(text: str) -> str:
    """``text`` with every control or other non-printable character escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _paint(text: str, severity: Severity, colour: bool) -> str:
    return f"{_COLOURS[severity]}{text}{_RESET}" if colour else text


def render_text(report: Report, *, colour: bool = False) -> str:
    counts = report.counts()
    files = sum(1 for item in report.items if item.analysis is not None)
    summary = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES))
    errors = len(report.operational_errors)
    lines = [
        f"pthguard {report.command}: {files} startup file(s) in "
        f"{len(report.targets)} target(s); findings: {summary}"
        + (f"; {errors} could not be checked" if errors else "")
    ]
    ordered = sorted(report.items, key=lambda item: -rank(item.severity))
    for item in ordered:
        lines.extend(item_lines(item, colour))
    verdict = {
        0: "no high finding",
        1: "HIGH findings: do not run this environment/package before you have reviewed them",
        3: "incomplete: some paths could not be checked",
    }[report.exit_code]
    lines.append(f"result: {verdict} (exit {report.exit_code})")
    return "\n".join(lines) + "\n"


def item_lines(item: Item, colour: bool) -> list[str]:
    label = _paint(f"{item.severity.upper():<6}", item.severity, colour)
    head = f"{label} {safe(item.display)}"
    analysis = item.analysis
    details = []
    if item.location:
        details.append(safe(item.location))
    if item.python:
        details.append(safe(item.python))
    if analysis is not None:
        details.append(f"sha256 {analysis.sha256[:16]}..., {analysis.size} bytes")
        if analysis.kind == "pth":
            details.append(f"{analysis.executable_lines} executable line(s)")
    if details:
        head += f"  ({'; '.join(details)})"
    out = [head]
    findings = item.all_findings
    said = any(f.rule in ("known-file", "pthguard-gate") and f.line is None for f in findings)
    if analysis is not None and analysis.known is not None and not said:
        out.append(f"       legitimate: {safe(analysis.known)}")
    for finding in findings:
        where = f"line {finding.line}: " if finding.line is not None else ""
        versions = f" [Python {', '.join(finding.versions)} only]" if finding.versions else ""
        severity = _paint(finding.severity, finding.severity, colour)
        out.append(f"       {severity} {finding.rule}: {where}{safe(finding.message)}{versions}")
    if analysis is not None and analysis.known is None:
        for decoded in analysis.decoded:
            where = f"line {decoded.line}, " if decoded.line is not None else ""
            out.append(
                f"       decoded payload ({where}layer {decoded.depth}: {safe(decoded.via)}, "
                f"{decoded.size} bytes; never executed):"
            )
            text_lines = decoded.text.splitlines()
            out.extend(f"         | {safe(line)}" for line in text_lines[:_DECODED_LINES])
            if len(text_lines) > _DECODED_LINES:
                out.append(f"         | ... ({len(text_lines) - _DECODED_LINES} more lines)")
    return out


def _finding_json(finding: Finding) -> dict[str, object]:
    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "message": finding.message,
        "line": finding.line,
        "evidence": finding.evidence,
        "versions": list(finding.versions),
    }


def item_json(item: Item) -> dict[str, object]:
    analysis = item.analysis
    return {
        "path": item.path,
        "member": item.member,
        "kind": item.kind,
        "location": item.location,
        "python": item.python,
        "severity": item.severity,
        "sha256": analysis.sha256 if analysis else None,
        "size": analysis.size if analysis else None,
        "versions": list(analysis.versions) if analysis else [],
        "known": analysis.known if analysis else None,
        "executable_lines": analysis.executable_lines if analysis else None,
        "findings": [_finding_json(f) for f in item.all_findings],
        "decoded": [
            {"line": d.line, "depth": d.depth, "via": d.via, "size": d.size, "text": d.text}
            for d in (analysis.decoded if analysis else ())
        ],
    }


def render_json(report: Report) -> str:
    counts = report.counts()
    doc = {
        "schema": SCAN_SCHEMA,
        "command": report.command,
        "targets": list(report.targets),
        "exit_code": report.exit_code,
        "summary": {
            "items": len(report.items),
            **counts,
            "operational_errors": len(report.operational_errors),
        },
        "items": [item_json(item) for item in report.items],
    }
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"
