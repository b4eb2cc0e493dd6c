"""Scan a live environment into the manifest model (the I/O shell around the pure parsers).

For every site directory the target processes at startup (see :mod:`pthguard.environment.probe`):
each ``.pth``/``.start`` file (exact bytes hashed, code lines, owning distribution), every
distribution (``*.dist-info`` and ``*.egg-info``), top-level entries no distribution claims,
and files claimed twice; then the ``sitecustomize``/``usercustomize`` module that would be
imported (found by :mod:`pthguard.environment.finder`). Nothing of the target is imported or
executed.

What the scan cannot describe or finds doubtful is a :class:`~pthguard.findings.Finding` of a
rule in :data:`pthguard.environment.rules.RULES`. Problems that make an honest manifest
impossible (an unreadable ``.pth``, a non-UTF-8 name) are the rules in
:data:`~pthguard.environment.rules.BLOCKING`, listed by :attr:`Snapshot.errors`:
``snapshot`` refuses to write a manifest while any is present.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field

from pthguard._internal.hashing import sha256_bytes, sha256_file
from pthguard._internal.statcache import StatCache
from pthguard.environment.claims import Claims
from pthguard.environment.distfiles import EMPTY_TABLE, DistFiles, RecordTable, read_optional
from pthguard.environment.finder import find_module
from pthguard.environment.probe import Probe
from pthguard.environment.rules import BLOCKING, RULES
from pthguard.findings import Finding
from pthguard.formats import pth as _pth
from pthguard.formats import record as _record
from pthguard.formats.metadata import normalize_name
from pthguard.manifest.model import (
    Distribution,
    EnvironmentInfo,
    FileHash,
    Manifest,
    Policy,
    SiteDir,
    StartupFile,
    StartupModule,
)

STARTUP_SUFFIXES = (".pth", ".start")
METADATA_SUFFIXES = (".dist-info", ".egg-info")
#: Top-level names that hold only bytecode caches: never executed without their source.
IGNORED_TOP_LEVEL = frozenset({"__pycache__"})


@dataclass(slots=True, kw_only=True)
class DistributionScan:
    """A distribution with what deep verification needs beyond the manifest entry."""

    entry: Distribution
    #: The RECORD's rows as columns (:class:`~pthguard.environment.distfiles.RecordTable`).
    record: RecordTable = EMPTY_TABLE

    @property
    def rows(self) -> tuple[_record.RecordRow, ...]:
        return self.record.rows()


@dataclass(slots=True, kw_only=True)
class Snapshot:
    environment: EnvironmentInfo
    version: tuple[int, int]
    site_dirs: list[SiteDir] = field(default_factory=list)
    startup_modules: list[StartupModule] = field(default_factory=list)
    distributions: list[DistributionScan] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: Directories ``.pth`` path lines add to ``sys.path`` (in order), for module lookup.
    path_lines: list[str] = field(default_factory=list)
    #: pthguard's own files (the gate, its state, the watchdog) with their expected bytes.
    own: dict[str, bytes | None] = field(default_factory=dict)

    def is_own(self, path: str) -> bool:
        """True for a file pthguard wrote that still holds exactly what it wrote."""
        if path not in self.own:
            return False
        expected = self.own[path]
        if expected is None:
            return os.path.isdir(path)
        try:
            with open(path, "rb") as handle:
                return handle.read() == expected
        except OSError:
            return False

    @property
    def errors(self) -> list[Finding]:
        """The findings that prevent an honest manifest (their rule is in ``BLOCKING``)."""
        return [f for f in self.findings if f.rule in BLOCKING]

    def import_search(self, probe: Probe) -> list[str]:
        """Where an import at startup looks, in order: the interpreter's own ``sys.path``
        (under ``-S``), the site directories, then the directories ``.pth`` path lines add."""
        return [*probe.sys_path, *(s.path for s in self.site_dirs), *self.path_lines]

    def note(self, rule: str, path: str, message: str) -> None:
        """Add a finding of ``rule`` (from :data:`~pthguard.environment.rules.RULES`)."""
        self.findings.append(RULES[rule].finding(message, path=path))


def check_runtime_view(snap: Snapshot) -> None:
    """Compare the snapshot with the distributions the runtime itself finds (importlib-metadata,
    :mod:`pthguard.environment.runtime_view`): one it sees that the snapshot does not describe
    blocks an honest manifest. Used where a manifest is made or installed, not by ``verify``
    (it costs the import of importlib-metadata)."""
    from pthguard.environment import runtime_view as _runtime_view  # noqa: PLC0415

    for site in snap.site_dirs:
        described = {
            (d.entry.name, d.entry.version)
            for d in snap.distributions
            if d.entry.site_dir == site.path
        }
        for seen in _runtime_view.unseen_by_snapshot(site.path, described):
            snap.note(
                "unseen-distribution",
                seen.where,
                f"importlib.metadata sees {seen.name or '?'} {seen.version or '?'} here, which "
                "pthguard does not describe; remove it, or reinstall it with pip",
            )


def _utf8_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def scan(
    probe: Probe, own: dict[str, bytes | None] | None = None, *, cache: StatCache | None = None
) -> Snapshot:
    """Scan the environment ``probe`` describes, leaving out pthguard's ``own`` files;
    METADATA and RECORD files are read through ``cache``
    (:func:`pthguard.environment.distfiles.records_cache`), saved at the end."""
    snap = Snapshot(
        environment=EnvironmentInfo(
            implementation=probe.implementation,
            python_version=probe.version_text,
            cache_tag=probe.cache_tag,
            platform=probe.platform,
            prefix=probe.prefix,
            executable=probe.executable,
        ),
        version=probe.minor,
        own=dict(own or {}),
    )
    files = DistFiles(cache)
    escapes = _Escapes(probe)
    for site in probe.site_dirs:
        if site.exists:
            _scan_site_dir(snap, probe, site.path, site.role, files=files, escapes=escapes)
    if cache is not None:
        cache.save()
    search = snap.import_search(probe)
    names = ["sitecustomize"] + (["usercustomize"] if probe.user_site_enabled else [])
    for module in names:
        snap.startup_modules.append(_startup_module(snap, probe, module, search))
    return snap


def _scan_site_dir(
    snap: Snapshot, probe: Probe, path: str, role: str, *, files: DistFiles, escapes: _Escapes
) -> None:
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        snap.note("unreadable", path, f"cannot list: {exc}")
        return
    good_names = []
    for name in names:
        if snap.is_own(os.path.join(path, name)):
            continue
        if _utf8_name(name):
            good_names.append(name)
        else:
            shown = os.fsencode(name)
            snap.note(
                "non-utf8-name",
                # printable, valid UTF-8 (reports are JSON): \xNN for each bad byte
                os.path.join(path, shown.decode("utf-8", "backslashreplace")),
                f"file name {shown!r} is not UTF-8; rename or remove it",
            )
    claims = Claims(path)
    dists: list[DistributionScan] = []
    for name in good_names:
        if name.endswith(METADATA_SUFFIXES):
            found = _scan_distribution(snap, path, name, claims, files)
            if found is not None:
                dists.append(found)
                escapes.check(snap, path, found)
    startup: list[StartupFile] = []
    for name in good_names:
        if name.endswith(STARTUP_SUFFIXES) and not _pth.is_skipped_name(name, probe.minor):
            entry = _scan_startup_file(snap, probe, path, name, claims)
            if entry is not None:
                startup.append(entry)
    top_claimed = claims.claimed_top_level()
    unclaimed = [
        name
        for name in good_names
        if name not in top_claimed
        and name not in IGNORED_TOP_LEVEL
        and not name.endswith(METADATA_SUFFIXES)
        and not name.endswith(STARTUP_SUFFIXES)
    ]
    for rel, owners in claims.claimed_twice():
        if len(set(owners)) > 1:
            snap.note(
                "claimed-twice",
                os.path.join(path, rel),
                "claimed by several distributions: " + ", ".join(sorted(set(owners))),
            )
    snap.site_dirs.append(
        SiteDir(
            path=path,
            role=role,  # type: ignore[arg-type]
            startup_files=tuple(startup),
            unclaimed=tuple(unclaimed),
        )
    )
    snap.distributions.extend(dists)


def _scan_startup_file(
    snap: Snapshot, probe: Probe, site: str, name: str, claims: Claims
) -> StartupFile | None:
    full = os.path.join(site, name)
    try:
        info = os.stat(full)
    except FileNotFoundError:
        snap.note(
            "dangling-symlink",
            full,
            "dangling symlink: Python skips it, but it cannot be allowlisted; remove it",
        )
        return None
    except OSError as exc:
        snap.note("unreadable", full, f"cannot stat: {exc}")
        return None
    if not stat.S_ISREG(info.st_mode):
        snap.note(
            "not-regular-file",
            full,
            "not a regular file: Python skips it, but it cannot be allowlisted; remove it",
        )
        return None
    try:
        with open(full, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        snap.note(
            "unreadable", full, f"cannot read ({exc.strerror}); fix its permissions or remove it"
        )
        return None
    if name.endswith(".pth"):
        lines = _pth.parse_pth(data, probe.minor, locale_encoding=probe.locale_encoding)
        code = [line.text for line in lines if line.kind == "import"]
        for added in _pth.joined_paths(lines, site, probe.minor):
            if os.path.exists(added) and added not in snap.path_lines:
                snap.path_lines.append(added)
    else:
        try:
            code = [entry.text for entry in _pth.parse_start(data)]
        except UnicodeDecodeError:
            code = []  # 3.15 ignores the whole file: no entry point runs
            snap.note(
                "start-not-utf8",
                full,
                "not UTF-8: Python ignores this .start file; "
                "allowlisted by its bytes, with no entry points",
            )
    return StartupFile(
        name=name,
        sha256=sha256_bytes(data),
        size=len(data),
        code_lines=tuple(code),
        owner=claims.owner(name),
    )


def _scan_distribution(
    snap: Snapshot, site: str, meta_name: str, claims: Claims, files: DistFiles
) -> DistributionScan | None:
    meta_path = os.path.join(site, meta_name)
    kind = "dist-info" if meta_name.endswith(".dist-info") else "egg-info"
    is_dir = os.path.isdir(meta_path)
    if kind == "dist-info" and not is_dir:
        snap.note("metadata-not-directory", meta_path, "not a directory; ignored")
        return None
    metadata_file = (
        os.path.join(meta_path, "METADATA" if kind == "dist-info" else "PKG-INFO")
        if is_dir
        else meta_path
    )
    metadata = files.metadata(metadata_file)
    if metadata is None:
        snap.note(
            "metadata-missing",
            meta_path,
            "no METADATA/PKG-INFO: not a distribution Python can see; remove the directory",
        )
        return None
    if not metadata.name or not metadata.version:
        snap.note("metadata-incomplete", metadata_file, "metadata lacks Name or Version")
        return None
    name = normalize_name(metadata.name)
    installer = None
    editable = False
    record_hash = None
    table = EMPTY_TABLE
    hashed: list[FileHash] = []
    claims.add(site, meta_name, name)
    if kind == "dist-info":
        raw_installer = read_optional(os.path.join(meta_path, "INSTALLER"))
        if raw_installer is not None:
            installer = raw_installer.decode("utf-8", "replace").strip() or None
        direct_url = read_optional(os.path.join(meta_path, "direct_url.json"))
        if direct_url is not None:
            editable = _is_editable(direct_url)
        record = files.record(os.path.join(meta_path, "RECORD"))
        if record is None:
            snap.note(
                "record-missing",
                meta_path,
                "no RECORD: its files cannot be checked (reinstall it with pip)",
            )
        else:
            record_hash, table = record
            for problem in table.problems:
                snap.note("record-malformed", os.path.join(meta_path, "RECORD"), problem)
            claims.add_plain(table.inside, table.tops, name)
            for rel in table.others:
                claims.add(site, rel, name)
    elif is_dir:
        listing = read_optional(os.path.join(meta_path, "installed-files.txt"))
        if listing is None:
            snap.note(
                "installed-files-missing",
                meta_path,
                "egg-info without installed-files.txt: its files cannot be checked",
            )
        else:
            for line in listing.decode("utf-8", "replace").splitlines():
                rel = line.strip()
                if not rel:
                    continue
                claims.add(meta_path, rel, name)
                full = os.path.normpath(os.path.join(meta_path, rel))
                inside = os.path.relpath(full, site).replace(os.sep, "/")
                if inside.startswith("..") or rel.endswith(".pyc") or not os.path.isfile(full):
                    continue
                try:
                    hashed.append(FileHash(path=inside, sha256=sha256_file(full)))
                except OSError as exc:
                    snap.note("unreadable", full, f"cannot read: {exc}")
    entry = Distribution(
        name=name,
        version=metadata.version,
        site_dir=site,
        metadata_dir=meta_name,
        kind=kind,  # type: ignore[arg-type]
        installer=installer,
        metadata_sha256=metadata.sha256,
        record_sha256=record_hash,
        editable=editable,
        files=tuple(sorted(set(hashed), key=lambda h: h.path)),
    )
    return DistributionScan(entry=entry, record=table)


class _Escapes:
    """RECORD rows that leave the site directory may land in scripts, headers or data
    (``bin/``, ``include/``, ``share/``), never in a directory the interpreter imports from
    (the standard library, ``lib-dynload``, another site directory: a wheel's
    ``.data/data/lib/pythonX.Y/...`` in a non-venv install)."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self._imported: set[str] | None = None
        self._real_dirs: dict[str, str] = {}

    def _imported_dirs(self) -> set[str]:
        if self._imported is None:
            probe = self.probe
            self._imported = {
                os.path.realpath(p)
                for p in (*probe.sys_path, probe.stdlib, *(s.path for s in probe.site_dirs))
                if p and os.path.isabs(p)
            }
        return self._imported

    def _realpath(self, path: str) -> str:
        """``os.path.realpath(path)``, resolving each directory once per scan."""
        parent, base = os.path.split(path)
        if base in ("", ".", ".."):
            return os.path.realpath(path)
        real_parent = self._real_dirs.get(parent)
        if real_parent is None:
            real_parent = self._real_dirs[parent] = os.path.realpath(parent)
        joined = os.path.join(real_parent, base)
        return os.path.realpath(path) if os.path.islink(joined) else joined

    def check(self, snap: Snapshot, site: str, found: DistributionScan) -> None:
        escaping = [
            rel for rel in found.record.others if rel.startswith("../") or os.path.isabs(rel)
        ]
        if not escaping:
            return
        imported = self._imported_dirs() - {self._realpath(site)}
        here = self._realpath(site)
        for rel in escaping:
            target = self._realpath(os.path.join(site, rel))
            if target.startswith(here + os.sep):
                continue
            into = next((d for d in sorted(imported) if target.startswith(d + os.sep)), None)
            if into is not None:
                snap.note(
                    "record-escapes",
                    os.path.join(site, found.entry.metadata_dir, "RECORD"),
                    f"{found.entry.name} {found.entry.version} wrote {rel} into {into}, "
                    "which the interpreter imports from; remove that distribution",
                )


