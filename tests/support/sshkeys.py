"""The real ``ssh-keygen`` for the SSH signing tests, and small signed manifests to sign.

``ssh-keygen`` runs with a hermetic environment (no agent, no terminal): a passphrase reaches
it through ``SSH_ASKPASS`` with ``SSH_ASKPASS_REQUIRE=force``. Tests that need it use
:data:`needs_ssh_keygen`, which skips (with the reason) where OpenSSH is not installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pthguard.errors import SignatureError
from pthguard.formats import sshsig as _sshsig
from pthguard.manifest.envelope import Envelope
from pthguard.manifest.keys import PublicKey
from pthguard.manifest.model import EnvironmentInfo, Manifest, Policy, TrustedKey

SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
needs_ssh_keygen = pytest.mark.skipif(
    not Path(SSH_KEYGEN).exists(), reason="ssh-keygen (openssh-client) is not installed"
)


def _env(home: Path, askpass: Path | None = None) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C"}
    if askpass is not None:
        env.update({"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"})
    return env


def ssh_keygen(
    *args: str | Path, cwd: Path, stdin: bytes = b"", askpass: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [SSH_KEYGEN, *map(str, args)],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=_env(cwd, askpass),
        timeout=60,
        check=False,
    )


def make_key(directory: Path, name: str, *, passphrase: str = "", keytype: str = "ed25519") -> Path:
    """``ssh-keygen -t KEYTYPE -N PASSPHRASE``: returns the private key (``.pub`` beside it)."""
    path = directory / name
    extra = ["-b", "2048"] if keytype == "rsa" else []
    done = ssh_keygen(
        "-q", "-t", keytype, *extra, "-N", passphrase, "-C", f"{name}@test", "-f", path,
        cwd=directory,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return path


def _askpass(directory: Path, passphrase: str) -> Path:
    script = directory / "askpass.sh"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' '{passphrase}'\n")
    script.chmod(0o700)
    return script


def ssh_sign(
    key: Path, data_file: Path, *, namespace: str = "pthguard", passphrase: str = ""
) -> Path:
    """``ssh-keygen -Y sign -n NAMESPACE -f KEY FILE``: returns ``FILE.sig``."""
    askpass = _askpass(key.parent, passphrase) if passphrase else None
    sig = Path(f"{data_file}.sig")
    sig.unlink(missing_ok=True)
    done = ssh_keygen(
        "-Y", "sign", "-n", namespace, "-f", key, data_file, cwd=key.parent, askpass=askpass
    )
    assert done.returncode == 0, done.stderr
    return sig


def ssh_verify(
    allowed_signers: Path, principal: str, sig: Path, data: bytes, *, namespace: str = "pthguard"
) -> bool:
    """``ssh-keygen -Y verify -f allowed_signers -I principal -n NAMESPACE -s sig < data``."""
    done = ssh_keygen(
        "-Y", "verify", "-f", allowed_signers, "-I", principal, "-n", namespace, "-s", sig,
        cwd=allowed_signers.parent, stdin=data,
    )  # fmt: skip
    return done.returncode == 0


# -- pthguard's side of the comparison ---------------------------------------------------------

#: A small payload to sign in the SSH signature tests.
PAYLOAD = b'{"_type":"pthguard-manifest","version":1}'


def pthguard_verdict(sig_path: Path, data: bytes, anchors: list[PublicKey]) -> bool:
    """What pthguard says of ``sig_path`` over ``data``: True when one anchor verifies it."""
    try:
        sig = _sshsig.parse_sshsig(sig_path.read_bytes())
    except SignatureError:
        return False
    for anchor in anchors:
        try:
            _sshsig.verify_sshsig(sig, data, raw_key=anchor.raw)
        except SignatureError:
            continue
        return True
    return False


def write_allowed_signers(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def pub_line(key: Path) -> str:
    """``ssh-ed25519 AAAA...`` of a key made by make_key (without its comment)."""
    return " ".join(Path(f"{key}.pub").read_text().split()[:2])


# -- manifests ---------------------------------------------------------------------------------


def trusted_key(key: PublicKey) -> TrustedKey:
    return TrustedKey(keyid=key.keyid, public=key.hex, name=key.name)


def manifest(version: int = 1, signers: tuple[PublicKey, ...] = (), threshold: int = 1) -> Manifest:
    """A small valid manifest (no site directories) with the given signer policy."""
    return Manifest(
        version=version,
        created="2026-01-01T00:00:00Z",
        expires="2099-01-01T00:00:00Z",
        environment=EnvironmentInfo(
            implementation="cpython",
            python_version="3.11.7",
            cache_tag="cpython-311",
            platform="linux-x86_64",
            prefix="/app/.venv",
            executable="/app/.venv/bin/python",
        ),
        policy=Policy(keys=tuple(trusted_key(k) for k in signers), threshold=threshold),
        site_dirs=(),
        startup_modules=(),
        distributions=(),
    )


def envelope(version: int = 1, signers: tuple[PublicKey, ...] = (), threshold: int = 1) -> Envelope:
    return Envelope.from_manifest(manifest(version, signers, threshold))


def with_policy(base: Manifest, signers: tuple[PublicKey, ...], threshold: int) -> Manifest:
    policy = dataclasses.replace(
        base.policy, keys=tuple(trusted_key(k) for k in signers), threshold=threshold
    )
    return dataclasses.replace(base, policy=policy)


#: Passphrase-protected OpenSSH keys decrypt only with the optional bcrypt package.
HAVE_BCRYPT = importlib.util.find_spec("bcrypt") is not None
