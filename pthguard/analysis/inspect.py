"""``pthguard inspect``: what a wheel or sdist would put on the startup path, before it is
installed. Archives are read in memory with size limits (:mod:`pthguard.analysis.archive`);
nothing is extracted, installed, built or executed.

``inspect WHEEL|SDIST|DIR ... [--format text|json|sarif]`` (a DIR is searched recursively for
``*.whl``, ``*.tar.gz``, ``*.tgz``, ``*.tar.bz2``, ``*.tar.xz``, ``*.tar`` and ``*.zip``,
such as the folder ``pip download -d DIR`` fills).

Wheels: the startup files that would land at the top of site-packages (top-level members
and ``*.data/purelib/``, ``*.data/platlib/``), ``sitecustomize``/``usercustomize`` modules
there, each analysed under every supported Python version's rules (differences reported);
files that would land outside site-packages (``*.data/scripts``, ``*.data/headers``,
``*.data/data``; a startup file placed into a site directory through ``*.data/data`` is
analysed too); member names that escape the target (absolute, ``..``); duplicate names; and
RECORD against the archive (missing RECORD, malformed rows and non-sha256 hashes, members
not listed, rows without a member, hash or size mismatches).

Sdists (``.tar.*``, ``.zip``): the startup files they contain (installed only if their build
installs them), member names or links that escape, and ``setup.py``, whose install-time
code is not checked (use ``pip install --only-binary :all:``).

Exit code: 1 when any finding is high; else 3 when an archive could not be read; else 0.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Final

from pthguard.analysis.analyze import SUPPORTED_VERSIONS, analyze, startup_kind
from pthguard.analysis.archive import (
    MAX_MEMBERS,
    ArchiveError,
    Budget,
    LimitExceeded,
    Read,
    name_problem,
    read_zip_member,
    tar_members,
)
from pthguard.analysis.report import Item, Report
from pthguard.analysis.rules import RULES
from pthguard.analysis.scan import unreadable
from pthguard.findings import Finding, Severity
from pthguard.formats import record as _record

__all__ = ["inspect", "inspect_sdist", "inspect_wheel"]

_TAR_SUFFIXES: Final = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar")
_SHOWN: Final = 20
_SITE_DATA: Final = re.compile(
    r"(?:^|/)(?:lib(?:64)?/python3\.\d+t?|Lib)/(?:site|dist)-packages/([^/]+)\Z"
)
_INSTALL_TIME: Final = "install-time code (not checked; use --only-binary)"


def inspect(paths: Sequence[str]) -> Report:
    items: list[Item] = []
    targets: list[str] = []
    for path in paths:
        absolute = os.path.abspath(path)
        targets.append(absolute)
        if os.path.isdir(absolute):
            found = list(_archives_in(absolute, items))
            if not found:
                note = Finding(
                    rule="not-processed",
                    severity="info",
                    message="no wheel or sdist found in this directory",
                )
                items.append(Item(path=absolute, kind="path", findings=(note,)))
            for archive in found:
                items.extend(_inspect_one(archive))
        else:
            items.extend(_inspect_one(absolute))
    return Report(command="inspect", targets=tuple(targets), items=tuple(items))


def _archives_in(root: str, items: list[Item]) -> Iterator[str]:
    errors: list[OSError] = []
    for directory, dirnames, filenames in os.walk(root, onerror=errors.append):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".whl", ".zip", *_TAR_SUFFIXES)):
                yield os.path.join(directory, name)
    for error in errors:
        target = error.filename if isinstance(error.filename, str) else root
        items.append(unreadable(target, f"cannot list: {error.strerror or error}"))


def _inspect_one(path: str) -> list[Item]:
    if not os.path.exists(path):
        return [unreadable(path, "no such file or directory")]
    if path.endswith(".whl"):
        return inspect_wheel(path)
    if path.endswith((".zip", *_TAR_SUFFIXES)):
        return inspect_sdist(path)
    return [unreadable(path, "not a wheel (.whl) or sdist (.tar.gz, .zip)", kind="archive")]


def _finding(rule: str, message: str, *, severity: Severity | None = None) -> Finding:
    return Finding(rule=rule, severity=severity or RULES[rule].severity, message=message)


def _capped(findings: list[Finding], rule: str, what: str) -> list[Finding]:
    """At most :data:`_SHOWN` findings of one rule, then one that counts the rest."""
    if len(findings) <= _SHOWN:
        return findings
    rest = len(findings) - _SHOWN
    return [*findings[:_SHOWN], _finding(rule, f"... and {rest} more {what}")]


# -- wheels -----------------------------------------------------------------------------------


def inspect_wheel(path: str) -> list[Item]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return [unreadable(path, f"cannot open as a zip archive: {exc}", kind="archive")]
    with archive:
        return _wheel_items(path, archive)


def _wheel_items(path: str, archive: zipfile.ZipFile) -> list[Item]:
    findings: list[Finding] = []
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        findings.append(_finding("archive-limit", f"more than {MAX_MEMBERS} members: rest ignored"))
        infos = infos[:MAX_MEMBERS]
    names = [info.filename for info in infos]
    findings.extend(_name_findings(names))
    dist_info = _dist_info(path, names, findings)
    data_dir = dist_info.removesuffix(".dist-info") + ".data" if dist_info else None
    record_name = f"{dist_info}/RECORD" if dist_info else None

    budget = Budget()
    reads: dict[str, Read] = {}
    files = [info for info in infos if not info.is_dir()]
    for index, info in enumerate(files):
        keep = info.filename == record_name or _startup_target(info.filename, data_dir) is not None
        try:
            reads.setdefault(info.filename, read_zip_member(archive, info, budget, keep=keep))
        except LimitExceeded as exc:
            findings.append(_finding("archive-limit", f"{info.filename}: not read ({exc})"))
            if budget.total <= 0:
                rest = len(files) - index - 1
                findings.append(
                    _finding("archive-limit", f"{rest} further member(s) not read or checked")
                )
                break
        except ArchiveError as exc:
            findings.append(_finding("unreadable", f"cannot read member: {exc}"))
    findings.extend(_record_findings(files, reads, dist_info, record_name))
    findings.extend(_placement_findings(names, data_dir))
    items = [
        Item(
            path=path,
            kind="archive",
            location="wheel",
            findings=tuple(findings),
        )
    ]
    for info in files:
        target = _startup_target(info.filename, data_dir)
        read = reads.get(info.filename)
        if target is None or read is None or read.data is None:
            continue
        name, location = target
        analysis = analyze(name, read.data, SUPPORTED_VERSIONS)
        kind = analysis.kind
        items.append(
            Item(path=path, kind=kind, member=info.filename, location=location, analysis=analysis)
        )
    return items


def _name_findings(names: list[str]) -> list[Finding]:
    findings = [
        _finding(
            "archive-traversal",
            f"member {name!r} {problem}: unpacking it writes outside the target directory",
        )
        for name in names
        if (problem := name_problem(name)) is not None
    ]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    findings.extend(
        _finding(
            "archive-duplicate",
            f"member {name!r} appears more than once: tools disagree on which one counts",
        )
        for name in duplicates
    )
    return findings


def _dist_info(path: str, names: list[str], findings: list[Finding]) -> str | None:
    tops = sorted(
        {
            n.split("/", 1)[0]
            for n in names
            if "/" in n and n.split("/", 1)[0].endswith(".dist-info")
        }
    )
    if not tops:
        findings.append(_finding("record-missing", "no .dist-info directory: not a valid wheel"))
        return None
    if len(tops) > 1:
        findings.append(
            _finding("archive-duplicate", f"several .dist-info directories: {', '.join(tops)}")
        )
        stem = os.path.basename(path).split("-")
        wanted = f"{stem[0]}-{stem[1]}.dist-info" if len(stem) > 1 else ""
        return wanted if wanted in tops else tops[0]
    return tops[0]


def _startup_target(name: str, data_dir: str | None) -> tuple[str, str] | None:
    """``(name as installed, where)`` for a member that lands where ``site`` reads it."""
    parts = name.split("/")
    location = "site-packages"
    if data_dir is not None and parts[0] == data_dir and len(parts) >= 3:
        scheme, rest = parts[1], parts[2:]
        if scheme in ("purelib", "platlib"):
            location = f"site-packages (via {data_dir}/{scheme})"
            parts = rest
        elif scheme == "data":
            match = _SITE_DATA.search("/".join(rest))
            if match is None or startup_kind(match.group(1)) is None:
                return None
            return match.group(1), f"a site directory of the prefix (via {data_dir}/data)"
        else:
            return None
    relative = "/".join(parts)
    kind = startup_kind(relative)
    if kind in ("pth", "start") and len(parts) == 1:
        return relative, location
    if kind == "module" and (
        len(parts) == 1 or (len(parts) == 2 and parts[1].startswith("__init__."))
    ):
        return relative, location
    return None


def _placement_findings(names: list[str], data_dir: str | None) -> list[Finding]:
    by_scheme: dict[str, list[str]] = {}
    for name in names:
        parts = name.split("/")
        if name.endswith("/") or len(parts) < 3 or not parts[0].endswith(".data"):
            continue
        if data_dir is not None and parts[0] != data_dir:
            by_scheme.setdefault(f"unexpected {parts[0]}", []).append(name)
            continue
        if parts[1] not in ("purelib", "platlib"):
            by_scheme.setdefault(parts[1], []).append("/".join(parts[2:]))
    findings = []
    for scheme, members in sorted(by_scheme.items()):
        shown = ", ".join(members[:5]) + (", ..." if len(members) > 5 else "")
        if scheme == "scripts":
            message = f"installs {len(members)} script(s) into the environment's bin/: {shown}"
            findings.append(_finding("archive-outside", message, severity="low"))
        elif scheme == "headers":
            message = f"installs {len(members)} C header(s) outside site-packages: {shown}"
            findings.append(_finding("archive-outside", message, severity="low"))
        elif scheme == "data":
            into_site = [m for m in members if _SITE_DATA.search(m)]
            message = f"installs {len(members)} file(s) relative to the prefix: {shown}"
            if into_site:
                message += f"; into a site directory: {', '.join(into_site[:5])}"
            findings.append(_finding("archive-outside", message))
        else:
            message = f"files under {scheme!r}, an unknown install scheme: {shown}"
            findings.append(_finding("archive-outside", message))
    return findings


def _record_findings(
    files: list[zipfile.ZipInfo],
    reads: dict[str, Read],
    dist_info: str | None,
    record_name: str | None,
) -> list[Finding]:
    if dist_info is None or record_name is None:
        return []
    record = reads.get(record_name)
    if record is None or record.data is None:
        if record_name not in {info.filename for info in files}:
            return [_finding("record-missing", f"no {record_name}: pip refuses the wheel")]
        return []
    try:
        text = record.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [_finding("record-malformed", f"{record_name} is not UTF-8: {exc}")]
    rows, problems = _record.read_record(record.data)
    findings = _capped(
        [_finding("record-malformed", f"{record_name} {problem}") for problem in problems],
        "record-malformed",
        "RECORD problems",
    )
    listed = {row[0] for row in csv.reader(io.StringIO(text, newline="")) if row}
    exempt = {record_name, f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
    members = {info.filename for info in files}
    unlisted = [
        _finding("record-unlisted", f"member {name!r} is not listed in RECORD")
        for name in sorted(members - listed - exempt)
    ]
    findings += _capped(unlisted, "record-unlisted", "unlisted members")
    orphans = [
        _finding("record-orphan", f"RECORD lists {row.path!r}, which the wheel does not hold")
        for row in rows
        if row.path not in members
    ]
    findings += _capped(orphans, "record-orphan", "RECORD rows without a member")
    mismatched: list[Finding] = []
    for row in rows:
        read = reads.get(row.path)
        if read is None:
            continue
        if row.sha256 is None:
            if row.path not in exempt:
                mismatched.append(
                    _finding("record-malformed", f"RECORD has no hash for {row.path!r}")
                )
            continue
        if row.sha256 != read.sha256:
            mismatched.append(
                _finding(
                    "record-mismatch",
                    f"{row.path!r}: sha256 {read.sha256[:16]}... but RECORD says "
                    f"{row.sha256[:16]}...",
                )
            )
        if row.size is not None and row.size != read.size:
            mismatched.append(
                _finding(
                    "record-mismatch",
                    f"{row.path!r}: {read.size} bytes but RECORD says {row.size}",
                )
            )
    findings += _capped(mismatched, "record-mismatch", "hash/size problems")
    return findings


# -- sdists -----------------------------------------------------------------------------------


def _sdist_wanted(name: str) -> bool:
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return startup_kind(base) is not None or _is_setup_py(name)


def _is_setup_py(name: str) -> bool:
    parts = name.strip("/").split("/")
    return parts[-1] == "setup.py" and len(parts) <= 2


def inspect_sdist(path: str) -> list[Item]:
    findings: list[Finding] = []
    members: list[tuple[str, Read | None]] = []
    try:
        if path.endswith(".zip"):
            members = _zip_sdist(path, findings)
        else:
            members = _tar_sdist(path, findings)
    except ArchiveError as exc:
        findings.append(_finding("unreadable", f"cannot read the archive: {exc}"))
    except LimitExceeded as exc:
        findings.append(_finding("archive-limit", f"reading stopped: {exc}"))
    items: list[Item] = []
    for name, read in members:
        if _is_setup_py(name):
            findings.append(_finding("install-time-code", f"{name}: {_INSTALL_TIME}"))
            continue
        base = name.rstrip("/").rsplit("/", 1)[-1]
        if read is None or read.data is None or startup_kind(base) is None:
            continue
        analysis = analyze(base, read.data, SUPPORTED_VERSIONS)
        items.append(
            Item(
                path=path,
                kind=analysis.kind,
                member=name,
                location="sdist (installed only if its build installs it)",
                analysis=analysis,
            )
        )
    archive = Item(path=path, kind="archive", location="sdist", findings=tuple(findings))
    return [archive, *items]


def _tar_sdist(path: str, findings: list[Finding]) -> list[tuple[str, Read | None]]:
    found: list[tuple[str, Read | None]] = []
    names: list[str] = []
    budget = Budget()
    with open(path, "rb") as raw:
        try:
            for member in tar_members(raw, budget, _sdist_wanted):
                names.append(member.name)
                if member.type in ("symlink", "hardlink"):
                    problem = name_problem(member.linkname)
                    if problem is not None:
                        findings.append(
                            _finding(
                                "archive-traversal",
                                f"{member.type} {member.name!r} -> {member.linkname!r} "
                                f"{problem}: unpacking it reaches outside the target",
                            )
                        )
                if member.type == "file" and _sdist_wanted(member.name):
                    found.append((member.name, member.read))
        finally:
            findings[:0] = _name_findings(names)
    return found


def _zip_sdist(path: str, findings: list[Finding]) -> list[tuple[str, Read | None]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError(f"cannot open as a zip archive: {exc}") from exc
    found: list[tuple[str, Read | None]] = []
    budget = Budget()
    with archive:
        infos = archive.infolist()[:MAX_MEMBERS]
        findings.extend(_name_findings([info.filename for info in infos]))
        for info in infos:
            if info.is_dir() or not _sdist_wanted(info.filename):
                continue
            try:
                found.append((info.filename, read_zip_member(archive, info, budget, keep=True)))
            except LimitExceeded as exc:
                findings.append(_finding("archive-limit", f"{info.filename}: not read ({exc})"))
    return found
