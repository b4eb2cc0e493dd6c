"""The signed envelope ``{"signed": {...}, "signatures": [{"keyid": ..., "sig": ...}]}``.

Signatures are Ed25519 over :func:`.canonical.canonical_bytes` of ``signed``: either
plain (``format`` absent or ``"ed25519"``), or an OpenSSH SSHSIG of those bytes in the
``pthguard`` namespace (``"format": "sshsig"``, the armored text in ``sshsig``, ``sig`` the
Ed25519 signature inside it), as ``ssh-keygen -Y sign -n pthguard`` makes it.
Parsing is strict and complete before any signature work: a malformed envelope or manifest
fails without touching a key. Verification counts each trusted keyid once, however many
signature entries carry it, and needs ``policy.threshold`` of them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature

from pthguard._internal.fields import Fields, Problems
from pthguard._internal.fs import read_bytes
from pthguard.errors import (
    CanonicalJSONError,
    ExpiredError,
    ManifestError,
    PthguardError,
    SignatureError,
)
from pthguard.manifest.canonical import canonical_bytes, dumps_pretty, loads
from pthguard.manifest.keys import PrivateKey, PublicKey
from pthguard.manifest.model import Manifest

SIG_RE = re.compile(r"[0-9a-f]{128}\Z")
SignatureFormat = Literal["ed25519", "sshsig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    keyid: str
    sig: str  # hex Ed25519 signature (for sshsig: the one inside the SSHSIG blob)
    format: SignatureFormat = "ed25519"
    sshsig: str | None = None  # the armored SSHSIG text, for format "sshsig"

    def to_dict(self) -> dict[str, str]:
        if self.format == "ed25519":
            return {"keyid": self.keyid, "sig": self.sig}
        return {
            "keyid": self.keyid,
            "sig": self.sig,
            "format": self.format,
            "sshsig": self.sshsig or "",
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """A parsed manifest file: the raw ``signed`` mapping, its model, and the signatures."""

    signed: dict[str, Any]
    manifest: Manifest
    signatures: tuple[Signature, ...] = ()

    def to_bytes(self) -> bytes:
        return dumps_pretty(
            {"signed": self.signed, "signatures": [s.to_dict() for s in self.signatures]}
        )

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> Envelope:
        return cls(signed=manifest.to_dict(), manifest=manifest)


def parse_envelope(data: bytes, source: str = "manifest") -> Envelope:
    """Parse a manifest file strictly; raises :class:`ManifestError` naming ``source``."""
    if not data.strip():
        raise ManifestError(f"{source} is empty", remedy="write it with `pthguard snapshot`")
    try:
        document = loads(data)
    except CanonicalJSONError as exc:
        raise ManifestError(
            f"{source} is not valid JSON ({exc})",
            remedy="it may be truncated or edited by hand; take a fresh copy",
        ) from exc
    problems = Problems()
    f = Fields(document, "$", problems)
    signatures = f.get_list("signatures", lambda v, p: _parse_signature(v, p, problems))
    signed = f.data.get("signed")
    f.seen.add("signed")
    f.finish()
    if problems.items:
        raise ManifestError(
            f"{source} is malformed",
            problems.items,
            remedy="it was edited by hand or damaged; take a fresh copy or snapshot again",
        )
    try:
        manifest = Manifest.from_dict(signed)
    except ManifestError as exc:
        if not exc.problems:  # wrong _type or spec_version: keep its message and remedy
            raise ManifestError(f"{source}: {exc}", remedy=exc.remedy) from exc
        raise ManifestError(
            f"{source} is malformed",
            exc.problems,
            remedy="it was edited by hand or damaged; take a fresh copy or snapshot again",
        ) from exc
    try:
        canonical_bytes(signed)
    except CanonicalJSONError as exc:
        raise ManifestError(f"{source} is malformed: {exc}") from exc
    if not isinstance(signed, dict):  # Manifest.from_dict accepted it, so this cannot happen
        raise ManifestError(f"{source}: signed is not an object")
    return Envelope(signed=signed, manifest=manifest, signatures=signatures)


def read_envelope(path: Path, what: str = "manifest") -> Envelope:
    """Read the manifest file at ``path`` (an error names it as ``what``) and parse it."""
    return parse_envelope(read_bytes(path, what), str(path))


def _parse_signature(value: object, path: str, problems: Problems) -> Signature | None:
    f = Fields(value, path, problems)
    form = f.get_str("format", "ed25519", choices=("ed25519", "sshsig"))
    made = Signature(keyid=f.get_sha256("keyid"), sig=f.get_str("sig"))
    if made.sig and not SIG_RE.match(made.sig):
        problems.add(f"{path}.sig", "expected 128 lower-case hex digits (Ed25519 signature)")
    if form == "sshsig":
        armored = f.get_str("sshsig")
        made = Signature(keyid=made.keyid, sig=made.sig, format="sshsig", sshsig=armored)
        if armored:
            _check_sshsig_entry(made, path, problems)
    return made if f.finish() else None


def _check_sshsig_entry(made: Signature, path: str, problems: Problems) -> None:
    """Structure only (no signature work): namespace, keyid and sig agree with the SSHSIG."""
    from pthguard.formats import sshsig as _sshsig  # noqa: PLC0415 (SSH signatures only)

    try:
        parsed = _sshsig.parse_sshsig(made.sshsig or "", "the SSH signature")
    except PthguardError as exc:
        problems.add(f"{path}.sshsig", str(exc))
        return
    if parsed.namespace != _sshsig.NAMESPACE:
        problems.add(f"{path}.sshsig", f"namespace is {parsed.namespace!r}, not 'pthguard'")
    if made.keyid and parsed.public_key.keyid != made.keyid:
        problems.add(f"{path}.keyid", "is not the keyid of the key that made the SSH signature")
    if made.sig and parsed.signature.hex() != made.sig:
        problems.add(f"{path}.sig", "is not the signature inside the SSH signature")


def parse_signature(value: object, source: str) -> Signature:
    """Parse one signature entry (as in ``signatures``, or a detached signature file)."""
    problems = Problems()
    made = _parse_signature(value, "$", problems)
    if problems.items or made is None:
        raise SignatureError(f"{source} is not a valid signature: " + "; ".join(problems.items))
    return made


def add_signature(envelope: Envelope, signature: Signature) -> Envelope:
    """Add ``signature``; an older signature by the same keyid is replaced."""
    kept = tuple(s for s in envelope.signatures if s.keyid != signature.keyid)
    return Envelope(
        signed=envelope.signed, manifest=envelope.manifest, signatures=(*kept, signature)
    )


def sign(envelope: Envelope, key: PrivateKey) -> Envelope:
    """Add ``key``'s signature; an older signature by the same key is replaced."""
    sig = key.key.sign(canonical_bytes(envelope.signed)).hex()
    return add_signature(envelope, Signature(keyid=key.public.keyid, sig=sig))


