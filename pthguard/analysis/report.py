"""The report of ``scan`` and ``inspect``: items and their findings (rendered by ``render.scan``).

A :class:`Report` lists :class:`Item`\\ s: startup files (with their
:class:`~pthguard.analysis.analyze.Analysis`), archives (with archive-level findings) and paths that
could not be read. Exit code: 1 when any finding is ``high``; else 3 when the check could
not be completed (an ``operational`` rule: unreadable path, broken archive); else 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pthguard.analysis.analyze import Analysis
from pthguard.analysis.rules import RULES
from pthguard.findings import SEVERITIES, Finding, Severity, rank, worst

__all__ = ["Item", "ItemKind", "Report"]

ItemKind = Literal["pth", "start", "module", "archive", "path"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """One thing a report is about."""

    #: The file on disk (for a member of an archive: the archive).
    path: str
    kind: ItemKind
    #: The name inside the archive, for archive members.
    member: str | None = None
    #: Where it sits: a site directory, ``site-packages (purelib)``, ``sdist``...
    location: str | None = None
    #: The interpreter it was found for (``scan --python``).
    python: str | None = None
    analysis: Analysis | None = None
    #: Findings about the item that are not about its code (archive, operational).
    findings: tuple[Finding, ...] = ()

    @property
    def all_findings(self) -> tuple[Finding, ...]:
        own = self.analysis.findings if self.analysis is not None else ()
        return tuple(sorted((*self.findings, *own), key=lambda f: -rank(f.severity)))

    @property
    def severity(self) -> Severity:
        return worst([f.severity for f in self.all_findings])

    @property
    def display(self) -> str:
        return f"{self.path}!{self.member}" if self.member else self.path


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    command: Literal["scan", "inspect"]
    targets: tuple[str, ...]
    items: tuple[Item, ...] = field(default_factory=tuple)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        for item in self.items:
            for finding in item.all_findings:
                counts[finding.severity] += 1
        return counts

    @property
    def operational_errors(self) -> list[tuple[Item, Finding]]:
        return [
            (item, finding)
            for item in self.items
            for finding in item.all_findings
            if RULES[finding.rule].operational
        ]

    @property
    def exit_code(self) -> int:
        if any(item.severity == "high" for item in self.items):
            return 1
        return 3 if self.operational_errors else 0
