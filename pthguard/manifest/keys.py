"""Ed25519 keys: generate, write (PKCS8 PEM, encrypted by default, mode 0600), load.

Keys load in both forms: private keys from PKCS8 PEM or OpenSSH (``-----BEGIN OPENSSH PRIVATE
KEY-----``, passphrase-protected or not); trust anchors from a PEM public key, ``ssh-ed25519``
public key lines, or an ``allowed_signers`` file (each line an anchor; see
:mod:`pthguard.formats.allowed_signers`).

A keyid is the sha256 (hex) of the raw 32-byte public key, whatever the form. A key's display
name is the file name without its extension (``release.pub`` -> ``release``); an
allowed_signers anchor is named by its first principal.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ed25519

from pthguard._internal.fs import read_bytes
from pthguard.errors import KeyFileError
from pthguard.formats import openssh as _openssh

if TYPE_CHECKING:
    from cryptography.hazmat.primitives import serialization

#: The DER of an Ed25519 SubjectPublicKeyInfo before its 32 key bytes (RFC 8410).
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_PEM_HEAD = b"-----BEGIN PUBLIC KEY-----\n"
_PEM_TAIL = b"\n-----END PUBLIC KEY-----\n"


def keyid_of_raw(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicKey:
    """A trusted public key (a trust anchor)."""

    raw: bytes
    name: str

    @property
    def keyid(self) -> str:
        return keyid_of_raw(self.raw)

    @property
    def hex(self) -> str:
        return self.raw.hex()

    def verifier(self) -> ed25519.Ed25519PublicKey:
        return ed25519.Ed25519PublicKey.from_public_bytes(self.raw)


@dataclass(frozen=True, slots=True)
class PrivateKey:
    key: ed25519.Ed25519PrivateKey
    name: str

    @property
    def public(self) -> PublicKey:
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return PublicKey(raw=raw, name=self.name)


def key_name(path: Path) -> str:
    return path.name.split(".")[0] or path.name


def generate(name: str) -> PrivateKey:
    return PrivateKey(ed25519.Ed25519PrivateKey.generate(), name)


def private_pem(key: PrivateKey, passphrase: bytes | None) -> bytes:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def public_pem(key: PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    return key.verifier().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` (never widened by umask races); refuse to overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise KeyFileError(
            f"{path} already exists", remedy="choose another path or remove the old file first"
        ) from exc
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.chmod(mode)


def _read(path: Path, what: str) -> bytes:
    return read_bytes(path, what, error=KeyFileError, not_a="a key file")


def is_encrypted_pem(data: bytes) -> bool:
    """True when the private key needs a passphrase (PEM, or an OpenSSH key with a cipher)."""
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data:
        return True
    info = _openssh.openssh_private_key_info(data)
    return info is not None and info.encrypted


def load_private_key(path: Path, passphrase: bytes | None) -> PrivateKey:
    """Load an Ed25519 private key; ``passphrase`` is needed when the file is encrypted."""
    data = _read(path, "private key")
    ssh_public = data.lstrip().startswith((b"ssh-", b"sk-ssh-", b"ecdsa-"))
    if ssh_public or (b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data):
        raise KeyFileError(
            f"{path} is a public key",
            remedy="pass the private key (written by keygen --private-key)",
        )
    if _openssh.is_openssh_private_key(data):
        return _load_openssh_private_key(path, data, passphrase)
    if is_encrypted_pem(data) and not passphrase:
        raise KeyFileError(
            f"{path} is encrypted and no passphrase was given",
            remedy="use --passphrase-file, PTHGUARD_PASSPHRASE, or a terminal to be asked",
        )
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    try:
        key = serialization.load_pem_private_key(
            data, password=passphrase if is_encrypted_pem(data) else None
        )
    except ValueError as exc:
        if is_encrypted_pem(data):
            raise KeyFileError(
                f"cannot decrypt {path}: wrong passphrase", remedy="check the passphrase"
            ) from exc
        raise KeyFileError(
            f"{path} is not a PEM private key", remedy="pass a key written by `pthguard keygen`"
        ) from exc
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{path}: unsupported private key ({exc})") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyFileError(
            f"{path} is {_article(_algorithm(key))} key; pthguard signs with Ed25519 only",
            remedy="create one with `pthguard keygen`",
        )
    return PrivateKey(key, key_name(path))


def _load_openssh_private_key(path: Path, data: bytes, passphrase: bytes | None) -> PrivateKey:
    info = _openssh.openssh_private_key_info(data)
    if info is None:
        raise KeyFileError(f"{path} is not a valid OpenSSH private key")
    if info.keytype == _openssh.SK_ED25519:
        raise KeyFileError(
            f"{path} is a security-key (FIDO) key, which signs only through its hardware",
            remedy=f"sign with `ssh-keygen -Y sign -n pthguard -f {path} PAYLOAD`, then attach",
        )
    if info.keytype != _openssh.ED25519:
        described = _openssh.describe_keytype(info.keytype)
        raise KeyFileError(
            f"{path} is {described}; pthguard signs with Ed25519 only",
            remedy="create one with `ssh-keygen -t ed25519` or `pthguard keygen`",
        )
    if info.encrypted and not passphrase:
        raise KeyFileError(
            f"{path} is encrypted and no passphrase was given",
            remedy="use --passphrase-file, PTHGUARD_PASSPHRASE, or a terminal to be asked",
        )
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    try:
        key = serialization.load_ssh_private_key(
            data, password=passphrase if info.encrypted else None
        )
    except ValueError as exc:
        if info.encrypted:
            raise KeyFileError(
                f"cannot decrypt {path}: wrong passphrase", remedy="check the passphrase"
            ) from exc
        raise KeyFileError(f"{path} is not a valid OpenSSH private key ({exc})") from exc
    except UnsupportedAlgorithm as exc:
        if "bcrypt" in str(exc):
            raise KeyFileError(
                f"cannot decrypt {path}: passphrase-protected OpenSSH keys need the optional "
                "bcrypt package",
                remedy="sign with `ssh-keygen -Y sign -n pthguard` and `pthguard attach` the "
                "signature (or pip install bcrypt)",
            ) from exc
        raise KeyFileError(f"{path}: unsupported private key ({exc})") from exc
    except TypeError as exc:
        raise KeyFileError(f"{path}: unsupported private key ({exc})") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyFileError(
            f"{path} is {_article(_algorithm(key))} key; pthguard signs with Ed25519 only"
        )
    return PrivateKey(key, key_name(path))


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyEntry:
    """A public key as read from a file, with what ``key show`` reports about it."""

    key: PublicKey
    keytype: str  # OpenSSH type name; PEM keys are ssh-ed25519
    fingerprint: str  # SHA256:... as ssh-keygen -l prints it
    source: str  # "pem", "openssh" or "allowed_signers"
    comment: str = ""
    principals: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        shown: dict[str, object] = {
            "keyid": self.key.keyid,
            "name": self.key.name,
            "type": "ed25519-sk" if self.keytype == _openssh.SK_ED25519 else "ed25519",
            "fingerprint": self.fingerprint,
            "format": self.source,
        }
        if self.comment:
            shown["comment"] = self.comment
        if self.principals:
            shown["principals"] = list(self.principals)
        return shown


def load_public_key(path: Path) -> PublicKey:
    """Load one trusted Ed25519 public key: PEM, an ``ssh-ed25519`` line, or a one-line
    allowed_signers file (use :func:`load_anchors` for files with several keys)."""
    anchors = load_anchors(path)
    if len(anchors) != 1:
        raise KeyFileError(
            f"{path} holds {len(anchors)} keys where one is expected",
            remedy="pass a file with a single public key",
        )
    return anchors[0]


def load_anchors(path: Path, now: dt.datetime | None = None) -> list[PublicKey]:
    """Every trust anchor in ``path``: one for a PEM key, one per line of an OpenSSH public
    key file or an allowed_signers file (lines valid at ``now``, default the current time, and
    allowed the ``pthguard`` namespace). A key listed twice counts once."""
    return [entry.key for entry in read_key_entries(path, now)]


def read_key_entries(path: Path, now: dt.datetime | None = None) -> list[KeyEntry]:
    data = _read(path, "public key")
    if b"PRIVATE KEY-----" in data:
        raise KeyFileError(
            f"{path} is a private key, given where a public key is expected",
            remedy="pass the .pub file written by keygen; keep the private key off this machine",
        )
    if b"-----BEGIN" in data:
        key = _load_pem_public_key(path, data)
        fingerprint = _openssh.ed25519_fingerprint(key.raw)
        return [KeyEntry(key=key, keytype=_openssh.ED25519, fingerprint=fingerprint, source="pem")]
    entries = _ssh_key_entries(path, data, now or dt.datetime.now(dt.timezone.utc))
    unique: dict[str, KeyEntry] = {}
    for entry in entries:
        unique.setdefault(entry.key.keyid, entry)
    return list(unique.values())


def _ssh_key_entries(path: Path, data: bytes, now: dt.datetime) -> list[KeyEntry]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeyFileError(f"{path} is not a public key file (not UTF-8 text)") from exc
    if "---- BEGIN SSH2 PUBLIC KEY ----" in text:
        raise KeyFileError(
            f"{path} is an RFC 4716 (SSH2) public key",
            remedy=f"convert it with `ssh-keygen -i -f {path}`",
        )
    lines = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise KeyFileError(
            f"{path} holds no key", remedy="pass a PEM or OpenSSH public key, or allowed_signers"
        )
    if _openssh.looks_like_keytype(lines[0][1].split()[0]):
        entries = []
        for number, line in lines:
            where = str(path) if len(lines) == 1 else f"{path}:{number}"
            ssh = _openssh.parse_public_key_line(line, where)
            name = (
                key_name(path) if len(lines) == 1 else ssh.comment or f"{key_name(path)}-{number}"
            )
            entries.append(
                KeyEntry(
                    key=PublicKey(raw=ssh.raw, name=name),
                    keytype=ssh.keytype,
                    fingerprint=ssh.fingerprint,
                    source="openssh",
                    comment=ssh.comment,
                )
            )
        return entries
    from pthguard.formats import allowed_signers as _allowed_signers  # noqa: PLC0415

    parsed = _allowed_signers.parse_allowed_signers(text, str(path))
    reasons = list(parsed.skipped)
    entries = []
    for signer in parsed.signers:
        if not signer.valid_at(now):
            reasons.append(f"{path}:{signer.line}: not valid now (valid-after/valid-before)")
            continue
        entries.append(
            KeyEntry(
                key=PublicKey(raw=signer.key.raw, name=signer.principals[0]),
                keytype=signer.key.keytype,
                fingerprint=signer.key.fingerprint,
                source="allowed_signers",
                comment=signer.key.comment,
                principals=signer.principals,
            )
        )
    if not entries:
        raise KeyFileError(
            f"{path} has no key pthguard may use"
            + (": " + "; ".join(reasons[:3]) if reasons else ""),
            remedy='add a line `PRINCIPAL namespaces="pthguard" ssh-ed25519 AAAA...`',
        )
    return entries


def key_id(path: Path) -> str:
    """``pthguard key id PUBFILE``: the keyid of the one key in ``path``."""
    return load_public_key(path).keyid


def key_show(path: Path) -> dict[str, object]:
    """``pthguard key show PUBFILE``: keyid, name, type, OpenSSH fingerprint, format (and the
    comment or principals when the file has them) of the one key in ``path``."""
    entries = read_key_entries(path)
    if len(entries) != 1:
        raise KeyFileError(
            f"{path} holds {len(entries)} keys where one is expected",
            remedy="use key_show_all for allowed_signers files",
        )
    return entries[0].to_dict()


def key_show_all(path: Path, now: dt.datetime | None = None) -> list[dict[str, object]]:
    """Like :func:`key_show` for every anchor in the file (allowed_signers)."""
    return [entry.to_dict() for entry in read_key_entries(path, now)]


def _load_pem_public_key(path: Path, data: bytes) -> PublicKey:
    raw = _keygen_pem_raw(data)
    if raw is not None:
        return PublicKey(raw=raw, name=key_name(path))
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(
            f"{path} is not a PEM public key", remedy="pass a key written by `pthguard keygen`"
        ) from exc
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise KeyFileError(
            f"{path} is {_article(_algorithm(key))} key; pthguard trusts Ed25519 keys only",
            remedy="pass a public key written by `pthguard keygen`",
        )
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PublicKey(raw=raw, name=key_name(path))


def _keygen_pem_raw(data: bytes) -> bytes | None:
    """The raw key of a PEM public key in exactly the bytes ``public_pem`` writes (so exactly
    what ``cryptography`` reads from them), else ``None``."""
    if not (data.startswith(_PEM_HEAD) and data.endswith(_PEM_TAIL)):
        return None
    body = data[len(_PEM_HEAD) : -len(_PEM_TAIL)]
    try:
        der = base64.b64decode(body, validate=True)
    except ValueError:
        return None
    if len(der) != len(_ED25519_SPKI_PREFIX) + 32 or not der.startswith(_ED25519_SPKI_PREFIX):
        return None
    if base64.b64encode(der) != body:  # one spelling only (no padding tricks, no newlines)
        return None
    return der[len(_ED25519_SPKI_PREFIX) :]


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "AEIOUR" else f"a {word}"


def _algorithm(key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa  # noqa: PLC0415

    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "RSA"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return "ECDSA"
    if isinstance(key, (dsa.DSAPrivateKey, dsa.DSAPublicKey)):
        return "DSA"
    return type(key).__name__
