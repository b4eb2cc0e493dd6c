"""OpenSSH formats for Ed25519 keys: SSHSIG signatures, public key lines, allowed_signers.

Pure: text and bytes in, values or :class:`~pthguard.errors.PthguardError` out; no files.

* **SSHSIG** is what ``ssh-keygen -Y sign -n pthguard -f KEY FILE`` writes (OpenSSH's
  ``PROTOCOL.sshsig``): an armored blob holding ``"SSHSIG"``, version 1, the signer's public
  key, the namespace, a reserved string, the hash algorithm (``sha256`` or ``sha512``) and the
  signature. The signature covers ``"SSHSIG" || string(namespace) || string("") ||
  string(hash_algorithm) || string(H(message))``. pthguard accepts only the ``pthguard``
  namespace, so a signature made for git or for a file cannot be replayed as a manifest
  signature.
* Keys are Ed25519 only: ``ssh-ed25519`` and the FIDO security-key variant
  ``sk-ssh-ed25519@openssh.com``, whose signature covers ``sha256(application) || flags ||
  counter || sha256(signed data)`` and must show user presence (flag 0x01), as OpenSSH
  requires by default. Other key types are refused with a message saying which they are.
* ``allowed_signers`` lines are ``principals [options] keytype base64 [comment]``, as
  ``ssh-keygen -Y verify`` and git read them; options are ``namespaces="..."``,
  ``valid-after="..."``, ``valid-before="..."`` and ``cert-authority`` (refused: pthguard
  checks signers' own keys, not certificates).

The keyid of an SSH key is the sha256 of its raw 32-byte Ed25519 public key, as for a PEM key,
so the same key has the same keyid in both forms.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from pthguard.errors import KeyFileError, SignatureError

NAMESPACE = "pthguard"
ED25519 = "ssh-ed25519"
SK_ED25519 = "sk-ssh-ed25519@openssh.com"
KEY_TYPES = (ED25519, SK_ED25519)
HASH_ALGORITHMS = ("sha256", "sha512")
MAGIC = b"SSHSIG"
VERSION = 1
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
LINE_LENGTH = 70  # what ssh-keygen writes
SK_USER_PRESENT = 0x01
SK_USER_VERIFIED = 0x04
OPENSSH_PRIVATE_BEGIN = b"-----BEGIN OPENSSH PRIVATE KEY-----"
OPENSSH_PRIVATE_END = b"-----END OPENSSH PRIVATE KEY-----"
_OPENSSH_PRIVATE_MAGIC = b"openssh-key-v1\0"

_ED25519_ONLY = "pthguard accepts Ed25519 keys only"
_NEW_KEY = "create one with `ssh-keygen -t ed25519` (or `pthguard keygen`)"
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
_ANCHOR_FORMS = (
    "a trust anchor is a PEM public key, an OpenSSH public key line (ssh-ed25519 AAAA...) "
    "or an allowed_signers file"
)
_KEYTYPE_RE = re.compile(r"(ssh-|sk-|ecdsa-|rsa-|webauthn-)[A-Za-z0-9@.-]+\Z")


def describe_keytype(keytype: str) -> str:
    """``an RSA key (ssh-rsa)``: how messages name a key type pthguard does not accept."""
    if keytype.endswith("-cert-v01@openssh.com"):
        return f"an OpenSSH certificate ({keytype})"
    kind = _OTHER_TYPES.get(keytype, "an unsupported")
    return f"{kind} key ({keytype})"


def _unsupported_key(keytype: str, what: str) -> str:
    return f"{what} is {describe_keytype(keytype)}; {_ED25519_ONLY}"


# -- wire encoding -----------------------------------------------------------------------------


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class _Reader:
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


def _b64decode(text: str) -> bytes:
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
        data = _string(self.keytype.encode()) + _string(self.raw)
        if self.keytype == SK_ED25519:
            data += _string(self.application.encode())
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
    reader = _Reader(blob)
    try:
        keytype = reader.text()
    except ValueError as exc:
        raise KeyFileError(f"{what} is not an OpenSSH public key") from exc
    if keytype not in KEY_TYPES:
        raise KeyFileError(_unsupported_key(keytype, what), remedy=_NEW_KEY)
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


def looks_like_keytype(token: str) -> bool:
    return bool(_KEYTYPE_RE.match(token))


def parse_public_key_line(line: str, what: str = "the key") -> SSHPublicKey:
    """Parse ``keytype base64 [comment]`` (a ``.pub`` file's line)."""
    parts = line.strip().split(None, 2)
    if len(parts) < 2:
        raise KeyFileError(
            f"{what} is not an OpenSSH public key line", remedy="expected `ssh-ed25519 AAAA...`"
        )
    keytype, encoded = parts[0], parts[1]
    if keytype not in KEY_TYPES:
        raise KeyFileError(_unsupported_key(keytype, what), remedy=_NEW_KEY)
    try:
        blob = _b64decode(encoded)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{what}: the key is not valid base64") from exc
    key = parse_key_blob(blob, what)
    if key.keytype != keytype:
        raise KeyFileError(f"{what} says {keytype} but holds a {key.keytype} key")
    comment = parts[2].strip() if len(parts) == 3 else ""
    return SSHPublicKey(
        keytype=key.keytype, raw=key.raw, application=key.application, comment=comment
    )


# -- allowed_signers ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowedSigner:
    """One line of an allowed_signers file."""

    line: int
    principals: tuple[str, ...]
    key: SSHPublicKey
    namespaces: tuple[str, ...] | None = None  # patterns; None: any namespace
    valid_after: dt.datetime | None = None
    valid_before: dt.datetime | None = None

    def allows_namespace(self, namespace: str = NAMESPACE) -> bool:
        return self.namespaces is None or match_pattern_list(namespace, self.namespaces)

    def valid_at(self, moment: dt.datetime) -> bool:
        if self.valid_after is not None and moment < self.valid_after:
            return False
        return self.valid_before is None or moment <= self.valid_before


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowedSigners:
    """The lines that apply to ``namespace``; ``skipped`` says which did not and why."""

    signers: tuple[AllowedSigner, ...]
    skipped: tuple[str, ...] = field(default=())


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def match_pattern_list(value: str, patterns: tuple[str, ...]) -> bool:
    """OpenSSH pattern lists (``*``, ``?``, ``!negated``): a negated match wins."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _pattern_regex(pattern[1:] if negated else pattern).match(value):
            if negated:
                return False
            matched = True
    return matched


def parse_ssh_time(text: str) -> dt.datetime:
    """``YYYYMMDD[HHMM[SS]][Z]`` as ``ssh-keygen`` reads it: local time unless ``Z``."""
    utc = text.endswith(("Z", "z"))
    digits = text[:-1] if utc else text
    formats = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
    if not digits.isdigit() or len(digits) not in formats:
        raise ValueError(f"invalid time {text!r} (expected YYYYMMDD[HHMM[SS]][Z])")
    moment = dt.datetime.strptime(digits, formats[len(digits)])
    return moment.replace(tzinfo=dt.timezone.utc) if utc else moment.astimezone()


def _take_quoted(text: str, pos: int) -> tuple[str, int]:
    """``text[pos]`` is a quote: the unescaped content and the position after the quote."""
    out = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] == '"':
            out.append('"')
            pos += 2
            continue
        if char == '"':
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    raise ValueError("unterminated quote")


def _split_options(text: str) -> tuple[list[tuple[str, str | None]], str]:
    """Options up to the first unquoted blank: ``[(name, value or None)]`` and the rest."""
    options: list[tuple[str, str | None]] = []
    pos = 0
    while True:
        match = re.compile(r"[A-Za-z0-9-]+").match(text, pos)
        if match is None:
            raise ValueError("expected an option name")
        name, pos = match.group().lower(), match.end()
        value = None
        if text.startswith("=", pos):
            if not text.startswith('"', pos + 1):
                raise ValueError(f"the value of {name} must be in double quotes")
            value, pos = _take_quoted(text, pos + 1)
        options.append((name, value))
        if text.startswith(",", pos):
            pos += 1
            continue
        if pos == len(text) or text[pos] in " \t":
            return options, text[pos:]
        raise ValueError(f"unexpected {text[pos]!r} after option {name}")


def _parse_signer_line(text: str, number: int, source: str) -> AllowedSigner | str:
    """A signer, or (a string) the reason the line does not apply to pthguard."""
    where = f"{source}:{number}"
    rest = text.strip()
    if rest.startswith('"'):
        try:
            principal_text, end = _take_quoted(rest, 0)
        except ValueError as exc:
            raise KeyFileError(f"{where}: unterminated quote in the principals") from exc
        rest = rest[end:]
        if rest and rest[0] not in " \t":
            raise KeyFileError(f"{where}: expected a blank after the quoted principals")
    else:
        principal_text, _, rest = re.sub(r"[ \t]", " ", rest, count=1).partition(" ")
    principals = tuple(p for p in principal_text.split(",") if p)
    rest = rest.lstrip(" \t")
    if not principals or not rest:
        raise KeyFileError(
            f"{where}: expected `principal[,principal...] [options] keytype base64key`",
            remedy=_ANCHOR_FORMS,
        )
    options: list[tuple[str, str | None]] = []
    first = rest.split(None, 1)[0]
    if not looks_like_keytype(first):
        try:
            options, rest = _split_options(rest)
        except ValueError as exc:
            raise KeyFileError(f"{where}: bad options: {exc}", remedy=_ANCHOR_FORMS) from exc
    namespaces: tuple[str, ...] | None = None
    valid_after = valid_before = None
    cert_authority = False
    seen: set[str] = set()
    for name, value in options:
        if name in seen:
            raise KeyFileError(f"{where}: bad options: {name} given twice")
        seen.add(name)
        if name == "cert-authority" and value is None:
            cert_authority = True
        elif name == "namespaces" and value is not None:
            namespaces = tuple(n.strip() for n in value.split(",") if n.strip())
        elif name in ("valid-after", "valid-before") and value is not None:
            try:
                moment = parse_ssh_time(value)
            except ValueError as exc:
                raise KeyFileError(f"{where}: {name}: {exc}") from exc
            if name == "valid-after":
                valid_after = moment
            else:
                valid_before = moment
        else:
            raise KeyFileError(
                f"{where}: unknown or malformed option {name!r}",
                remedy="allowed_signers options are namespaces=, valid-after=, valid-before=; "
                + _ANCHOR_FORMS,
            )
    if namespaces is not None and not match_pattern_list(NAMESPACE, namespaces):
        return f"{where}: namespaces={','.join(namespaces)} does not include {NAMESPACE}"
    keytype = rest.split(None, 1)[0] if rest.strip() else ""
    if cert_authority:
        raise KeyFileError(
            f"{where}: cert-authority lines are not supported: pthguard trusts signers' own "
            "keys, not certificate authorities",
            remedy="list each signer's ssh-ed25519 key, or restrict the line with "
            'namespaces="git"',
        )
    if keytype not in KEY_TYPES:
        raise KeyFileError(
            _unsupported_key(keytype or "nothing", where),
            remedy=f'{_NEW_KEY}, or restrict the line with namespaces="git"',
        )
    key = parse_public_key_line(rest, where)
    return AllowedSigner(
        line=number,
        principals=principals,
        key=key,
        namespaces=namespaces,
        valid_after=valid_after,
        valid_before=valid_before,
    )


def parse_allowed_signers(text: str, source: str = "allowed_signers") -> AllowedSigners:
    """Parse every line; lines whose ``namespaces`` exclude pthguard are skipped, any other
    line pthguard cannot honour (other key types, ``cert-authority``, bad syntax) is an error."""
    signers: list[AllowedSigner] = []
    skipped: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        made = _parse_signer_line(stripped, number, source)
        if isinstance(made, str):
            skipped.append(made)
        else:
            signers.append(made)
    return AllowedSigners(signers=tuple(signers), skipped=tuple(skipped))


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
        return _b64decode(inner)
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
    reader = _Reader(blob)
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
    sig_reader = _Reader(sig_blob)
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
        + _string(namespace.encode())
        + _string(b"")
        + _string(hash_algorithm.encode())
        + _string(digest)
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
        + _string(SSHPublicKey(keytype=ED25519, raw=raw).blob)
        + _string(namespace.encode())
        + _string(b"")
        + _string(hash_algorithm.encode())
        + _string(_string(ED25519.encode()) + _string(signature))
    )
    return armor(blob)


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
        reader = _Reader(blob[len(_OPENSSH_PRIVATE_MAGIC) :])
        cipher = reader.text()
        reader.string()  # kdf name
        reader.string()  # kdf options
        if reader.u32() < 1:
            return None
        keytype = _Reader(reader.string()).text()
    except (binascii.Error, ValueError):
        return None
    return OpenSSHPrivateKeyInfo(cipher=cipher, keytype=keytype)
