"""SARIF 2.1.0 form of a ``scan``/``inspect`` report (pure).

One run; ``tool.driver`` is ``pthguard`` with one rule per finding kind
(:data:`~.rules.RULES`, in that order, so ``ruleIndex`` is stable). Each finding is a
result: ``high`` is level ``error``, ``medium`` ``warning``, ``low`` and ``info`` ``note``.
Its location is the file's absolute ``file://`` URI with ``region.startLine`` when the
finding has a line. A member of an archive is located at the archive's URI; the member's
name is in the location's ``message``, in ``result.properties.member``, and ``startLine``
is then the line inside the member. Operational errors (paths that could not be read) are
also reported in ``invocations[0].toolExecutionNotifications`` and make
``executionSuccessful`` false.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import PurePosixPath, PureWindowsPath
from typing import Final

from pthguard import __version__
from pthguard.analysis.report import Item, Report
from pthguard.analysis.rules import RULES
from pthguard.findings import Finding, Severity

__all__ = ["SARIF_SCHEMA", "SARIF_VERSION", "file_uri", "render_sarif", "to_sarif"]

SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION: Final = "2.1.0"
_LEVELS: Final[dict[Severity, str]] = {
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}
_RULE_INDEX: Final = {rule_id: index for index, rule_id in enumerate(RULES)}


def file_uri(path: str) -> str:
    """The ``file://`` URI of an absolute path (POSIX or Windows); a relative path becomes a
    percent-encoded relative reference."""
    if path.startswith("/"):
        return PurePosixPath(path).as_uri()
    windows = PureWindowsPath(path)
    if windows.is_absolute():
        return windows.as_uri()
    return urllib.parse.quote(path.replace("\\", "/"))


def _location(item: Item, finding: Finding) -> dict[str, object]:
    physical: dict[str, object] = {"artifactLocation": {"uri": file_uri(item.path)}}
    if finding.line is not None and finding.line >= 1:
        physical["region"] = {"startLine": finding.line}
    location: dict[str, object] = {"physicalLocation": physical}
    if item.member is not None:
        location["message"] = {"text": f"archive member {item.member}"}
    return location


def _result(item: Item, finding: Finding) -> dict[str, object]:
    properties: dict[str, object] = {"severity": finding.severity, "kind": item.kind}
    if item.member is not None:
        properties["member"] = item.member
    if item.analysis is not None:
        properties["sha256"] = item.analysis.sha256
    if finding.versions:
        properties["pythonVersions"] = list(finding.versions)
    if finding.evidence:
        properties["evidence"] = finding.evidence
    if item.python:
        properties["python"] = item.python
    name = item.member or item.path
    return {
        "ruleId": finding.rule,
        "ruleIndex": _RULE_INDEX[finding.rule],
        "level": _LEVELS[finding.severity],
        "message": {"text": f"{name}: {finding.message}"},
        "locations": [_location(item, finding)],
        "properties": properties,
    }


def to_sarif(report: Report) -> dict[str, object]:
    rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "defaultConfiguration": {"level": _LEVELS[rule.severity]},
            "properties": {"severity": rule.severity, "operational": rule.operational},
        }
        for rule in RULES.values()
    ]
    results = [_result(item, finding) for item in report.items for finding in item.all_findings]
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{item.display}: {finding.message}"},
            "locations": [_location(item, finding)],
        }
        for item, finding in report.operational_errors
    ]
    invocation: dict[str, object] = {
        "executionSuccessful": not notifications,
        "exitCode": report.exit_code,
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run = {
        "tool": {
            "driver": {
                "name": "pthguard",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
        "invocations": [invocation],
        "results": results,
        "properties": {"command": report.command, "targets": list(report.targets)},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(report: Report) -> str:
    return json.dumps(to_sarif(report), indent=2, ensure_ascii=True) + "\n"
