"""``verify``: the live environment against a signed manifest, and the report of it.

Without ``--manifest`` or ``--trust``, the installed guard's manifest and trust anchors are
used. Nothing of the environment is executed: it is probed with ``-S -I`` and scanned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pthguard.environment import layout as _layout
from pthguard.environment import probe as _probe
from pthguard.environment import snapshot as _snapshot
from pthguard.environment.rules import BLOCKING
from pthguard.errors import UsageError
from pthguard.findings import Finding
from pthguard.guard.permissions import permission_warnings
from pthguard.manifest import compare as _compare
from pthguard.manifest import envelope as _envelope
from pthguard.manifest import keys as _keys
from pthguard.manifest.compare import Difference
from pthguard.manifest.envelope import Envelope, VerificationResult

if TYPE_CHECKING:
    from pthguard.environment.deep import Progress

__all__ = ["VerifyReport", "installed_defaults", "verify"]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    manifest_path: str
    envelope: Envelope
    signatures: VerificationResult
    python: str
    differences: list[Difference] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    deep: bool = False
    #: Who besides root can change what a guarded start trusts (never changes ``ok``).
    permission_warnings: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[Difference]:
        return [d for d in self.differences if d.verdict == "violation"]

    @property
    def errors(self) -> list[Finding]:
        """Findings that leave part of the environment unchecked (e.g. an unreadable .pth):
        those that prevent an honest manifest (their rule is in ``BLOCKING``)."""
        return [f for f in self.findings if f.rule in BLOCKING]

    @property
    def ok(self) -> bool:
        return not self.violations and not self.errors


def installed_defaults(
    probe: _probe.Probe, manifest: Path | None, trust: Sequence[Path]
) -> tuple[Path, list[Path]]:
    """``manifest`` and ``trust``, each filled from the installed guard when not given."""
    installs = _layout.installations_of(probe)
    if not installs:
        missing = "--manifest" if manifest is None else "--trust"
        raise UsageError(f"{missing} is required: no guard is installed in {probe.executable}")
    inst = installs[0]
    return (
        manifest if manifest is not None else inst.manifest_path,
        list(trust) or sorted(Path(inst.state_dir, "trust").glob("*.pub")),
    )


def verify(
    python: str | None,
    manifest: Path | None,
    trust: Sequence[Path],
    *,
    now: dt.datetime,
    deep: bool = False,
    progress: Progress | None = None,
    pending: _probe.PendingProbe | None = None,
) -> VerifyReport:
    """Check the signatures of ``manifest`` against ``trust`` at ``now``, then compare the
    environment of ``python`` with it (``deep``: also hash every file every RECORD lists).
    ``pending``: the probe of ``python``, already started (:func:`pthguard.environment.probe.
    start`); its errors are raised where a probe made here would raise them."""
    with pending if pending is not None else _probe.start(python) as started:
        if manifest is None or not trust:
            manifest, trust = installed_defaults(started.result(), manifest, trust)
        envelope = _envelope.read_envelope(manifest)
        trusted = [k for p in trust for k in _keys.load_anchors(p)]
        result = _envelope.verify(envelope, trusted, now, str(manifest))
        probe = started.result()
    snap, installs = _layout.scan_environment(probe)
    for inst in installs:
        problem = _layout.launcher_problem(inst)
        if problem is not None and inst.launcher is not None:
            snap.note("launcher-changed", inst.launcher, f"the sealed launcher: {problem}")
    live = _snapshot.live_manifest(snap, envelope.manifest)
    differences = _compare.compare(envelope.manifest, live, include_unclaimed=deep)
    if deep:
        from pthguard.environment import deep as _deep  # noqa: PLC0415 (--deep only)

        differences += _deep.deep_differences(envelope.manifest, snap, progress=progress)
    return VerifyReport(
        manifest_path=str(manifest),
        envelope=envelope,
        signatures=result,
        python=probe.executable,
        differences=differences,
        findings=[f for f in snap.findings if f.severity != "info"],
        deep=deep,
        permission_warnings=permission_warnings(
            [s.path for s in probe.site_dirs if s.exists], installs
        ),
    )
