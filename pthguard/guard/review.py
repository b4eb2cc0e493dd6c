"""Review before signing: the candidates of a snapshot, judged against the previous manifest.

The I/O shell of :mod:`pthguard.analysis.judge`: it reads every startup file and startup
module the snapshot lists (and checks that each still has the digest the snapshot recorded),
finds the modules their import lines and entry points name in the environment's site
directories without importing them, and reads approvals given on the command line or in an
approvals file. ``snapshot``, ``sign`` (through the manifest it is given) and ``protect`` call
it before anything is signed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pthguard._internal.fs import read_bytes
from pthguard.analysis import judge as _judge
from pthguard.environment import finder as _finder
from pthguard.environment import snapshot as _snapshot
from pthguard.environment.probe import Probe
from pthguard.errors import PthguardError
from pthguard.formats import approvals as _approvals
from pthguard.formats.approvals import ApprovalRequest
from pthguard.manifest.envelope import read_envelope
from pthguard.manifest.model import Manifest


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalInput:
    """What the person gave: ``--approve`` values and ``--approvals`` files."""

    approve: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()

    def requests(self) -> list[ApprovalRequest]:
        found = [_approvals.parse_approval(text) for text in self.approve]
        for path in self.files:
            found += _approvals.parse_approvals_file(read_bytes(path, "approvals file"), str(path))
        return found


def previous_hashes(previous: Manifest | None) -> dict[str, str]:
    """What the previous signed manifest allowed, by sha256."""
    if previous is None:
        return {}
    version = previous.version
    known: dict[str, str] = {}
    for approval in previous.approvals:
        known[approval.sha256] = f"{approval.name}, approved in version {version}"
    for module in previous.startup_modules:
        if module.sha256 is not None:
            known[module.sha256] = f"{module.name} as signed in version {version}"
    for site in previous.site_dirs:
        for entry in site.startup_files:
            known[entry.sha256] = f"{entry.name} as signed in version {version}"
    return known


def candidates(snap: _snapshot.Snapshot, probe: Probe) -> list[_judge.Candidate]:
    """Every startup file and startup module of ``snap``, and the modules they import."""
    versions = (probe.minor,)
    owned = _record_owners(snap)
    labels = {d.entry.name: f"{d.entry.name} {d.entry.version}" for d in snap.distributions}
    sites = [s.path for s in snap.site_dirs]
    search = snap.import_search(probe)
    found: dict[str, _judge.Candidate] = {}

    def add_imported(importer: str, dotted: str) -> None:
        for path in _finder.module_chain(probe, search, dotted):
            full = os.path.normpath(path)
            site = next((s for s in sites if _inside(full, s)), None)
            if full in found or site is None:
                continue  # the standard library, or already a candidate
            owner, record_hash = owned.get(full, (None, None))
            found[full] = _judge.Candidate(
                path=full,
                name=os.path.relpath(full, site).replace(os.sep, "/"),  # alpha/__init__.py
                kind="imported",
                data=read_bytes(Path(full), "module"),
                distribution=owner,
                record_sha256=record_hash,
                importer=importer,
                versions=versions,
            )

    for site in snap.site_dirs:
        for entry in site.startup_files:
            full = os.path.join(site.path, entry.name)
            data = _read_checked(full, entry.sha256)
            kind: _judge.Kind = "pth" if entry.name.endswith(".pth") else "start"
            found[full] = _judge.Candidate(
                path=full,
                name=entry.name,
                kind=kind,
                data=data,
                distribution=labels.get(entry.owner or "", entry.owner),
                versions=versions,
            )
            if kind == "pth":
                for dotted in _judge.imports_of(data, versions):
                    add_imported(full, dotted)
            else:
                for point in entry.code_lines:
                    add_imported(full, point.partition(":")[0])
    for module in snap.startup_modules:
        if module.path is None or module.sha256 is None:
            continue
        full = os.path.normpath(module.path)
        owner, _ = owned.get(full, (None, None))
        found[full] = _judge.Candidate(
            path=full,
            name=os.path.basename(full),
            kind="module",
            data=_read_checked(full, module.sha256),
            distribution=owner,
            versions=versions,
            with_interpreter=owner is None and not any(_inside(full, s) for s in sites),
        )
    return list(found.values())


def review(
    snap: _snapshot.Snapshot,
    probe: Probe,
    *,
    previous: Manifest | None,
    approvals: Sequence[ApprovalRequest],
) -> _judge.Judgement:
    return _judge.judge(
        candidates(snap, probe), previous=previous_hashes(previous), approvals=approvals
    )


def _record_owners(snap: _snapshot.Snapshot) -> dict[str, tuple[str | None, str | None]]:
    """Each file a RECORD lists: its distribution (``name version``) and RECORD hash; a file
    that several RECORDs list (a wheel overwriting another's file) has no single owner."""
    owners: dict[str, tuple[str | None, str | None]] = {}
    for dist in snap.distributions:
        label = f"{dist.entry.name} {dist.entry.version}"
        table = dist.record
        for full, digest in zip(table.full_paths(dist.entry.site_dir), table.sha256s, strict=True):
            owners[full] = (None, None) if full in owners else (label, digest)
    return owners


def _inside(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip(os.sep) + os.sep)


def _read_checked(path: str, sha256: str) -> bytes:
    data = read_bytes(Path(path), "startup file")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise PthguardError(
            f"{path} changed while it was being reviewed", remedy="run the command again"
        )
    return data


def review_recorded(manifest: Manifest, previous: Path | None) -> _judge.Judgement:
    """``sign``'s judgement: the manifest alone, against the ``previous`` signed one if given."""
    old = None if previous is None else read_envelope(previous, "previous manifest").manifest
    return _judge.judge_recorded(manifest, previous_hashes(old))
