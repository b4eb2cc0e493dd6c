"""``pthguard scan``: startup files of an environment and what their code reaches. No
manifest needed; nothing scanned is imported or executed.

``scan [PATH...] [--python PY]... [--format text|json|sarif]``

* ``--python PY`` (repeatable): the site directories ``PY`` processes at startup, as
  :func:`~pthguard.environment.probe.probe` reports them (it runs ``PY -S -I``, so none of the
   startup
  code runs), each read with ``PY``'s version rules and locale encoding; every ``*.pth`` and
  ``*.start`` in them, and the ``sitecustomize``/``usercustomize`` module an ``import`` would
  find (the path finder's rules, without importing). pthguard's own gate files are
  recognised by their exact expected bytes.
* ``PATH``: a startup file, or a directory searched recursively (symlinked directories are
  not followed) for ``*.pth``, ``*.start``, ``sitecustomize.*`` and ``usercustomize.*``.
  The rules of the version named by a ``pythonX.Y`` path component apply, else those of
  every supported version (3.10-3.15), with differences reported. A directory holding a
  pthguard installation (``.pthguard-TOKEN/``) has its gate and watchdog recognised as with
  ``--python``, by their exact expected bytes. A ``sitecustomize``/``usercustomize`` module
  is imported at startup only from the top of a directory on ``sys.path``: one inside a
  package, or in a directory that is neither the scanned one nor a ``site-packages``,
  ``dist-packages`` or ``pythonX.Y`` directory, is analysed all the same but said to run
  only where its directory is put on ``sys.path``.
* Neither: the interpreter running pthguard, as with ``--python``.

Exit code: 1 when any finding is high; else 3 when some path could not be read (reported as
``unreadable`` findings too); else 0.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from pthguard.analysis.analyze import SUPPORTED_VERSIONS, Analysis, analyze, startup_kind
from pthguard.analysis.report import Item, Report
from pthguard.errors import PthguardError
from pthguard.findings import Finding
from pthguard.formats import pth as _pth
from pthguard.gate.names import hidden_flag

if TYPE_CHECKING:
    from pthguard.environment.probe import PendingProbe

__all__ = ["MAX_FILE", "scan", "unreadable", "versions_for_path"]

#: Startup files larger than this are not read (the finding says so).
MAX_FILE: Final = 64 << 20
_VERSION_DIR: Final = re.compile(r"python(3)\.(\d+)t?\Z")
#: Directories whose top a sitecustomize is imported from: site directories, the stdlib.
_SITE_DIR: Final = re.compile(r"(site-packages|dist-packages|python3\.\d+t?)\Z")
_STARTUP_MODULES: Final = ("sitecustomize", "usercustomize")

Version = tuple[int, int]


def scan(
    *,
    paths: Sequence[str] = (),
    pythons: Sequence[str] = (),
    pending: Mapping[str, PendingProbe] | None = None,
) -> Report:
    """Scan ``paths`` and the interpreters ``pythons``; the current interpreter if neither.
    ``pending``: probes of (some of) ``pythons`` already started
    (:func:`pthguard.environment.probe.start`)."""
    items: list[Item] = []
    targets: list[str] = []
    if not paths and not pythons:
        pythons = [sys.executable]
    for python in pythons:
        targets.append(f"--python {python}")
        items.extend(_scan_python(python, (pending or {}).get(python)))
    for path in paths:
        absolute = os.path.abspath(path)
        targets.append(absolute)
        items.extend(_scan_path(absolute))
    return Report(command="scan", targets=tuple(targets), items=tuple(items))


def unreadable(path: str, message: str, kind: str = "path") -> Item:
    finding = Finding(rule="unreadable", severity="medium", message=message)
    return Item(path=path, kind=kind, findings=(finding,))  # type: ignore[arg-type]


def read_startup_file(path: str) -> bytes | Item:
    """The bytes of a startup file, or an :class:`Item` saying why they cannot be had."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE + 1)
    except OSError as exc:
        return unreadable(path, f"cannot read: {exc.strerror or exc}")
    if len(data) > MAX_FILE:
        finding = Finding(
            rule="analysis-limit",
            severity="medium",
            message=f"larger than {MAX_FILE} bytes: not analysed",
        )
        return Item(path=path, kind="path", findings=(finding,))
    return data


