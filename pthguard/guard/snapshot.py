"""``snapshot``: an unsigned manifest of an environment, written for review and signing.

The scan itself is :mod:`pthguard.environment.snapshot`; this module numbers the version,
builds the policy, leaves pthguard's own files out, loosens the entries of a CI project
(``policy.project``) and refuses to write while a file cannot be described honestly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pthguard._internal.fs import read_bytes, write_atomic
from pthguard.environment import layout as _layout
from pthguard.environment import probe as _probe
from pthguard.environment import snapshot as _snapshot
from pthguard.errors import PthguardError
from pthguard.findings import Finding
from pthguard.manifest import project as _project
from pthguard.manifest.envelope import Envelope, parse_envelope
from pthguard.manifest.keys import PublicKey
from pthguard.manifest.model import (
    Manifest,
    Mode,
    Policy,
    TrustedKey,
    UnclaimedFiles,
    UnlistedDistributions,
    format_time,
)

__all__ = ["SnapshotSpec", "next_version", "policy_of", "take", "write"]


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


def next_version(output: Path) -> int:
    """One more than the version of the manifest at ``output``, or 1 when there is none."""
    if not output.exists():
        return 1
    old = parse_envelope(read_bytes(output, "manifest"), str(output))
    return old.manifest.version + 1


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
    )


def take(
    python: str | None, spec: SnapshotSpec, *, on_finding: Callable[[Finding], None]
) -> Manifest:
    """The manifest of ``python``'s environment. Every finding of the scan goes to
    ``on_finding``; an ``error`` finding then stops it (no honest manifest is possible)."""
    # pthguard's own files (gate, state, watchdog) never belong in a manifest: a guarded
    # environment is snapshotted again for the next version
    snap, _ = _layout.scan_environment(_probe.probe(python))
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
    return manifest


def write(
    output: Path, python: str | None, spec: SnapshotSpec, *, on_finding: Callable[[Finding], None]
) -> Manifest:
    """:func:`take`, then write the manifest unsigned to ``output``; returns it."""
    manifest = take(python, spec, on_finding=on_finding)
    write_atomic(output, Envelope.from_manifest(manifest).to_bytes())
    return manifest
