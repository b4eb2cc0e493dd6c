"""OpenSSH key formats for Ed25519: the SSH wire encoding, public keys, private key files.

Pure: text and bytes in, values or :class:`~pthguard.errors.PthguardError` out; no files.

* The wire encoding is RFC 4251's ``uint32``/``string``, read by :class:`Reader` and written
  by :func:`ssh_string`; SSHSIG blobs (:mod:`.sshsig`) and key blobs are built from it.
* Keys are Ed25519 only: ``ssh-ed25519`` and the FIDO security-key variant
  ``sk-ssh-ed25519@openssh.com`` (whose blob also names the application, usually ``ssh:``).
  Other key types are refused with a message saying which they are.
* A public key line is ``keytype base64 [comment]``, as in a ``.pub`` file; its fingerprint is
  ``SHA256:...`` as ``ssh-keygen -l`` prints it. The keyid of an SSH key is the sha256 of its
  raw 32-byte Ed25519 public key, as for a PEM key, so the same key has the same keyid in both
  forms.
* An ``openssh-key-v1`` private key file is recognised and its cipher and key type read
  without decryption (:func:`openssh_private_key_info`); decryption is left to
  ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519

from pthguard.errors import KeyFileError

ED25519 = "ssh-ed25519"
SK_ED25519 = "sk-ssh-ed25519@openssh.com"
KEY_TYPES = (ED25519, SK_ED25519)
OPENSSH_PRIVATE_BEGIN = b"-----BEGIN OPENSSH PRIVATE KEY-----"
OPENSSH_PRIVATE_END = b"-----END OPENSSH PRIVATE KEY-----"
_OPENSSH_PRIVATE_MAGIC = b"openssh-key-v1\0"

#: The remedy given when a key of another type is refused.
NEW_KEY_REMEDY = "create one with `ssh-keygen -t ed25519` (or `pthguard keygen`)"
_ED25519_ONLY = "pthguard accepts Ed25519 keys only"
_OTHER_TYPES = {
    "ssh-rsa": "an RSA",
    "rsa-sha2-256": "an RSA",
    "rsa-sha2-512": "an RSA",
    "ssh-dss": "a DSA",
    "ecdsa-sha2-nistp256": "an ECDSA",
    "ecdsa-sha2-nistp384": "an ECDSA",
    "ecdsa-sha2-nistp521": "an ECDSA",
    "sk-ecdsa-sha2-nistp256@openssh.com": "an ECDSA security-key",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com": "an ECDSA security-key",
}
_KEYTYPE_RE = re.compile(r"(ssh-|sk-|ecdsa-|rsa-|webauthn-)[A-Za-z0-9@.-]+\Z")


def describe_keytype(keytype: str) -> str:
    """``an RSA key (ssh-rsa)``: how messages name a key type pthguard does not accept."""
    if keytype.endswith("-cert-v01@openssh.com"):
        return f"an OpenSSH certificate ({keytype})"
    kind = _OTHER_TYPES.get(keytype, "an unsupported")
    return f"{kind} key ({keytype})"


def unsupported_key(keytype: str, what: str) -> str:
    """The message refusing ``what``, a key of type ``keytype``."""
    return f"{what} is {describe_keytype(keytype)}; {_ED25519_ONLY}"


def looks_like_keytype(token: str) -> bool:
    return bool(_KEYTYPE_RE.match(token))


# -- wire encoding -----------------------------------------------------------------------------


def ssh_string(data: bytes) -> bytes:
    """``data`` as an SSH ``string``: its length as a big-endian ``uint32``, then the bytes."""
    return struct.pack(">I", len(data)) + data


class Reader:
    """Reads the SSH wire format (RFC 4251 ``uint32``/``string``); ValueError when short."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.u32())

    def text(self) -> str:
        return self.string().decode("utf-8")  # UnicodeDecodeError is a ValueError

    @property
    def done(self) -> bool:
        return self.pos == len(self.data)


def b64decode(text: str) -> bytes:
    """Strict base64 (``binascii.Error``, a ValueError, on any character outside it)."""
    return base64.b64decode(text.encode("ascii"), validate=True)


