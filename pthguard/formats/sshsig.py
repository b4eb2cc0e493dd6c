"""SSHSIG signatures, as ``ssh-keygen -Y sign -n pthguard -f KEY FILE`` writes them.

Pure: text and bytes in, values or :class:`~pthguard.errors.SignatureError` out; no files.

An SSHSIG (OpenSSH's ``PROTOCOL.sshsig``) is an armored blob holding ``"SSHSIG"``, version 1,
the signer's public key, the namespace, a reserved string, the hash algorithm (``sha256`` or
``sha512``) and the signature. The signature covers ``"SSHSIG" || string(namespace) ||
string("") || string(hash_algorithm) || string(H(message))``. pthguard accepts only the
``pthguard`` namespace, so a signature made for git or for a file cannot be replayed as a
manifest signature.

Keys are Ed25519 only (:mod:`.openssh`). A security-key (``sk-ssh-ed25519@openssh.com``)
signature covers ``sha256(application) || flags || counter || sha256(signed data)`` and must
show user presence (flag 0x01), as OpenSSH requires by default.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from pthguard.errors import KeyFileError, SignatureError
from pthguard.formats.openssh import (
    ED25519,
    SK_ED25519,
    Reader,
    SSHPublicKey,
    b64decode,
    parse_key_blob,
    ssh_string,
)

NAMESPACE = "pthguard"
HASH_ALGORITHMS = ("sha256", "sha512")
MAGIC = b"SSHSIG"
VERSION = 1
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
LINE_LENGTH = 70  # what ssh-keygen writes
SK_USER_PRESENT = 0x01
SK_USER_VERIFIED = 0x04


# -- signatures --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SSHSignature:
    """A parsed SSHSIG blob (an Ed25519 or Ed25519 security-key signature)."""

    public_key: SSHPublicKey
    namespace: str
    hash_algorithm: str
    signature: bytes  # the 64-byte Ed25519 signature
    sk_flags: int | None = None
    sk_counter: int | None = None
    blob: bytes = b""

    def armored(self) -> str:
        return armor(self.blob)


def armor(blob: bytes) -> str:
    """The armored text exactly as ``ssh-keygen -Y sign`` writes it (trailing newline)."""
    encoded = base64.b64encode(blob).decode()
    lines = [encoded[i : i + LINE_LENGTH] for i in range(0, len(encoded), LINE_LENGTH)]
    return "\n".join([BEGIN, *lines, END]) + "\n"


def is_armored(data: bytes) -> bool:
    return data.lstrip().startswith(BEGIN.encode())


def dearmor(text: str, what: str = "the signature") -> bytes:
    body = text.strip()
    if not body.startswith(BEGIN):
        raise SignatureError(f"{what} is not an SSH signature (no {BEGIN} line)")
    if not body.endswith(END):
        raise SignatureError(f"{what} is truncated (no {END} line)")
    inner = "".join(body[len(BEGIN) : -len(END)].split())
    try:
        return b64decode(inner)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"{what} is not valid base64") from exc


def parse_sshsig(data: str | bytes, what: str = "the signature") -> SSHSignature:
    """Parse an armored SSHSIG; raises :class:`SignatureError` saying what is wrong."""
    if isinstance(data, bytes):
        try:
            data = data.decode("ascii")
        except UnicodeDecodeError as exc:
            raise SignatureError(f"{what} is not an SSH signature (not ASCII)") from exc
    blob = dearmor(data, what)
    reader = Reader(blob)
    try:
        if reader.take(len(MAGIC)) != MAGIC:
            raise SignatureError(f"{what} is not an SSHSIG signature (bad magic)")
        version = reader.u32()
        if version != VERSION:
            raise SignatureError(f"{what} has SSHSIG version {version}; pthguard reads version 1")
        key_blob = reader.string()
        namespace = reader.text()
        reader.string()  # reserved: ignored, as OpenSSH does
        hash_algorithm = reader.text()
        sig_blob = reader.string()
        if not reader.done:
            raise SignatureError(f"{what} has trailing data")
    except ValueError as exc:
        raise SignatureError(f"{what} is a truncated or malformed SSHSIG blob") from exc
    try:
        key = parse_key_blob(key_blob, f"the key that made {what}")
    except KeyFileError as exc:
        raise SignatureError(str(exc), remedy=exc.remedy) from exc
    if hash_algorithm not in HASH_ALGORITHMS:
        raise SignatureError(
            f"{what} uses hash algorithm {hash_algorithm!r}; SSHSIG allows sha256 and sha512"
        )
    sig_reader = Reader(sig_blob)
    flags = counter = None
    try:
        sig_type = sig_reader.text()
        if sig_type != key.keytype:
            raise SignatureError(f"{what} holds a {sig_type} signature from a {key.keytype} key")
        signature = sig_reader.string()
        if sig_type == SK_ED25519:
            flags = sig_reader.u8()
            counter = sig_reader.u32()
        if len(signature) != 64 or not sig_reader.done:
            raise SignatureError(f"{what} holds a malformed {sig_type} signature")
    except ValueError as exc:
        raise SignatureError(f"{what} holds a truncated signature") from exc
    return SSHSignature(
        public_key=key,
        namespace=namespace,
        hash_algorithm=hash_algorithm,
        signature=signature,
        sk_flags=flags,
        sk_counter=counter,
        blob=blob,
    )


def signed_data(message: bytes, namespace: str, hash_algorithm: str) -> bytes:
    """What an SSHSIG signature covers (the reserved field is signed empty)."""
    digest = hashlib.new(hash_algorithm, message).digest()
    return (
        MAGIC
        + ssh_string(namespace.encode())
        + ssh_string(b"")
        + ssh_string(hash_algorithm.encode())
        + ssh_string(digest)
    )


def sk_signed_data(application: str, flags: int, counter: int, data: bytes) -> bytes:
    """What a security key signs for ``data`` (OpenSSH ``PROTOCOL.u2f``)."""
    return (
        hashlib.sha256(application.encode()).digest()
        + struct.pack(">BI", flags, counter)
        + hashlib.sha256(data).digest()
    )


def verify_sshsig(
    sig: SSHSignature,
    message: bytes,
    *,
    namespace: str = NAMESPACE,
    raw_key: bytes | None = None,
    what: str = "the signature",
) -> None:
    """Raise :class:`SignatureError` unless ``sig`` is a valid signature of ``message`` in
    ``namespace`` (by ``raw_key`` when given)."""
    if sig.namespace != namespace:
        raise SignatureError(
            f"{what} is for namespace {sig.namespace!r}, not {namespace!r}",
            remedy=f"sign with `ssh-keygen -Y sign -n {namespace} -f KEY FILE`",
        )
    if raw_key is not None and sig.public_key.raw != raw_key:
        raise SignatureError(
            f"{what} was made by another key ({sig.public_key.fingerprint}, "
            f"keyid {sig.public_key.keyid[:16]})"
        )
    data = signed_data(message, namespace, sig.hash_algorithm)
    if sig.public_key.keytype == SK_ED25519:
        if sig.sk_flags is None or sig.sk_counter is None:  # parse_sshsig sets both
            raise SignatureError(f"{what} lacks the security-key flags")
        if not sig.sk_flags & SK_USER_PRESENT:
            raise SignatureError(
                f"{what} was made by a security key without user presence (no touch)",
                remedy="pthguard requires the touch (stricter than ssh-keygen -Y verify): sign "
                "again and touch the key, with a key not made with -O no-touch-required",
            )
        data = sk_signed_data(sig.public_key.application, sig.sk_flags, sig.sk_counter, data)
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(sig.public_key.raw).verify(sig.signature, data)
    except InvalidSignature as exc:
        raise SignatureError(
            f"{what} does not verify: the signed bytes differ or the signature was altered"
        ) from exc


def sign_sshsig(
    key: ed25519.Ed25519PrivateKey,
    message: bytes,
    *,
    namespace: str = NAMESPACE,
    hash_algorithm: str = "sha512",
) -> str:
    """An armored SSHSIG of ``message``, as ``ssh-keygen -Y sign -n NAMESPACE`` makes it."""
    if hash_algorithm not in HASH_ALGORITHMS:
        raise ValueError(f"hash algorithm {hash_algorithm!r}")
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signature = key.sign(signed_data(message, namespace, hash_algorithm))
    blob = (
        MAGIC
        + struct.pack(">I", VERSION)
        + ssh_string(SSHPublicKey(keytype=ED25519, raw=raw).blob)
        + ssh_string(namespace.encode())
        + ssh_string(b"")
        + ssh_string(hash_algorithm.encode())
        + ssh_string(ssh_string(ED25519.encode()) + ssh_string(signature))
    )
    return armor(blob)
