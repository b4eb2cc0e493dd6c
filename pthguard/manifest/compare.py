"""Differences between two descriptions of an environment (pure).

``verify`` compares a signed manifest with a fresh snapshot of the live environment; ``diff``
compares an old manifest with a new one (:func:`diff_manifests`, which also shows a changed
policy). Both use :func:`compare`, so a reviewer sees the same words in both. Differences
that bring new code lines (``.pth`` import lines, ``.start`` entry points) sort first: they
are what runs at every interpreter start.

A difference is a comparison result, not a :class:`~pthguard.findings.Finding`: it has no
rule and no severity on the findings' scale. Its :data:`Verdict` says what the signed policy
makes of it: a ``violation`` fails ``verify`` (exit code 1) and stops ``install``; a
``notice`` (an unlisted distribution or unclaimed file the policy allows) is only shown. The
JSON forms (``pthguard-verify/1``, ``pthguard-diff/1``) keep the field name ``severity`` for
the verdict, as documented in ``docs/manifest.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pthguard.manifest.model import (
    Distribution,
    Manifest,
    ProjectRule,
    SiteDir,
    StartupFile,
    StartupModule,
)
from pthguard.manifest.project import version_only_change

Category = Literal[
    "environment", "site_dir", "startup_file", "startup_module", "distribution", "file", "unclaimed"
]
Change = Literal["added", "removed", "changed"]
Verdict = Literal["violation", "notice"]

_ORDER: dict[str, int] = {
    "environment": 0,
    "startup_file": 1,
    "startup_module": 2,
    "site_dir": 3,
    "distribution": 4,
    "file": 5,
    "unclaimed": 6,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Difference:
    category: Category
    change: Change
    subject: str
    expected: str | None = None
    found: str | None = None
    new_code_lines: tuple[str, ...] = ()
    verdict: Verdict = "violation"

    def to_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "change": self.change,
            "subject": self.subject,
            "expected": self.expected,
            "found": self.found,
            "new_code_lines": list(self.new_code_lines),
            "severity": self.verdict,
        }

    def sort_key(self) -> tuple[int, int, str]:
        return (0 if self.new_code_lines else 1, _ORDER[self.category], self.subject)


def describe_startup(entry: StartupFile) -> str:
    lines = len(entry.code_lines)
    owner = f", from {entry.owner}" if entry.owner else ", no distribution claims it"
    return (
        f"sha256 {entry.sha256}, {entry.size} bytes, {lines} code line{'s' * (lines != 1)}{owner}"
    )


def describe_distribution(dist: Distribution) -> str:
    parts = [f"{dist.name} {dist.version}", dist.metadata_dir]
    if dist.record_sha256:
        parts.append(f"RECORD sha256 {dist.record_sha256}")
    if dist.editable:
        parts.append("editable")
    return ", ".join(parts)


def describe_module(module: StartupModule) -> str:
    return f"{module.path} (sha256 {module.sha256})" if module.path else "none"


def compare(
    expected: Manifest, found: Manifest, *, include_unclaimed: bool = False
) -> list[Difference]:
    """Every difference from ``expected`` to ``found``, most important first.

    With ``policy.project`` in ``expected``, that distribution's entries are not compared
    and its startup files are compared with the rule (name, exact code lines) instead."""
    diffs: list[Difference] = []
    rule = expected.policy.project
    _compare_environment(expected, found, diffs)
    exp_sites = {s.path: s for s in expected.site_dirs}
    found_sites = {s.path: s for s in found.site_dirs}
    for path, site in found_sites.items():
        old = exp_sites.get(path)
        if old is None:
            diffs.append(
                Difference(category="site_dir", change="added", subject=path, found=site.role)
            )
            old = SiteDir(path=path, role=site.role)
        _compare_startup_files(
            old, site, diffs, rule if path in exp_sites else None, _versions(rule, found)
        )
        if include_unclaimed:
            _compare_unclaimed(old, site, expected, diffs)
    for path, site in exp_sites.items():
        if path not in found_sites:
            diffs.append(
                Difference(category="site_dir", change="removed", subject=path, expected=site.role)
            )
            _compare_startup_files(site, SiteDir(path=path, role=site.role), diffs)
    _compare_modules(expected, found, diffs)
    _compare_distributions(expected, found, diffs)
    return sorted(diffs, key=Difference.sort_key)


def diff_manifests(old: Manifest, new: Manifest) -> list[Difference]:
    """What ``diff`` shows a reviewer: every difference from ``old`` to ``new``, unclaimed
    files included, and a change of policy before everything else."""
    diffs = compare(old, new, include_unclaimed=True)
    return [*signing_differences(old, new, expiry=False), *diffs]


def signing_differences(old: Manifest, new: Manifest, *, expiry: bool) -> list[Difference]:
    """What changes beside the environment: the policy, and (when ``expiry``) the expiry."""
    pairs = [("policy", str(old.policy.to_dict()), str(new.policy.to_dict()))]
    if expiry:
        pairs.append(("expires", old.expires, new.expires))
    return [
        Difference(category="environment", change="changed", subject=subject, expected=a, found=b)
        for subject, a, b in pairs
        if a != b
    ]


def _compare_environment(expected: Manifest, found: Manifest, diffs: list[Difference]) -> None:
    exp, got = expected.environment, found.environment
    for name in ("implementation", "python_version", "prefix"):
        if getattr(exp, name) != getattr(got, name):
            diffs.append(
                Difference(
                    category="environment",
                    change="changed",
                    subject=name,
                    expected=getattr(exp, name),
                    found=getattr(got, name),
                )
            )


def _versions(rule: ProjectRule | None, found: Manifest) -> frozenset[str]:
    """The installed version(s) of the project ``rule`` names."""
    if rule is None:
        return frozenset()
    return frozenset(d.version for d in found.distributions if d.name == rule.name)


def _project_note(rule: ProjectRule | None, entry: StartupFile, versions: frozenset[str]) -> str:
    """Why a project's startup file the rule does not allow comes this close, if it does."""
    change = (
        None if rule is None else version_only_change(rule, entry.name, entry.code_lines, versions)
    )
    if change is None:
        return ""
    pattern, signed, installed = change
    return (
        f"; policy.project allows {pattern} with these code lines but for the version they "
        f"name (the signed lines name {signed}, the project installed is {installed}): a "
        "flat-layout editable install's finder names the version; snapshot and sign again "
        "after a version change, or use a src layout (its .pth has path lines only)"
    )