# -- an interpreter ---------------------------------------------------------------------------


def _scan_python(python: str, pending: PendingProbe | None) -> list[Item]:
    from pthguard.environment import probe as _probe  # noqa: PLC0415
    from pthguard.environment.finder import module_chain  # noqa: PLC0415

    try:
        with pending or _probe.start(python) as started:
            probe = started.result()
    except PthguardError as exc:
        return [unreadable(python, exc.diagnostics())]
    label = f"Python {probe.version_text} {probe.executable}"
    versions = [probe.minor] if probe.minor in SUPPORTED_VERSIONS else list(SUPPORTED_VERSIONS)
    rules = versions[-1]  # for sys.path: the probed version, or the newest modelled one
    encoding = probe.locale_encoding
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    site_dirs = [s.path for s in probe.site_dirs if s.exists]
    items: list[Item] = []
    own = _own_files(site_dirs, items)
    path_lines: list[str] = []
    for site in site_dirs:
        try:
            names = sorted(os.listdir(site))
        except OSError as exc:
            items.append(unreadable(site, f"cannot list site directory: {exc.strerror or exc}"))
            continue
        for name in names:
            if not name.endswith((".pth", ".start")):
                continue
            full = os.path.join(site, name)
            item = _startup_item(
                full,
                name,
                versions=versions,
                encoding=encoding,
                location=site,
                python=label,
                own=own,
            )
            if item is None:
                continue
            items.append(item)
            if name.endswith(".pth") and not _pth.is_skipped_name(name, rules):
                path_lines.extend(_path_lines(full, site, rules, encoding))
    search = [*probe.sys_path, *site_dirs, *path_lines]
    modules = _STARTUP_MODULES if probe.user_site_enabled else _STARTUP_MODULES[:1]
    for module in modules:
        chain = module_chain(probe, search, module)
        if not chain:
            continue
        found = chain[0]
        name = os.path.basename(found)
        if name.startswith("__init__."):
            name = f"{module}/{name}"
        where = (
            os.path.dirname(found) if "/" not in name else os.path.dirname(os.path.dirname(found))
        )
        item = _startup_item(
            found,
            name,
            versions=versions,
            encoding=encoding,
            location=where,
            python=label,
            own=own,
        )
        if item is not None:
            items.append(item)
    return items


def _own_files(site_dirs: list[str], items: list[Item]) -> dict[str, bytes | None]:
    from pthguard.environment import layout as _layout  # noqa: PLC0415

    try:
        return _layout.own_files(_layout.find_installations(site_dirs))
    except PthguardError as exc:
        items.append(unreadable(site_dirs[0] if site_dirs else "?", exc.diagnostics()))
        return {}


def _own_files_here(directory: str, items: list[Item]) -> dict[str, bytes | None]:
    """:func:`_own_files` of one directory, by the paths this walk reaches them by (the
    installation records the paths it was installed at)."""
    here = os.path.realpath(directory)
    return {
        os.path.join(directory, os.path.basename(path)): data
        for path, data in _own_files([directory], items).items()
        if os.path.realpath(os.path.dirname(path)) == here
    }


def _path_lines(full: str, site: str, version: Version, encoding: str) -> Iterator[str]:
    try:
        with open(full, "rb") as handle:
            data = handle.read(MAX_FILE)
    except OSError:
        return
    lines = _pth.parse_pth(data, version, locale_encoding=encoding)
    for added in _pth.joined_paths(lines, site, version):
        if os.path.exists(added):  # as site: it appends what exists
            yield added


def _startup_item(
    full: str,
    name: str,
    *,
    versions: list[Version],
    location: str,
    encoding: str = "utf-8",
    python: str | None = None,
    own: dict[str, bytes | None] | None = None,
    top_level: bool = True,
) -> Item | None:
    try:
        info = os.stat(full)
    except FileNotFoundError:
        note = Finding(
            rule="not-processed",
            severity="info",
            message="dangling symlink: Python skips it",
        )
        return Item(path=full, kind="path", location=location, python=python, findings=(note,))
    except OSError as exc:
        return unreadable(full, f"cannot stat: {exc.strerror or exc}")
    if not stat.S_ISREG(info.st_mode):
        return None
    data = read_startup_file(full)
    if isinstance(data, Item):
        return replace(data, location=location, python=python)
    kind = startup_kind(name)
    if kind is None:
        return None
    analysis = analyze(name, data, versions, locale_encoding=encoding)
    if own and full in own and own[full] == data:
        gate = Finding(
            rule="pthguard-gate",
            severity="info",
            message="pthguard's own file, byte for byte as pthguard wrote it",
        )
        analysis = replace(analysis, known="pthguard gate", findings=(gate,), decoded=())
    elif hidden_flag(info) and any(v >= (3, 13) for v in versions):
        analysis = _mark_hidden(analysis)
    if kind == "module" and not top_level:
        analysis = _not_top_level(analysis, location)
    return Item(path=full, kind=kind, location=location, python=python, analysis=analysis)


