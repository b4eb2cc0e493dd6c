"""Ed25519 keys: generate, write (PKCS8 PEM, encrypted by default, mode 0600), load.

A keyid is the sha256 (hex) of the raw 32-byte public key. A key's display name is the file
name without its extension (``release.pub`` -> ``release``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from pthguard.errors import KeyFileError


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
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return PublicKey(raw=raw, name=self.name)


def key_name(path: Path) -> str:
    return path.name.split(".")[0] or path.name


def generate(name: str) -> PrivateKey:
    return PrivateKey(ed25519.Ed25519PrivateKey.generate(), name)


def private_pem(key: PrivateKey, passphrase: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def public_pem(key: PublicKey) -> bytes:
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
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyFileError(f"{what} {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise KeyFileError(f"{what} {path} is a directory, not a key file") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read {what} {path}: {exc.strerror}") from exc


def is_encrypted_pem(data: bytes) -> bool:
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


def load_private_key(path: Path, passphrase: bytes | None) -> PrivateKey:
    """Load an Ed25519 private key; ``passphrase`` is needed when the file is encrypted."""
    data = _read(path, "private key")
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise KeyFileError(
            f"{path} is a public key",
            remedy="pass the private key (written by keygen --private-key)",
        )
    if is_encrypted_pem(data) and not passphrase:
        raise KeyFileError(
            f"{path} is encrypted and no passphrase was given",
            remedy="use --passphrase-file, PTHGUARD_PASSPHRASE, or a terminal to be asked",
        )
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
            f"{path} is a {_algorithm(key)} key; pthguard signs with Ed25519 only",
            remedy="create one with `pthguard keygen`",
        )
    return PrivateKey(key, key_name(path))


def load_public_key(path: Path) -> PublicKey:
    """Load a trusted Ed25519 public key (SubjectPublicKeyInfo PEM)."""
    data = _read(path, "public key")
    if b"PRIVATE KEY-----" in data:
        raise KeyFileError(
            f"{path} is a private key, given where a public key is expected",
            remedy="pass the .pub file written by keygen; keep the private key off this machine",
        )
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(
            f"{path} is not a PEM public key", remedy="pass a key written by `pthguard keygen`"
        ) from exc
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise KeyFileError(f"{path} is a {_algorithm(key)} key; pthguard trusts Ed25519 keys only")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PublicKey(raw=raw, name=key_name(path))


def _algorithm(key: object) -> str:
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "RSA"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return "ECDSA"
    if isinstance(key, (dsa.DSAPrivateKey, dsa.DSAPublicKey)):
        return "DSA"
    return type(key).__name__
