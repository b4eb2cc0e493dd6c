"""The kinds of finding ``scan`` and ``inspect`` report, with their default severity.

Severities: ``high`` (network, process or credential access, native code, deserialised
code, or execution of decoded data: the exit code is 1), ``medium`` (obfuscation, dynamic
execution, environment access, file writes, archive inconsistencies), ``low`` (plain
imports, literal ``exec``, startup modules and entry points, whose code is not followed),
``info`` (path lines, recognised legitimate files). Rules marked ``operational`` mean the
check itself could not be completed (exit code 3 unless something is high).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["RULES", "SEVERITIES", "Rule", "Severity", "rank", "worst"]

Severity = Literal["high", "medium", "low", "info"]
#: From least to most severe.
SEVERITIES: Final[tuple[Severity, ...]] = ("info", "low", "medium", "high")


def rank(severity: Severity) -> int:
    return SEVERITIES.index(severity)


def worst(severities: list[Severity] | tuple[Severity, ...]) -> Severity:
    return max(severities, key=rank, default="info")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    id: str
    #: PascalCase, for SARIF's ``rule.name``.
    name: str
    severity: Severity
    summary: str
    operational: bool = False


def _rule(rule_id: str, severity: Severity, summary: str, *, operational: bool = False) -> Rule:
    name = "".join(part.capitalize() for part in rule_id.split("-"))
    return Rule(id=rule_id, name=name, severity=severity, summary=summary, operational=operational)


RULES: Final[dict[str, Rule]] = {
    rule.id: rule
    for rule in (
        _rule("process", "high", "Startup code can run other programs"),
        _rule("network", "high", "Startup code can reach the network"),
        _rule("credentials", "high", "Startup code refers to credential files"),
        _rule("native-code", "high", "Startup code can call native code (ctypes, cffi)"),
        _rule("deserialize", "high", "Startup code deserialises code or objects"),
        _rule("exec-decoded", "high", "Startup code executes decoded data"),
        _rule("obfuscation", "medium", "Startup code decodes or decompresses data"),
        _rule("exec-assembled", "medium", "Startup code executes a string it assembles"),
        _rule("exec-dynamic", "medium", "Startup code executes data it does not spell out"),
        _rule("dynamic-import", "medium", "Startup code imports a module named at run time"),
        _rule("environment", "medium", "Startup code reads or changes environment variables"),
        _rule("file-write", "medium", "Startup code writes, moves or deletes files"),
        _rule("import-hook", "medium", "Startup code installs import, trace or audit hooks"),
        _rule("opaque-data", "medium", "Startup code holds a long encoded-looking literal"),
        _rule("url", "medium", "Startup code contains a URL"),
        _rule("analysis-limit", "medium", "Part of the code was not followed (size or depth)"),
        _rule("version-difference", "medium", "Python versions read the file differently"),
        _rule("decode-error", "medium", "The file cannot be decoded: interpreter start fails"),
        _rule("compiled-module", "medium", "A compiled startup module cannot be analysed"),
        _rule("exec-literal", "low", "Startup code executes a string literal (followed)"),
        _rule("import", "low", "Startup code imports a module (its code is not followed)"),
        _rule("syntax-error", "low", "Code that does not parse (it fails when it runs)"),
        _rule("startup-module", "low", "sitecustomize/usercustomize runs at every start"),
        _rule("entry-point", "low", "A .start entry point runs at every start (3.15+)"),
        _rule("path-lines", "info", "Path lines add directories to sys.path"),
        _rule("known-file", "info", "A legitimate file recognised by its exact content"),
        _rule("not-processed", "info", "The file is not processed by the Python analysed"),
        _rule("pthguard-gate", "info", "pthguard's own startup gate"),
        _rule("archive-traversal", "high", "An archive member escapes the install location"),
        _rule("archive-outside", "medium", "A wheel installs files outside site-packages"),
        _rule("archive-duplicate", "medium", "An archive holds the same name twice"),
        _rule("archive-limit", "medium", "An archive member was not read (size limits)"),
        _rule("record-missing", "medium", "A wheel has no RECORD"),
        _rule("record-malformed", "medium", "A RECORD row is malformed or uses a weak hash"),
        _rule("record-unlisted", "medium", "A wheel member is not listed in RECORD"),
        _rule("record-orphan", "low", "A RECORD row names no member of the wheel"),
        _rule("record-mismatch", "medium", "A wheel member's hash or size differs from RECORD"),
        _rule("install-time-code", "medium", "An sdist runs setup.py when it is built"),
        _rule("unreadable", "medium", "A path or archive could not be read", operational=True),
    )
}