def _not_top_level(analysis: Analysis, location: str) -> Analysis:
    """A ``sitecustomize`` that ``site`` does not import as it stands (its code is still
    analysed: a launcher may put its directory on ``sys.path``, as opentelemetry's does)."""
    note = Finding(
        rule="not-processed",
        severity="info",
        message=(
            f"not at the top of a site directory ({location}): Python imports it at startup "
            "only where that directory is on sys.path (PYTHONPATH, a .pth path line)"
        ),
    )
    kept = tuple(f for f in analysis.findings if f.rule != "startup-module")
    return replace(analysis, findings=(note, *kept))


def _mark_hidden(analysis: Analysis) -> Analysis:
    note = Finding(
        rule="not-processed",
        severity="info",
        message="the file has the hidden flag: Python 3.13 and later skip it",
    )
    return replace(analysis, findings=(*analysis.findings, note))


# -- paths ------------------------------------------------------------------------------------


def versions_for_path(path: str) -> list[Version]:
    """The version a ``.../pythonX.Y/...`` component names, else every supported version."""
    for part in reversed(path.split(os.sep)):
        match = _VERSION_DIR.match(part)
        if match:
            version = (int(match.group(1)), int(match.group(2)))
            if version in SUPPORTED_VERSIONS:
                return [version]
    return list(SUPPORTED_VERSIONS)


def _scan_path(path: str) -> list[Item]:
    try:
        info = os.stat(path)
    except OSError as exc:
        return [unreadable(path, f"cannot read: {exc.strerror or exc}")]
    if stat.S_ISDIR(info.st_mode):
        return list(_scan_directory(path))
    name = os.path.basename(path)
    if os.path.basename(os.path.dirname(path)) in _STARTUP_MODULES and name.startswith("__init__."):
        name = f"{os.path.basename(os.path.dirname(path))}/{name}"
    if startup_kind(name) is None:
        note = Finding(
            rule="not-processed",
            severity="info",
            message="not a startup file (.pth, .start, sitecustomize, usercustomize): skipped",
        )
        return [Item(path=path, kind="path", findings=(note,))]
    item = _startup_item(
        path, name, versions=versions_for_path(path), location=os.path.dirname(path)
    )
    return [item] if item is not None else []


def _scan_directory(root: str) -> Iterator[Item]:
    from pthguard.environment.layout import STATE_PREFIX  # noqa: PLC0415

    errors: list[OSError] = []
    own: dict[str, bytes | None] = {}
    for directory, dirnames, filenames in os.walk(root, onerror=errors.append):
        dirnames.sort()
        if any(d.startswith(STATE_PREFIX) for d in dirnames):  # perhaps pthguard's own files
            found: list[Item] = []
            own.update(_own_files_here(directory, found))
            yield from found
        versions = versions_for_path(directory)
        base = os.path.basename(directory)
        for filename in sorted(filenames):
            name = filename
            if base in _STARTUP_MODULES and filename.startswith("__init__."):
                name = f"{base}/{filename}"
            elif base == "__pycache__":
                continue
            if startup_kind(name) is None:
                continue
            full = os.path.join(directory, filename)
            location = directory if "/" not in name else os.path.dirname(directory)
            top = location == root or _SITE_DIR.match(os.path.basename(location)) is not None
            item = _startup_item(
                full, name, versions=versions, location=location, own=own, top_level=top
            )
            if item is not None:
                yield item
    for error in errors:
        target = error.filename if isinstance(error.filename, str) else root
        yield unreadable(target, f"cannot list: {error.strerror or error}")
