"""``pthguard protect``: guard one environment on one machine in one command.

A local signing key is created on first use in the user's configuration directory
(platformdirs, mode 0600, unencrypted: it never leaves this machine, and anyone who can
read it can already rewrite the environment). Then: snapshot, show the difference from the
installed manifest (when there is one) and ask, sign with a version one above the installed
one, install. Release engineers who sign elsewhere use snapshot/sign/install instead.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from pthguard._internal.fs import read_bytes, write_atomic
from pthguard.environment import layout as _layout
from pthguard.environment import probe as _probe
from pthguard.environment import snapshot as _snapshot
from pthguard.errors import PthguardError
from pthguard.guard import install as _install
from pthguard.manifest import compare as _compare
from pthguard.manifest import envelope as _envelope
from pthguard.manifest import keys as _keys
from pthguard.manifest.model import Policy, TrustedKey, format_time


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
    """What protect is about to do; ``differences`` is empty on a first install."""

    envelope: _envelope.Envelope
    differences: list[_compare.Difference]
    previous_version: int | None
    manifest_path: Path
    key: LocalKey


DEFAULT_EXPIRES_DAYS = 365


def plan(
    python: str | None, *, now: dt.datetime, expires_days: int | None, mode: str | None
) -> ProtectPlan:
    """Snapshot the environment as the next version. ``mode`` and ``expires_days`` left out
    keep the installed manifest's mode (enforce on a first install) and sign for
    :data:`DEFAULT_EXPIRES_DAYS`; given, they count as changes when they differ from it."""
    key = local_key()
    public = _keys.load_public_key(key.public)
    probe = _probe.probe(python)
    snap, installs = _layout.scan_environment(probe)
    if snap.errors:
        raise PthguardError(
            "; ".join(f"{f.path}: {f.message}" for f in snap.errors[:3]),
            remedy="fix these files and run protect again",
        )
    previous = installs[0] if installs else None
    old = None
    if previous is not None:
        old = _envelope.parse_envelope(
            read_bytes(previous.manifest_path, "installed manifest"), "installed manifest"
        )
    version = old.manifest.version + 1 if old is not None else 1
    if mode is None:
        mode = old.manifest.policy.mode if old is not None else "enforce"
    policy = Policy(
        mode=mode,  # type: ignore[arg-type]
        keys=(TrustedKey(keyid=public.keyid, public=public.hex, name=public.name),),
    )
    manifest = _snapshot.to_manifest(
        snap,
        version=version,
        created=format_time(now),
        expires=format_time(now + dt.timedelta(days=expires_days or DEFAULT_EXPIRES_DAYS)),
        policy=policy,
    )
    differences = []
    if old is not None:
        differences = [
            *_compare.signing_differences(old.manifest, manifest, expiry=expires_days is not None),
            *_compare.compare(old.manifest, manifest),
        ]
    directory = config_dir() / "manifests"
    name = probe.executable.strip("/").replace("/", "_") + ".json"
    return ProtectPlan(
        envelope=_envelope.Envelope.from_manifest(manifest),
        differences=differences,
        previous_version=old.manifest.version if old is not None else None,
        manifest_path=directory / name,
        key=key,
    )


def apply(chosen: ProtectPlan, python: str | None, *, now: dt.datetime) -> _install.InstallResult:
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
    )
