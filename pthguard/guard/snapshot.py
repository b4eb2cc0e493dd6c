"""``snapshot``: an unsigned manifest of an environment, written for review and signing.

The scan itself is :mod:`pthguard.environment.snapshot`; this module numbers the version,
builds the policy, leaves pthguard's own files out, loosens the entries of a CI project
(``policy.project``), refuses to write while a file cannot be described honestly, and judges
the startup code first (:mod:`pthguard.guard.review`): new startup code that needs an
approval not given means nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pthguard._internal.fs import write_atomic
from pthguard.analysis.judge import Judgement
from pthguard.environment import layout as _layout
from pthguard.environment import probe as _probe
from pthguard.environment import snapshot as _snapshot
from pthguard.errors import PthguardError
from pthguard.findings import Finding
from pthguard.formats.approvals import ApprovalRequest
from pthguard.guard import review as _review
from pthguard.manifest import project as _project
from pthguard.manifest.envelope import Envelope, read_envelope
from pthguard.manifest.keys import PublicKey
from pthguard.manifest.model import (
    EventTargets,
    Manifest,
    Mode,
    Policy,
    TrustedKey,
    UnclaimedFiles,
    UnlistedDistributions,
    format_time,
)

__all__ = [
    "SnapshotSpec",
    "Taken",
    "next_version",
    "policy_of",
    "previous_manifest",
    "take",
    "write",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotSpec:
    """What the new manifest says beyond what the environment holds."""

    version: int
    created: dt.datetime
    expires: dt.datetime
    mode: Mode = "enforce"
    unlisted_distributions: UnlistedDistributions = "refuse"
    unclaimed_files: UnclaimedFiles = "report"
    #: Keys allowed to sign (none: any trusted key); a key given twice counts once.
    signers: tuple[PublicKey, ...] = ()
    threshold: int = 1
    allow_env_override: bool = False
    #: The distribution a CI runner rebuilds (see :mod:`pthguard.manifest.project`).
    project: str | None = None
    #: Where a refusal is also written as one JSON line (``policy.events``).
    events: EventTargets | None = None


def next_version(output: Path, previous: Path | None = None) -> int:
    """One more than the version of the manifest at ``output`` or of ``previous``, whichever
    is higher; 1 when there is neither."""
    versions = [0]
    for path in (output, previous):
        if path is not None and path.exists():
            versions.append(read_envelope(path).manifest.version)
    return max(versions) + 1


def policy_of(spec: SnapshotSpec) -> Policy:
    return Policy(
        mode=spec.mode,
        unlisted_distributions=spec.unlisted_distributions,
        unclaimed_files=spec.unclaimed_files,
        keys=tuple(
            TrustedKey(keyid=k.keyid, public=k.hex, name=k.name)
            for k in {k.keyid: k for k in spec.signers}.values()
        ),
        threshold=spec.threshold,
        allow_env_override=spec.allow_env_override,
        events=spec.events,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Taken:
    """A snapshot and the judgement of its startup code: write or sign it only if ``ok``."""

    manifest: Manifest
    judgement: Judgement

    @property
    def ok(self) -> bool:
        return self.judgement.ok


def previous_manifest(previous: Path | None, output: Path) -> Manifest | None:
    """What the new manifest is judged against: ``previous`` when given, else the manifest
    already at ``output`` when it carries signatures (an unsigned draft vouches for nothing)."""
    if previous is not None:
        return read_envelope(previous, "previous manifest").manifest
    if not output.exists():
        return None
    old = read_envelope(output)
    return old.manifest if old.signatures else None


def take(
    python: str | None,
    spec: SnapshotSpec,
    *,
    on_finding: Callable[[Finding], None],
    previous: Manifest | None = None,
    approvals: Sequence[ApprovalRequest] = (),
    pending: _probe.PendingProbe | None = None,
) -> Taken:
    """The manifest of ``python``'s environment, its startup code judged against
    ``previous``. Every finding of the scan goes to ``on_finding``; an ``error`` finding
    then stops it (no honest manifest is possible). ``pending``: the probe of ``python``,
    already started."""
    # pthguard's own files (gate, state, watchdog) never belong in a manifest: a guarded
    # environment is snapshotted again for the next version
    with pending or _probe.start(python) as started:
        probe = started.result()
    snap, _ = _layout.scan_environment(probe, runtime_view=True)
    for finding in snap.findings:
        on_finding(finding)
    if snap.errors:
        raise PthguardError(
            f"{len(snap.errors)} problem(s) prevent an honest manifest; nothing was written",
            remedy="fix the files named above and run snapshot again",
        )
    manifest = _snapshot.to_manifest(
        snap,
        version=spec.version,
        created=format_time(spec.created),
        expires=format_time(spec.expires),
        policy=policy_of(spec),
    )
    if spec.project:
        manifest = _project.loosen(manifest, spec.project)
    judgement = _review.review(snap, probe, previous=previous, approvals=approvals)
    kept = previous.approvals if previous is not None else ()
    manifest = replace(manifest, approvals=judgement.approvals(None, kept))
    return Taken(manifest=manifest, judgement=judgement)


def write(
    output: Path,
    python: str | None,
    spec: SnapshotSpec,
    *,
    on_finding: Callable[[Finding], None],
    previous: Manifest | None = None,
    approvals: Sequence[ApprovalRequest] = (),
    pending: _probe.PendingProbe | None = None,
) -> Taken:
    """:func:`take`, then write the manifest unsigned to ``output`` if its startup code
    needs no approval that was not given; nothing is written otherwise."""
    taken = take(
        python,
        spec,
        on_finding=on_finding,
        previous=previous,
        approvals=approvals,
        pending=pending,
    )
    if taken.ok:
        write_atomic(output, Envelope.from_manifest(taken.manifest).to_bytes())
    return taken