def signature_valid(signature: Signature, key: PublicKey, message: bytes) -> bool:
    """True when ``signature`` is ``key``'s valid signature of ``message`` (either format)."""
    if signature.format == "sshsig":
        from pthguard.formats import sshsig as _sshsig  # noqa: PLC0415 (SSH signatures only)

        try:
            parsed = _sshsig.parse_sshsig(signature.sshsig or "")
            _sshsig.verify_sshsig(parsed, message, raw_key=key.raw)
        except PthguardError:
            return False
        return parsed.signature.hex() == signature.sig
    try:
        key.verifier().verify(bytes.fromhex(signature.sig), message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationResult:
    """What the signatures establish; :attr:`ok` when the threshold is met."""

    threshold: int
    signed_by: tuple[PublicKey, ...] = ()
    invalid: tuple[str, ...] = ()  # keyids of trusted keys whose signature does not verify
    untrusted: tuple[str, ...] = ()  # keyids that signed but are not trusted here
    not_in_policy: tuple[str, ...] = ()  # trusted keyids the signed policy does not list
    eligible: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return len(self.signed_by) >= self.threshold

    @property
    def missing(self) -> int:
        return max(0, self.threshold - len(self.signed_by))


def check_signatures(envelope: Envelope, trusted: list[PublicKey]) -> VerificationResult:
    """Count valid signatures by distinct eligible keys; never raises for bad signatures.

    Eligible keys are the trust anchors given here; when the signed policy lists keys, only
    anchors that it also lists are eligible.
    """
    policy = envelope.manifest.policy
    if policy.threshold < 1:
        raise SignatureError("the manifest's threshold is below 1")
    anchors = {k.keyid: k for k in trusted}
    listed = {k.keyid for k in policy.keys}
    eligible = {kid: k for kid, k in anchors.items() if not listed or kid in listed}
    message = canonical_bytes(envelope.signed)
    good: dict[str, PublicKey] = {}
    invalid: list[str] = []
    untrusted: list[str] = []
    for signature in envelope.signatures:
        key = eligible.get(signature.keyid)
        if key is None:
            if signature.keyid not in untrusted:
                untrusted.append(signature.keyid)
            continue
        if not signature_valid(signature, key, message):
            if signature.keyid not in good and signature.keyid not in invalid:
                invalid.append(signature.keyid)
            continue
        good[signature.keyid] = key
    return VerificationResult(
        threshold=policy.threshold,
        signed_by=tuple(good.values()),
        invalid=tuple(k for k in invalid if k not in good),
        untrusted=tuple(untrusted),
        not_in_policy=tuple(kid for kid in anchors if listed and kid not in listed),
        eligible=tuple(eligible),
    )


def verify(
    envelope: Envelope, trusted: list[PublicKey], now: dt.datetime, source: str = "manifest"
) -> VerificationResult:
    """Raise :class:`SignatureError` or :class:`ExpiredError` unless the manifest counts."""
    if not trusted:
        raise SignatureError(
            f"no trusted keys to verify {source}", remedy="pass --trust PUBLIC_KEY"
        )
    result = check_signatures(envelope, trusted)
    if not result.ok:
        raise SignatureError(_explain(result, envelope, source), remedy=_remedy(result, envelope))
    if now >= envelope.manifest.expires_at:
        raise ExpiredError(
            f"{source} expired at {envelope.manifest.expires}",
            remedy="take a new snapshot and sign it (pthguard snapshot --expires ...)",
        )
    return result


def _explain(result: VerificationResult, envelope: Envelope, source: str) -> str:
    if not envelope.signatures:
        return f"{source} has no signatures"
    parts = [f"{source}: {len(result.signed_by)} of {result.threshold} required trusted signatures"]
    if result.invalid:
        parts.append(
            "signature by "
            + ", ".join(k[:16] for k in result.invalid)
            + " does not match (the manifest was changed after signing, or the signature is bad)"
        )
    if result.untrusted:
        parts.append("signed by untrusted key " + ", ".join(k[:16] for k in result.untrusted))
    if result.not_in_policy:
        parts.append(
            "trusted key "
            + ", ".join(k[:16] for k in result.not_in_policy)
            + " is not among the keys the signed policy allows"
        )
    return "; ".join(parts)


def _remedy(result: VerificationResult, envelope: Envelope) -> str:
    if not envelope.signatures:
        return "sign it with `pthguard sign MANIFEST --key PRIVATE_KEY`"
    if result.invalid:
        return "take the manifest as it was signed, or review it and sign it again"
    return "pass the signer's public key with --trust, or collect more signatures"
