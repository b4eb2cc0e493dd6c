"""What a lock file holds and what the audit finds in it: frozen data, no I/O.

Each finding is a :class:`pthguard.findings.Finding` of a rule in :mod:`pthguard.lock.rules`:
``rule`` is its kind, ``path`` the file, ``subject`` the package name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from packaging.markers import Marker
from packaging.specifiers import Specifier

from pthguard.findings import Finding

Source = Literal["pin", "url", "vcs", "editable", "directory", "archive", "artifacts"]
LockKind = Literal["requirements", "pylock"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedPackage:
    """One requirement line or ``[[packages]]`` entry."""

    name: str | None  # PEP 503 normalised; None for a bare URL or path
    version: str | None  # the exact version, when pinned
    arbitrary: bool  # ``===``: string equality
    marker: str | None  # as written in the lock
    parsed_marker: Marker | None
    source: Source
    file: str
    line: int | None
    constraint: bool = False

    def accepts(self, installed: str) -> bool:
        """Does this pin (``==version`` or ``===version``) accept an installed version?

        PEP 440 ``==`` ignores the installed local label when the pin has none and never
        accepts a version that is not PEP 440; ``===`` compares strings, ignoring case."""
        if self.version is None:
            return True
        operator = "===" if self.arbitrary else "=="
        return Specifier(f"{operator}{self.version}").contains(installed, prereleases=True)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "marker": self.marker,
            "source": self.source,
            "file": self.file,
            "line": self.line,
            "constraint": self.constraint,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Lock:
    """A lock file as read: every file it includes, its packages, and the findings."""

    path: str
    kind: LockKind
    files: tuple[str, ...] = ()
    packages: tuple[LockedPackage, ...] = ()
    findings: tuple[Finding, ...] = ()
