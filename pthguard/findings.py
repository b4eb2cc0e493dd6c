"""The one vocabulary of findings: what pthguard noticed, how much it matters, and where.

A :class:`Finding` is one thing worth telling the user, named by a rule id from a table of
:class:`Rule`\\ s: :data:`pthguard.analysis.rules.RULES` (``scan``, ``inspect``),
:data:`pthguard.environment.rules.RULES` (``snapshot``, ``verify``, ``install``) and
:data:`pthguard.lock.rules.RULES` (``audit-lock``). Every finding carries a
:data:`Severity` on one ordered scale, ``info < low < medium < high``, and, when it is about
a place, a ``path`` and a 1-based ``line``.

A rule marked ``operational`` means the check could not be completed for what the finding
names (an unreadable file, a name or file a result cannot describe): ``scan`` and
``inspect`` exit with code 3 unless something is ``high``, and a snapshot holding one cannot
become an honest manifest (``snapshot`` writes nothing, ``verify`` is not ok, ``install``
refuses).

Results that are not findings keep their own words: a :class:`~pthguard.manifest.compare.
Difference` between a manifest and the live environment is a ``violation`` or a ``notice``
(its ``verdict``), not a severity. How each command shows findings (``error``/``warning``
for ``verify`` and ``snapshot``, SARIF levels for ``scan``) is decided in ``render/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "SEVERITIES",
    "Finding",
    "Rule",
    "Severity",
    "rank",
    "rule",
    "rule_table",
    "worst",
]

Severity = Literal["info", "low", "medium", "high"]
#: From least to most severe.
SEVERITIES: Final[tuple[Severity, ...]] = ("info", "low", "medium", "high")


def rank(severity: Severity) -> int:
    """The place of ``severity`` on the scale: 0 for ``info`` up to 3 for ``high``."""
    return SEVERITIES.index(severity)


def worst(severities: Iterable[Severity]) -> Severity:
    """The most severe of ``severities``; ``info`` when there are none."""
    return max(severities, key=rank, default="info")


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing worth knowing, named by a rule id from one of the rule tables."""

    rule: str
    severity: Severity
    message: str
    #: The file (or, for ``audit-lock``, the environment) the finding is about.
    path: str | None = None
    #: 1-based line in that file (for ``.pth``: as the newest version that executes it counts).
    line: int | None = None
    #: The named thing it is about, when that is not the file: a package for ``audit-lock``.
    subject: str | None = None
    #: The code the finding is about, clipped (``scan``/``inspect``).
    evidence: str = ""
    #: The Python versions it applies to ("3.13", ...) when not all of those analysed.
    versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A kind of finding: its id, default severity and one-line summary."""

    id: str
    #: PascalCase, for SARIF's ``rule.name``.
    name: str
    severity: Severity
    summary: str
    #: The check could not be completed for what a finding of this rule names.
    operational: bool = False

    def finding(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        subject: str | None = None,
    ) -> Finding:
        """A finding of this rule at its default severity."""
        return Finding(
            rule=self.id,
            severity=self.severity,
            message=message,
            path=path,
            line=line,
            subject=subject,
        )


def rule(rule_id: str, severity: Severity, summary: str, *, operational: bool = False) -> Rule:
    """A rule whose SARIF name is its id in PascalCase (``exec-decoded`` -> ``ExecDecoded``)."""
    name = "".join(part.capitalize() for part in rule_id.split("-"))
    return Rule(id=rule_id, name=name, severity=severity, summary=summary, operational=operational)


def rule_table(*rules: Rule) -> dict[str, Rule]:
    """``{rule.id: rule}``; a ValueError when two rules share an id."""
    table: dict[str, Rule] = {}
    for item in rules:
        if item.id in table:
            raise ValueError(f"rule {item.id!r} is defined twice")
        table[item.id] = item
    return table