def _is_editable(data: bytes) -> bool:
    try:
        info = json.loads(data)
    except ValueError:
        return False
    dir_info = info.get("dir_info") if isinstance(info, dict) else None
    return isinstance(dir_info, dict) and dir_info.get("editable") is True


def _startup_module(snap: Snapshot, probe: Probe, module: str, search: list[str]) -> StartupModule:
    """The file ``import module`` would execute along ``search``, hashed (pthguard's own
    watchdog is passed over: it chains to the next one)."""
    path = find_module(probe, search, module, snap.is_own)
    if path is None:
        return StartupModule(name=module, path=None, sha256=None)  # type: ignore[arg-type]
    try:
        digest: str | None = sha256_file(path)
    except OSError as exc:
        snap.note("unreadable", path, f"cannot read: {exc}")
        digest = None
    return StartupModule(name=module, path=path, sha256=digest)  # type: ignore[arg-type]


def to_manifest(
    snap: Snapshot, *, version: int, created: str, expires: str, policy: Policy
) -> Manifest:
    """The manifest that describes ``snap`` (also used to compare a live scan)."""
    return Manifest(
        version=version,
        created=created,
        expires=expires,
        environment=snap.environment,
        policy=policy,
        site_dirs=tuple(snap.site_dirs),
        startup_modules=tuple(snap.startup_modules),
        distributions=tuple(d.entry for d in snap.distributions),
    )


def live_manifest(snap: Snapshot, signed: Manifest) -> Manifest:
    """The live environment in the frame of a ``signed`` manifest (same version, times and
    policy), ready for :func:`pthguard.manifest.compare.compare`."""
    return to_manifest(
        snap,
        version=signed.version,
        created=signed.created,
        expires=signed.expires,
        policy=signed.policy,
    )