# -- public keys -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SSHPublicKey:
    """An Ed25519 public key in OpenSSH form (``ssh-ed25519`` or ``sk-ssh-ed25519``)."""

    keytype: str
    raw: bytes
    application: str = ""  # security keys only, usually "ssh:"
    comment: str = ""

    @property
    def blob(self) -> bytes:
        data = ssh_string(self.keytype.encode()) + ssh_string(self.raw)
        if self.keytype == SK_ED25519:
            data += ssh_string(self.application.encode())
        return data

    @property
    def keyid(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def fingerprint(self) -> str:
        """``SHA256:...`` as ``ssh-keygen -l`` prints it."""
        return fingerprint_of_blob(self.blob)

    def line(self) -> str:
        text = f"{self.keytype} {base64.b64encode(self.blob).decode()}"
        return f"{text} {self.comment}" if self.comment else text


def fingerprint_of_blob(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def ed25519_fingerprint(raw: bytes) -> str:
    """The OpenSSH fingerprint of a raw Ed25519 key as ``ssh-ed25519`` (also for PEM keys)."""
    return SSHPublicKey(keytype=ED25519, raw=raw).fingerprint


def parse_key_blob(blob: bytes, what: str = "the key") -> SSHPublicKey:
    """Parse a public key in wire form; raises :class:`KeyFileError` for other key types."""
    reader = Reader(blob)
    try:
        keytype = reader.text()
    except ValueError as exc:
        raise KeyFileError(f"{what} is not an OpenSSH public key") from exc
    if keytype not in KEY_TYPES:
        raise KeyFileError(unsupported_key(keytype, what), remedy=NEW_KEY_REMEDY)
    try:
        raw = reader.string()
        application = reader.text() if keytype == SK_ED25519 else ""
    except ValueError as exc:
        raise KeyFileError(f"{what} is a truncated {keytype} key") from exc
    if len(raw) != 32 or not reader.done:
        raise KeyFileError(f"{what} is a malformed {keytype} key")
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise KeyFileError(f"{what} is not a valid Ed25519 key") from exc
    return SSHPublicKey(keytype=keytype, raw=raw, application=application)


def parse_public_key_line(line: str, what: str = "the key") -> SSHPublicKey:
    """Parse ``keytype base64 [comment]`` (a ``.pub`` file's line)."""
    parts = line.strip().split(None, 2)
    if len(parts) < 2:
        raise KeyFileError(
            f"{what} is not an OpenSSH public key line", remedy="expected `ssh-ed25519 AAAA...`"
        )
    keytype, encoded = parts[0], parts[1]
    if keytype not in KEY_TYPES:
        raise KeyFileError(unsupported_key(keytype, what), remedy=NEW_KEY_REMEDY)
    try:
        blob = b64decode(encoded)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{what}: the key is not valid base64") from exc
    key = parse_key_blob(blob, what)
    if key.keytype != keytype:
        raise KeyFileError(f"{what} says {keytype} but holds a {key.keytype} key")
    comment = parts[2].strip() if len(parts) == 3 else ""
    return SSHPublicKey(
        keytype=key.keytype, raw=key.raw, application=key.application, comment=comment
    )


# -- OpenSSH private key files -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenSSHPrivateKeyInfo:
    """What an ``openssh-key-v1`` file says before decryption."""

    cipher: str
    keytype: str

    @property
    def encrypted(self) -> bool:
        return self.cipher != "none"


def is_openssh_private_key(data: bytes) -> bool:
    return OPENSSH_PRIVATE_BEGIN in data


def openssh_private_key_info(data: bytes) -> OpenSSHPrivateKeyInfo | None:
    """Cipher and key type of an OpenSSH private key file; None when it is not one."""
    start = data.find(OPENSSH_PRIVATE_BEGIN)
    end = data.find(OPENSSH_PRIVATE_END)
    if start < 0 or end < start:
        return None
    try:
        blob = base64.b64decode(b"".join(data[start + len(OPENSSH_PRIVATE_BEGIN) : end].split()))
        if not blob.startswith(_OPENSSH_PRIVATE_MAGIC):
            return None
        reader = Reader(blob[len(_OPENSSH_PRIVATE_MAGIC) :])
        cipher = reader.text()
        reader.string()  # kdf name
        reader.string()  # kdf options
        if reader.u32() < 1:
            return None
        keytype = Reader(reader.string()).text()
    except (binascii.Error, ValueError):
        return None
    return OpenSSHPrivateKeyInfo(cipher=cipher, keytype=keytype)
