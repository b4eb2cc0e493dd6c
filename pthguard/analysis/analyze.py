"""Findings for one startup file, from its name, its bytes and the Python versions that read
it. Pure: nothing is read from disk, imported or executed.

* ``.pth`` files are read with :mod:`pthguard.formats.pth`, exactly as each version's ``site`` does
  (``import`` prefix on the raw line up to 3.14, after ``strip()`` on 3.15; ``\\x0c`` and the
  other ``str.splitlines`` separators from 3.13; BOM handling; dot-files skipped from 3.13).
  Every line that is executable in *any* of the versions is examined statically
  (:mod:`pthguard.analysis.decode`); a finding names the versions it applies to when that is not all
  of them, and a ``version-difference`` finding says when the versions disagree.
* ``.start`` files (3.15+): each entry point, and whether any version analysed reads it.
* ``sitecustomize``/``usercustomize``: the whole module source is examined.

A file recognised by :mod:`pthguard.analysis.legit` (exact bytes, or a setuptools line template)
produces no finding above ``info``.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

from pthguard.analysis.decode import CodeFacts, Event, examine
from pthguard.analysis.legit import known_file, template_line
from pthguard.analysis.reach import reach_of
from pthguard.analysis.rules import RULES
from pthguard.findings import Finding, Severity, rank, worst
from pthguard.formats import pth as _pth

__all__ = [
    "SUPPORTED_VERSIONS",
    "Analysis",
    "Decoded",
    "FileKind",
    "analyze",
    "analyze_module",
    "startup_kind",
    "version_text",
]

Version = tuple[int, int]
FileKind = Literal["pth", "start", "module"]
#: The versions whose reading rules :mod:`pthguard.formats.pth` models, oldest first.
SUPPORTED_VERSIONS: Final[tuple[Version, ...]] = (
    (3, 10),
    (3, 11),
    (3, 12),
    (3, 13),
    (3, 14),
    (3, 15),
)
STARTUP_MODULES: Final = ("sitecustomize", "usercustomize")
_SOURCE_SUFFIXES: Final = (".py", ".pyw")
_EVIDENCE_CHARS: Final = 200
_DECODED_CHARS: Final = 4000

_EVENT_RULES: Final[dict[str, str]] = {
    "decode": "obfuscation",
    "limit": "analysis-limit",
}
_MESSAGES: Final[dict[str, str]] = {
    "process": "runs programs: {}",
    "network": "reaches the network: {}",
    "credentials": "refers to credential path {}",
    "native-code": "calls native code: {}",
    "deserialize": "deserialises code or objects: {}",
    "exec-decoded": "executes decoded data: {}",
    "obfuscation": "decodes {} data",
    "exec-assembled": "executes a string it assembles: {}",
    "exec-dynamic": "executes data it does not spell out: {}",
    "dynamic-import": "imports a module named at run time: {}",
    "environment": "accesses environment variables: {}",
    "file-write": "writes files: {}",
    "import-hook": "installs hooks: {}",
    "opaque-data": "holds a long encoded-looking literal ({})",
    "url": "contains the URL {}",
    "analysis-limit": "not followed completely: {}",
    "exec-literal": "executes a string literal ({}); its code is examined as a layer",
    "import": "imports {} (its code runs at startup and is not followed here)",
    "syntax-error": "does not parse ({}); it fails when it runs",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Decoded:
    """A payload decoded from a line without running it."""

    line: int | None
    depth: int
    #: e.g. ``base64 -> zlib -> exec``.
    via: str
    size: int
    #: The decoded source, clipped to a few thousand characters.
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysis:
    name: str
    kind: FileKind
    sha256: str
    size: int
    #: The Python versions whose rules were applied ("3.12", ...).
    versions: tuple[str, ...]
    #: What the file is, when recognised as legitimate.
    known: str | None
    #: Import lines (``.pth``), entry points (``.start``); 0 for modules.
    executable_lines: int
    findings: tuple[Finding, ...]
    decoded: tuple[Decoded, ...] = ()

    @property
    def severity(self) -> Severity:
        return worst([f.severity for f in self.findings])


def version_text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def startup_kind(name: str) -> FileKind | None:
    """What kind of startup file ``name`` (a file name, or ``pkg/__init__.py``) is."""
    if name.endswith(".pth"):
        return "pth"
    if name.endswith(".start"):
        return "start"
    head = name.split("/", 1)[0].split(".", 1)[0]
    if head in STARTUP_MODULES and name != head:
        return "module"
    return None


def analyze(
    name: str,
    data: bytes,
    versions: Sequence[Version] = SUPPORTED_VERSIONS,
    *,
    locale_encoding: str = "utf-8",
) -> Analysis:
    """Analyse one startup file. ``versions`` are the Pythons whose rules apply (at least one)."""
    chosen = tuple(sorted(set(versions)))
    if not chosen:
        raise ValueError("at least one Python version is needed")
    kind = startup_kind(name)
    if kind == "pth":
        return _analyze_pth(name, data, chosen, locale_encoding)
    if kind == "start":
        return _analyze_start(name, data, chosen)
    if kind == "module":
        return _analyze_module(name, data, chosen)
    raise ValueError(f"{name!r} is not a startup file (.pth, .start, sitecustomize, usercustomize)")


def analyze_module(
    name: str, data: bytes, versions: Sequence[Version] = SUPPORTED_VERSIONS
) -> Analysis:
    """Analyse a module that startup code imports (``_distutils_hack/__init__.py``, a PEP 660
    finder, ``evil_helper.py``): its whole source, like ``sitecustomize``."""
    return _analyze_module(name, data, tuple(sorted(set(versions))))


# -- .pth -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reading:
    code: tuple[tuple[int, str], ...]  # (line number, exec source stripped)
    paths: tuple[str, ...]
    error: str | None


def _read(data: bytes, version: Version, locale_encoding: str) -> _Reading:
    reading = _pth.read_pth(data, version, locale_encoding=locale_encoding)
    code = tuple(
        (line.number, _pth.exec_source(line, version).strip())
        for line in reading.lines
        if line.kind == "import"
    )
    paths = tuple(_pth.path_entry(line, version) for line in reading.lines if line.kind == "path")
    return _Reading(code=code, paths=paths, error=reading.decode_error)


def _analyze_pth(
    name: str, data: bytes, versions: tuple[Version, ...], locale_encoding: str
) -> Analysis:
    readings = {v: _read(data, v, locale_encoding) for v in versions}
    processing = tuple(v for v in versions if not _pth.is_skipped_name(name, v))
    newest = (processing or versions)[-1]
    base = _base(name, "pth", data, versions, executable=len(readings[newest].code))
    known = known_file(data)
    if known is not None:
        found = Finding(
            rule="known-file", severity="info", message=f"known legitimate file: {known}"
        )
        return replace(base, known=known, findings=(found,))

    findings: list[Finding] = []
    decoded: list[Decoded] = []
    considered = processing or versions
    # Every distinct executable line, with the versions that execute it and its number.
    lines: dict[str, tuple[int, list[Version]]] = {}
    for version in reversed(considered):
        for number, source in readings[version].code:
            if source not in lines:
                lines[source] = (number, [])
            lines[source][1].append(version)
    all_templates = True
    for source, (number, where) in sorted(lines.items(), key=lambda item: item[1][0]):
        tag = _tag(where, considered)
        match = template_line(source)
        if match is not None:
            findings.append(
                Finding(
                    rule="known-file",
                    severity="info",
                    message=f"line recognised: {match.description}",
                    line=number,
                    evidence=_clip(source, _EVIDENCE_CHARS),
                    versions=tag,
                )
            )
            continue
        all_templates = False
        facts = examine(source)
        findings.extend(_event_findings(facts.events, number, source, tag))
        decoded.extend(_decoded(facts, number))
    findings.extend(_version_findings(name, readings, versions, processing))
    paths = readings[newest].paths
    if paths:
        shown = ", ".join(_clip(p, 80) for p in paths[:5]) + (", ..." if len(paths) > 5 else "")
        findings.append(
            Finding(
                rule="path-lines",
                severity="info",
                message=f"{len(paths)} path line(s), added to sys.path when they exist: {shown}",
            )
        )
    known_by_template = None
    if lines and all_templates:
        known_by_template = "every import line is a setuptools template line"
    if not processing:
        findings.append(_not_processed(name, versions))
        findings = _cap(findings, "low")
    return replace(
        base,
        known=known_by_template,
        findings=tuple(_ordered(findings)),
        decoded=tuple(decoded),
    )


def _version_findings(
    name: str,
    readings: dict[Version, _Reading],
    versions: tuple[Version, ...],
    processing: tuple[Version, ...],
) -> list[Finding]:
    findings: list[Finding] = []
    failed = [v for v in processing if readings[v].error is not None]
    if failed:
        error = readings[failed[-1]].error or ""
        findings.append(
            Finding(
                rule="decode-error",
                severity="medium",
                message=(
                    "cannot be decoded: site raises UnicodeDecodeError and the interpreter "
                    f"does not start ({_clip(error, 120)})"
                ),
                versions=_tag(failed, versions),
            )
        )
    if processing and len(processing) < len(versions):
        skipped = [v for v in versions if v not in processing]
        findings.append(
            Finding(
                rule="version-difference",
                severity="medium",
                message=(
                    f"processed by Python {_span(processing)} but skipped by "
                    f"{_span(skipped)} (its name starts with '.')"
                ),
                versions=_tag(processing, versions),
            )
        )
    groups: list[tuple[list[Version], tuple[str, ...], bool]] = []
    for version in processing:
        reading = readings[version]
        signature = tuple(source for _, source in reading.code)
        failed_here = reading.error is not None
        if groups and groups[-1][1] == signature and groups[-1][2] == failed_here:
            groups[-1][0].append(version)
        else:
            groups.append(([version], signature, failed_here))
    if len(groups) > 1:
        parts = []
        for group_versions, signature, failed_here in groups:
            numbers = [str(n) for n, _ in readings[group_versions[-1]].code]
            lines = f"line {', '.join(numbers)}" if numbers else "none"
            error = ", then fails to decode" if failed_here else ""
            parts.append(f"{_span(group_versions)}: {len(signature)} ({lines}){error}")
        findings.append(
            Finding(
                rule="version-difference",
                severity="medium",
                message="Python versions disagree on the executable lines: " + "; ".join(parts),
            )
        )
    return findings


def _not_processed(name: str, versions: tuple[Version, ...]) -> Finding:
    if name.endswith(".start"):
        reason = "only Python 3.15 and later read .start files"
    else:
        reason = "names starting with '.' are skipped from Python 3.13"
    return Finding(
        rule="not-processed",
        severity="info",
        message=(
            f"not processed by Python {_span(list(versions))} ({reason}); findings capped at low"
        ),
    )


# -- .start ---------------------------------------------------------------------------------


def _analyze_start(name: str, data: bytes, versions: tuple[Version, ...]) -> Analysis:
    processing = tuple(v for v in versions if v >= (3, 15) and not _pth.is_skipped_name(name, v))
    known = known_file(data)
    findings: list[Finding] = []
    try:
        entries = _pth.parse_start(data)
    except UnicodeDecodeError as exc:
        entries = ()
        findings.append(
            Finding(
                rule="not-processed",
                severity="info",
                message=f"not UTF-8, so Python 3.15 ignores it ({_clip(str(exc), 100)})",
            )
        )
    base = _base(name, "start", data, versions, executable=len(entries))
    if known is not None:
        found = Finding(
            rule="known-file", severity="info", message=f"known legitimate file: {known}"
        )
        return replace(base, known=known, findings=(found,))
    stem = name.rsplit("/", 1)[-1].removesuffix(".start")
    if not entries and not findings:
        findings.append(
            Finding(
                rule="entry-point",
                severity="low",
                message=(
                    f"no entry points: on Python 3.15 it suppresses the import lines of {stem}.pth"
                ),
            )
        )
    for entry in entries:
        if entry.module is None:
            findings.append(
                Finding(
                    rule="entry-point",
                    severity="info",
                    message=(
                        f"malformed entry point {entry.text!r}: Python 3.15 reports it and goes on"
                    ),
                    line=entry.number,
                )
            )
            continue
        findings.append(
            Finding(
                rule="entry-point",
                severity="low",
                message=(
                    f"calls {entry.text} at every start (importing {entry.module} runs its "
                    "module code, not followed here)"
                ),
                line=entry.number,
                evidence=_clip(entry.text, _EVIDENCE_CHARS),
            )
        )
        target = f"{entry.module}.{entry.attribute}"
        category = reach_of(target)
        if category is not None:
            findings.append(
                Finding(
                    rule=category,
                    severity=RULES[category].severity,
                    message=_MESSAGES.get(category, "{}").format(target),
                    line=entry.number,
                    evidence=_clip(entry.text, _EVIDENCE_CHARS),
                )
            )
    if not processing:
        findings.append(_not_processed(name, versions))
        findings = _cap(findings, "low")
    return replace(base, findings=tuple(_ordered(findings)))


# -- sitecustomize / usercustomize ------------------------------------------------------------


def _analyze_module(name: str, data: bytes, versions: tuple[Version, ...]) -> Analysis:
    base = _base(name, "module", data, versions, executable=0)
    known = known_file(data)
    if known is not None:
        found = Finding(
            rule="known-file", severity="info", message=f"known legitimate file: {known}"
        )
        return replace(base, known=known, findings=(found,))
    module = name.split("/", 1)[0].split(".", 1)[0]
    findings = [
        Finding(
            rule="startup-module",
            severity="low",
            message=f"{module} is imported at every interpreter start",
        )
    ]
    if not name.endswith(_SOURCE_SUFFIXES):
        findings.append(
            Finding(
                rule="compiled-module",
                severity="medium",
                message=f"compiled module ({name}): its code cannot be analysed",
            )
        )
        return replace(base, findings=tuple(findings))
    try:
        source = importlib.util.decode_source(data)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        findings.append(
            Finding(rule="syntax-error", severity="low", message=f"cannot be decoded: {exc}")
        )
        return replace(base, findings=tuple(findings))
    facts = examine(source)
    findings.extend(_event_findings(facts.events, None, None, ()))
    return replace(base, findings=tuple(_ordered(findings)), decoded=tuple(_decoded(facts, None)))


# -- helpers ----------------------------------------------------------------------------------


def _base(
    name: str, kind: FileKind, data: bytes, versions: tuple[Version, ...], *, executable: int
) -> Analysis:
    return Analysis(
        name=name,
        kind=kind,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        versions=tuple(version_text(v) for v in versions),
        known=None,
        executable_lines=executable,
        findings=(),
    )


def _event_findings(
    events: Iterable[Event], line: int | None, source: str | None, tag: tuple[str, ...]
) -> list[Finding]:
    """One finding per (rule, what), described at the deepest layer it was seen in."""
    chosen: dict[tuple[str, str], Event] = {}
    for event in events:
        rule = _EVENT_RULES.get(event.kind, event.kind)
        key = (rule, event.detail)
        if key not in chosen or len(event.via) > len(chosen[key].via):
            chosen[key] = event
    findings = []
    for (rule, detail), event in chosen.items():
        where = ""
        if event.depth:
            chain = f": {' -> '.join(event.via)}" if event.via else ", exec of a literal"
            where = f" (in nested layer {event.depth}{chain})"
        elif event.via:
            where = f" (decoded via {' -> '.join(event.via)})"
        if event.textual:
            where += " (text match: the layer does not parse)"
        number = line if line is not None else event.line
        findings.append(
            Finding(
                rule=rule,
                severity=RULES[rule].severity,
                message=_MESSAGES[rule].format(_clip(detail, 160)) + where,
                line=number,
                evidence=_clip(source, _EVIDENCE_CHARS) if source is not None else "",
                versions=tag,
            )
        )
    return findings


def _decoded(facts: CodeFacts, line: int | None) -> list[Decoded]:
    return [
        Decoded(
            line=line if line is not None else layer.line,
            depth=layer.depth,
            via=" -> ".join((*layer.via, layer.sink)),
            size=layer.size,
            text=_clip(layer.text, _DECODED_CHARS),
        )
        for layer in facts.layers
    ]


def _ordered(findings: list[Finding]) -> list[Finding]:
    """Most severe first; stable otherwise."""
    return sorted(findings, key=lambda f: -rank(f.severity))


def _cap(findings: list[Finding], ceiling: Severity) -> list[Finding]:
    return [
        replace(f, severity=ceiling) if rank(f.severity) > rank(ceiling) else f for f in findings
    ]


def _tag(where: Sequence[Version], considered: Sequence[Version]) -> tuple[str, ...]:
    if set(where) >= set(considered):
        return ()
    return tuple(version_text(v) for v in sorted(where))


def _span(versions: Sequence[Version]) -> str:
    """``3.10-3.12`` for consecutive versions, else a comma-separated list."""
    ordered = sorted(versions)
    indexes = [SUPPORTED_VERSIONS.index(v) for v in ordered if v in SUPPORTED_VERSIONS]
    if (
        len(ordered) > 1
        and len(indexes) == len(ordered)
        and indexes == list(range(indexes[0], indexes[0] + len(indexes)))
    ):
        return f"{version_text(ordered[0])}-{version_text(ordered[-1])}"
    return ", ".join(version_text(v) for v in ordered)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
