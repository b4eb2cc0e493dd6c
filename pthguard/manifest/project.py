"""``policy.project``: the one distribution a CI runner rebuilds on every run (pure).

A test job installs the project under test on every run (``pip install -e .`` or a fresh
wheel): its metadata directory, RECORD and perhaps its version change every time, while
every dependency must stay exactly as signed. ``snapshot --project NAME`` therefore leaves
that distribution out of ``distributions`` and moves the startup files its RECORD claims
into ``policy.project`` (name, with ``*`` in place of the version, and exact code lines).
:func:`seal_rule` compiles the rule for the startup gate.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import replace

from pthguard.errors import PthguardError
from pthguard.formats.metadata import normalize_name
from pthguard.gate.names import name_fits
from pthguard.manifest.model import Manifest, ProjectRule, ProjectStartupFile

__all__ = [
    "SealedRule",
    "dist_info_key",
    "loosen",
    "seal_rule",
    "version_only_change",
    "version_placeholder",
]

#: ``(name, metadata-dir prefix, ((file name pattern, code lines), ...))`` in the seal.
SealedRule = tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]]


def dist_info_key(name: str) -> str:
    """``My.Proj`` -> ``my_proj``: the name part of ``my_proj-1.0.dist-info``, lower case."""
    return re.sub(r"[-_.]+", "_", name).lower()


def version_placeholder(file_name: str, versions: set[str]) -> str:
    """``__editable__.myproj-1.0.pth`` -> ``__editable__.myproj-*.pth`` (when 1.0 is the
    installed version); a name without ``-VERSION.`` stays as it is."""
    for version in sorted(versions, key=len, reverse=True):
        for form in dict.fromkeys((version, version.replace("-", "_"))):
            token = f"-{form}."
            if token in file_name:
                pattern = file_name.replace(token, "-*.", 1)
                if name_fits(pattern, file_name):
                    return pattern
    return file_name


def loosen(manifest: Manifest, project: str) -> Manifest:
    """The manifest with ``project`` as ``policy.project`` (see the module docstring)."""
    name = normalize_name(project)
    dists = [d for d in manifest.distributions if d.name == name]
    if not dists:
        raise PthguardError(
            f"--project {project}: no distribution {name!r} is installed in "
            f"{manifest.environment.executable}",
            remedy="install the project (pip install -e . or its wheel) before the snapshot",
        )
    versions = {d.version for d in dists}
    entries: dict[str, ProjectStartupFile] = {}
    site_dirs = []
    for site in manifest.site_dirs:
        keep = []
        for entry in site.startup_files:
            if entry.owner != name:
                keep.append(entry)
                continue
            if not entry.name.endswith(".pth"):
                raise PthguardError(
                    f"--project {project}: {site.path}/{entry.name} is a .start file; a project "
                    "rule allows .pth files only",
                    remedy="snapshot without --project",
                )
            pattern = version_placeholder(entry.name, versions)
            rule_entry = ProjectStartupFile(name=pattern, code_lines=entry.code_lines)
            if entries.get(pattern, rule_entry) != rule_entry:
                raise PthguardError(
                    f"--project {project}: two files named {pattern} with different code lines",
                    remedy="snapshot without --project",
                )
            entries[pattern] = rule_entry
        site_dirs.append(replace(site, startup_files=tuple(keep)))
    rule = ProjectRule(name=name, startup_files=tuple(entries[k] for k in sorted(entries)))
    return replace(
        manifest,
        policy=replace(manifest.policy, project=rule),
        site_dirs=tuple(site_dirs),
        distributions=tuple(d for d in manifest.distributions if d.name != name),
    )


def seal_rule(rule: ProjectRule | None) -> SealedRule | None:
    """The rule as the gate reads it from the seal (tuples and strings only)."""
    if rule is None:
        return None
    return (
        rule.name,
        dist_info_key(rule.name) + "-",
        tuple((entry.name, tuple(entry.code_lines)) for entry in rule.startup_files),
    )


def version_only_change(
    rule: ProjectRule, name: str, code_lines: Sequence[str], versions: Collection[str]
) -> tuple[str, str, str] | None:
    """``(pattern, signed version, installed version)`` when the project's startup file
    ``name`` is one the rule lists but for the version its code lines name: a flat-layout
    editable install's ``import __editable___myproj_1_1_finder; ...`` after the rule was
    signed with ``..._1_0_finder``. ``versions``: the project's installed version(s)."""
    for entry in rule.startup_files:
        if not name_fits(entry.name, name) or len(entry.code_lines) != len(code_lines):
            continue
        for version in sorted(versions):
            old = _old_version(entry.code_lines, code_lines, version)
            if old is not None:
                return entry.name, old, version
    return None


def _old_version(old_lines: Sequence[str], new_lines: Sequence[str], version: str) -> str | None:
    """The text standing where ``new_lines`` name ``version`` (as such, or escaped as in a
    module name) when every other character of the lines is the same."""
    forms = sorted({version, re.sub(r"[^A-Za-z0-9]+", "_", version)}, key=len, reverse=True)
    split = re.compile("(" + "|".join(map(re.escape, forms)) + ")")
    olds: list[str] = []
    for old, new in zip(old_lines, new_lines, strict=True):
        parts = split.split(new)
        pattern = "".join(re.escape(p) if i % 2 == 0 else "(.+?)" for i, p in enumerate(parts))
        found = re.fullmatch(pattern, old)
        if found is None:
            return None
        olds.extend(found.groups())
    escaped = {re.sub(r"[^A-Za-z0-9]+", "_", old) for old in olds}
    if len(escaped) != 1 or escaped <= set(forms):
        return None  # no version named, the same one, or two different ones
    if any(old in line for old in {*olds, *escaped} for line in new_lines):
        return None  # the signed version is still named too: more than a version bump
    return olds[0]