def _compare_startup_files(
    old: SiteDir,
    new: SiteDir,
    diffs: list[Difference],
    rule: ProjectRule | None = None,
    versions: frozenset[str] = frozenset(),
) -> None:
    before = {f.name: f for f in old.startup_files}
    after = {f.name: f for f in new.startup_files}
    for name, entry in after.items():
        if rule is not None and rule.allows(name, entry.code_lines):
            continue  # the project's own startup file, as the signed rule allows
        subject = f"{new.path}/{name}"
        previous = before.get(name)
        if previous is None:
            diffs.append(
                Difference(
                    category="startup_file",
                    change="added",
                    subject=subject,
                    found=describe_startup(entry) + _project_note(rule, entry, versions),
                    new_code_lines=entry.code_lines,
                )
            )
        elif previous.sha256 != entry.sha256:
            known = set(previous.code_lines)
            diffs.append(
                Difference(
                    category="startup_file",
                    change="changed",
                    subject=subject,
                    expected=describe_startup(previous),
                    found=describe_startup(entry),
                    new_code_lines=tuple(line for line in entry.code_lines if line not in known),
                )
            )
    for name, entry in before.items():
        if name not in after:
            diffs.append(
                Difference(
                    category="startup_file",
                    change="removed",
                    subject=f"{old.path}/{name}",
                    expected=describe_startup(entry),
                )
            )


def _compare_unclaimed(
    old: SiteDir, new: SiteDir, expected: Manifest, diffs: list[Difference]
) -> None:
    if expected.policy.unclaimed_files == "ignore":
        return
    verdict: Verdict = "violation" if expected.policy.unclaimed_files == "refuse" else "notice"
    before, after = set(old.unclaimed), set(new.unclaimed)
    for name in sorted(after - before):
        diffs.append(
            Difference(
                category="unclaimed",
                change="added",
                subject=f"{new.path}/{name}",
                found="no distribution claims it",
                verdict=verdict,
            )
        )
    for name in sorted(before - after):
        diffs.append(
            Difference(
                category="unclaimed",
                change="removed",
                subject=f"{old.path}/{name}",
                verdict=verdict,
            )
        )


def _compare_modules(expected: Manifest, found: Manifest, diffs: list[Difference]) -> None:
    before = {m.name: m for m in expected.startup_modules}
    after = {m.name: m for m in found.startup_modules}
    for name in sorted(set(before) | set(after)):
        old = before.get(name) or StartupModule(name=name, path=None, sha256=None)
        new = after.get(name) or StartupModule(name=name, path=None, sha256=None)
        if (old.path, old.sha256) == (new.path, new.sha256):
            continue
        change: Change = "changed"
        if old.path is None:
            change = "added"
        elif new.path is None:
            change = "removed"
        diffs.append(
            Difference(
                category="startup_module",
                change=change,
                subject=name,
                expected=describe_module(old),
                found=describe_module(new),
                new_code_lines=(f"import {name}  # {new.path}",)
                if new.path and change != "removed"
                else (),
            )
        )


def _group(dists: tuple[Distribution, ...]) -> dict[tuple[str, str], list[Distribution]]:
    groups: dict[tuple[str, str], list[Distribution]] = {}
    for dist in dists:
        groups.setdefault((dist.site_dir, dist.name), []).append(dist)
    return groups


def _compare_distributions(expected: Manifest, found: Manifest, diffs: list[Difference]) -> None:
    before, after = _group(expected.distributions), _group(found.distributions)
    project = expected.policy.project
    if project is not None:  # any version and RECORD of the project is accepted
        before = {k: v for k, v in before.items() if k[1] != project.name}
        after = {k: v for k, v in after.items() if k[1] != project.name}
    unlisted: Verdict = (
        "violation" if expected.policy.unlisted_distributions == "refuse" else "notice"
    )
    for key in sorted(set(before) | set(after)):
        olds = sorted(before.get(key, []), key=lambda d: d.metadata_dir)
        news = sorted(after.get(key, []), key=lambda d: d.metadata_dir)
        if len(olds) == 1 and len(news) == 1:
            old, new = olds[0], news[0]
            if old != new:
                diffs.append(
                    Difference(
                        category="distribution",
                        change="changed",
                        subject=f"{new.name} ({new.site_dir})",
                        expected=describe_distribution(old),
                        found=describe_distribution(new),
                    )
                )
            continue
        same = [d for d in news if d in olds]
        for new in news:
            if new not in same:
                diffs.append(
                    Difference(
                        category="distribution",
                        change="added",
                        subject=f"{new.name} {new.version} ({new.site_dir})",
                        found=describe_distribution(new),
                        verdict=unlisted if not olds else "violation",
                    )
                )
        for old in olds:
            if old not in same:
                diffs.append(
                    Difference(
                        category="distribution",
                        change="removed",
                        subject=f"{old.name} {old.version} ({old.site_dir})",
                        expected=describe_distribution(old),
                    )
                )
