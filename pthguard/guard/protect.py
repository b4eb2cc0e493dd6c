"""``pthguard protect``: guard one environment on one machine in one command.

A local signing key is created on first use in the user's configuration directory
(platformdirs, mode 0600, unencrypted: it never leaves this machine, and anyone who can
read it can already rewrite the environment). Then: snapshot, show the difference from the
installed manifest (when there is one) and ask, sign with a version one above the installed
one, install. Release engineers who sign elsewhere use snapshot/sign/install instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pthguard._internal.fs import write_atomic
from pthguard.analysis.judge import Judgement
from pthguard.environment import layout as _layout
from pthguard.environment import probe as _probe
from pthguard.environment import snapshot as _snapshot
from pthguard.errors import PthguardError
from pthguard.formats.approvals import ApprovalRequest
from pthguard.guard import install as _install
from pthguard.guard import review as _review
from pthguard.manifest import compare as _compare
from pthguard.manifest import envelope as _envelope
from pthguard.manifest import keys as _keys
from pthguard.manifest import project as _project
from pthguard.manifest.keys import PublicKey
from pthguard.manifest.model import EventTargets, Manifest, Policy, TrustedKey, format_time


def config_dir() -> Path:
    override = os.environ.get("PTHGUARD_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs  # noqa: PLC0415 (kept off every path that does not need it)

    return Path(platformdirs.user_config_dir("pthguard"))


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalKey:
    private: Path
    public: Path
    created: bool


def local_key() -> LocalKey:
    """The machine's own signing key, created on first use."""
    directory = config_dir()
    private, public = directory / "local.key", directory / "local.pub"
    if private.exists() and public.exists():
        return LocalKey(private=private, public=public, created=False)
    if private.exists() or public.exists():
        raise PthguardError(
            f"{directory} holds only half of the local key pair",
            remedy="move the remaining local.key/local.pub away and run protect again",
        )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = _keys.generate("local")
    _keys.write_new_file(private, _keys.private_pem(key, None), 0o600)
    _keys.write_new_file(public, _keys.public_pem(key.public), 0o644)
    return LocalKey(private=private, public=public, created=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtectPlan:
    """What protect is about to do; ``differences`` is empty when there is no previous
    manifest. Nothing may be signed unless ``judgement.ok``."""

    envelope: _envelope.Envelope
    differences: list[_compare.Difference]
    previous_version: int | None
    manifest_path: Path
    key: LocalKey
    judgement: Judgement
    python: str  # the interpreter, resolved
    installed: bool  # a guard is installed now (else: the last copy is the previous one)
    probe: _probe.Probe | None = None  # what the interpreter reported (install reuses it)


DEFAULT_EXPIRES_DAYS = 365


def plan(
    python: str | None,
    *,
    now: dt.datetime,
    expires_days: int | None,
    mode: str | None,
    approvals: Sequence[ApprovalRequest] = (),
    events: EventTargets | None = None,
    no_events: bool = False,
) -> ProtectPlan:
    """Snapshot the environment as the next version and judge its startup code against the
    previous manifest: the installed one, or else the last one protect signed for this
    interpreter (so an ``uninstall`` loses neither the version sequence nor the review).
    ``mode`` and ``expires_days`` left out keep the previous mode (enforce at first) and sign
    for :data:`DEFAULT_EXPIRES_DAYS`; given, they count as changes when they differ. So do
    ``events`` (the refusal events' targets; left out, the previous ones stay) and
    ``no_events`` (none from now on)."""
    key = local_key()
    public = _keys.load_public_key(key.public)
    probe = _probe.probe(python)
    snap, installs = _layout.scan_environment(probe, runtime_view=True)
    if snap.errors:
        raise PthguardError(
            "; ".join(f"{f.path}: {f.message}" for f in snap.errors[:3]),
            remedy="fix these files and run protect again",
        )
    copy = local_manifest_path(probe.executable)
    old = _previous(installs[0].manifest_path if installs else None, copy, public)
    version = old.version + 1 if old is not None else 1
    if mode is None:
        mode = old.policy.mode if old is not None else "enforce"
    if events is None and not no_events and old is not None:
        events = old.policy.events
    policy = Policy(
        mode=mode,  # type: ignore[arg-type]
        keys=(TrustedKey(keyid=public.keyid, public=public.hex, name=public.name),),
        events=events,
    )
    if old is not None:  # the rest of the signed policy stays as it was
        policy = replace(
            policy,
            unlisted_distributions=old.policy.unlisted_distributions,
            unclaimed_files=old.policy.unclaimed_files,
            allow_env_override=old.policy.allow_env_override,
        )
    manifest = _snapshot.to_manifest(
        snap,
        version=version,
        created=format_time(now),
        expires=format_time(now + dt.timedelta(days=expires_days or DEFAULT_EXPIRES_DAYS)),
        policy=policy,
    )
    if old is not None and old.policy.project is not None:  # a CI project: loosened again
        manifest = _project.loosen(manifest, old.policy.project.name)
    judgement = _review.review(snap, probe, previous=old, approvals=approvals)
    previous_approvals = old.approvals if old is not None else ()
    manifest = replace(manifest, approvals=judgement.approvals(public.keyid, previous_approvals))
    differences = []
    if old is not None:
        differences = [
            *_compare.signing_differences(old, manifest, expiry=expires_days is not None),
            *_compare.compare(old, manifest),
        ]
    return ProtectPlan(
        envelope=_envelope.Envelope.from_manifest(manifest),
        differences=differences,
        previous_version=old.version if old is not None else None,
        manifest_path=copy,
        key=key,
        judgement=judgement,
        python=probe.executable,
        installed=bool(installs),
        probe=probe,
    )


def local_key_can_sign(installed: Path) -> str | None:
    """Why this machine's local key cannot sign the next version of the ``installed``
    manifest (it is signed by other keys, which must then co-sign a new one), or None."""
    envelope = _envelope.read_envelope(installed, "installed manifest")
    public_path = config_dir() / "local.pub"
    local = _keys.load_public_key(public_path) if public_path.exists() else None
    if local is not None and _envelope.check_signatures(envelope, [local]).signed_by:
        return None
    signers = ", ".join(sorted({s.keyid[:16] for s in envelope.signatures})) or "nobody"
    return (
        f"its installed manifest (version {envelope.manifest.version}) is signed by {signers}, "
        "not by this machine's local key"
    )


def local_manifest_path(executable: str) -> Path:
    """Where protect keeps the manifests it signs for one interpreter: named by a digest of
    the interpreter's path (``/a_b`` and ``/a/b`` never share a file), with its tail for
    people."""
    digest = hashlib.sha256(executable.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    tail = re.sub(r"[^A-Za-z0-9._-]+", "_", executable.strip("/"))[-60:]
    return config_dir() / "manifests" / f"{digest}-{tail}.json"


def _previous(installed: Path | None, copy: Path, local: PublicKey) -> Manifest | None:
    """The installed manifest, or else protect's own last copy when the local key signed it."""
    if installed is not None:
        return _envelope.read_envelope(installed, "installed manifest").manifest
    if not copy.exists():
        return None
    envelope = _envelope.read_envelope(copy, "last signed manifest")
    if not _envelope.check_signatures(envelope, [local]).signed_by:
        raise PthguardError(
            f"{copy} is not signed by this machine's local key",
            remedy="move it away to start the version sequence again",
        )
    return envelope.manifest


def apply(chosen: ProtectPlan, python: str | None, *, now: dt.datetime) -> _install.InstallResult:
    if not chosen.judgement.ok:
        raise PthguardError("startup code needs an explicit approval; nothing was signed")
    private = _keys.load_private_key(chosen.key.private, None)
    signed = _envelope.sign(chosen.envelope, private)
    chosen.manifest_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(chosen.manifest_path, signed.to_bytes())
    return _install.install(
        python=python,
        manifest_path=chosen.manifest_path,
        trust=[chosen.key.public],
        mode=None,
        allow_downgrade=False,
        now=now,
        probe=chosen.probe,
    )
