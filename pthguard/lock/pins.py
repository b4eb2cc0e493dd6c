"""One requirement of a requirements file, judged: an exact pin with a sha256 hash?

A requirement is PEP 508 (``name[extras] ==1.0 ; marker``, ``name @ URL ; marker``, parsed
by :class:`packaging.requirements.Requirement`) or, as pip also accepts, a bare URL or path
(``git+https://...#egg=name``, ``./dir``, ``https://.../x-1.0.tar.gz``). It must be an exact
pin (``==V`` without a wildcard, or ``===V``) with at least one ``--hash=sha256:``; one with
only md5 or sha1 hashes, a VCS URL, any other direct URL or a path is reported: it cannot
be pinned by hash. Markers are kept as written and parsed with :class:`packaging.markers.Marker`.
"""

from __future__ import annotations

import re

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier
from packaging.utils import canonicalize_name

from pthguard.errors import LockError
from pthguard.findings import Finding
from pthguard.lock.model import LockedPackage, Source
from pthguard.lock.rules import RULES

__all__ = ["EGG_RE", "requirement_entry"]

#: The project name in a URL's ``#egg=`` fragment.
EGG_RE = re.compile(r"[#&]egg=([A-Za-z0-9._-]+)")
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_ARCHIVE_RE = re.compile(r"\.(whl|zip|tar\.gz|tgz|tar\.bz2)$")
#: Only to say which part of a refused requirement is wrong: a comparison, a name and extras.
_COMPARISON_RE = re.compile(r"(?:==|!=|<=|>=|<|>|~=)\s*([^\s,;()]+)")
_NAME_EXTRAS_RE = re.compile(r"\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:\[[^\]]*\])?")


def requirement_entry(
    text: str, hashes: list[str], *, file: str, line: int, constraint: bool
) -> tuple[LockedPackage, list[Finding]]:
    """The package one requirement locks, and what stops it being a lock."""
    where = f"{file}:{line}"
    notes: list[tuple[str, str]] = []  # (kind, message) of each finding
    version: str | None = None
    arbitrary = False
    source: Source = "pin"
    if _is_bare_location(text):
        body, _, marker_text = text.partition(" ;")
        body = body.strip()
        marker = marker_text.strip() or None
        egg = EGG_RE.search(body)
        name = canonicalize_name(egg.group(1)) if egg else None
        source = "vcs" if body.startswith(_VCS_PREFIXES) else "url"
        if source == "url" and not _ARCHIVE_RE.search(body):
            source = "directory"
    else:
        requirement = _requirement(text, where)
        name = canonicalize_name(requirement.name)
        marker = _marker_text(text, requirement)
        body = requirement.url or ""
        if requirement.url is not None:
            source = "vcs" if body.startswith(_VCS_PREFIXES) else "url"
        else:
            specs = list(requirement.specifier)
            exact = len(specs) == 1 and specs[0].operator in ("==", "===")
            if exact and "*" not in specs[0].version:
                version, arbitrary = specs[0].version, specs[0].operator == "==="
            else:
                shown = ",".join(str(spec) for spec in specs) or "no version"
                notes.append(("not-pinned", f"not an exact pin ({shown}): use =={_hint(specs)}"))
    parsed_marker = _marker(marker, where) if marker is not None else None
    if source in ("vcs", "directory"):
        label = "VCS" if source == "vcs" else "local"
        notes.append(("not-hashable", f"{label} requirement {body}: not pinnable by hash"))
    elif source == "url":
        notes.append(("not-pinned", f"direct URL {body}: not an exact version pin"))
    if not constraint and source not in ("vcs", "directory"):
        notes.extend(_hash_notes(hashes))
    package = LockedPackage(
        name=name,
        version=version,
        arbitrary=arbitrary,
        marker=marker,
        parsed_marker=parsed_marker,
        source=source,
        file=file,
        line=line,
        constraint=constraint,
    )
    findings = [
        RULES[kind].finding(message, path=file, line=line, subject=name) for kind, message in notes
    ]
    return package, findings


def _is_bare_location(text: str) -> bool:
    """A URL or path that is not a PEP 508 ``name @ URL`` requirement."""
    head = text.split(";", 1)[0].split("@", 1)[0]
    return text.startswith((*_VCS_PREFIXES, ".", "/", "~")) or "://" in head


def _requirement(text: str, where: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise LockError(f"{where}: {_explain(text, exc)}") from exc


def _explain(text: str, exc: InvalidRequirement) -> str:
    """Which part of a requirement packaging refused: its marker, a version clause, or the
    whole (packaging's own message, first line)."""
    head, semicolon, tail = text.partition(";")
    if semicolon and _parses(head):
        try:
            Marker(tail)
        except InvalidMarker as bad:
            return f"bad environment marker {tail.strip()!r}: {_reason(bad)}"
    named = _NAME_EXTRAS_RE.match(head)
    if named is not None:
        spec = head[named.end() :].strip()
        if spec.startswith("(") and spec.endswith(")"):
            spec = spec[1:-1]
        for clause in (part.strip() for part in spec.split(",") if part.strip()):
            try:
                Specifier(clause)
            except InvalidSpecifier:
                compared = _COMPARISON_RE.fullmatch(clause)
                if compared is not None:
                    return f"{compared.group(1)!r} is not a PEP 440 version"
                return f"cannot parse the version specifier {clause!r}"
    return f"cannot parse the requirement {text!r}: {_reason(exc)}"


def _parses(text: str) -> bool:
    try:
        Requirement(text)
    except InvalidRequirement:
        return False
    return True


def _reason(exc: Exception) -> str:
    """The first line of packaging's message (the others draw a caret under the text)."""
    return (str(exc).splitlines() or ["invalid"])[0]


def _marker_text(text: str, requirement: Requirement) -> str | None:
    """The marker as written: after the first ``;`` (after ``<space>;`` behind a URL)."""
    if requirement.marker is None:
        return None
    if requirement.url is not None:
        return re.split(r"\s;", text, maxsplit=1)[1].strip()
    return text.partition(";")[2].strip()


def _marker(text: str, where: str) -> Marker:
    try:
        return Marker(text)
    except InvalidMarker as exc:
        raise LockError(f"{where}: bad environment marker {text!r}: {_reason(exc)}") from exc


def _hint(specs: list[Specifier]) -> str:
    for spec in specs:
        if spec.operator in (">=", "~=", "==") and "*" not in spec.version:
            return f"{spec.version} (or the version you tested)"
    return "VERSION"


def _hash_notes(hashes: list[str]) -> list[tuple[str, str]]:
    """sha256 required; md5 and sha1 alone are weak."""
    algorithms = {h.partition(":")[0] for h in hashes}
    if not hashes:
        return [("no-hash", "no --hash=sha256: (pip install --require-hashes refuses it)")]
    if "sha256" in algorithms:
        return []
    if algorithms <= {"md5", "sha1"}:
        weak = "/".join(sorted(algorithms))
        return [("weak-hash", f"only {weak} hashes (weak): add --hash=sha256:")]
    strong = ", ".join(sorted(algorithms))
    return [("no-hash", f"no sha256 hash (has {strong}): add --hash=sha256:")]
