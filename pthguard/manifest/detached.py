"""Detached (offline) signing: the signed bytes travel to the signer, a signature comes back.

1. ``pthguard sign --detached MANIFEST -o M.payload``: :func:`payload_of` writes the canonical
   JSON of ``signed``, exactly the bytes every signature covers.
2. On the offline machine, with only the payload and a key:
   ``pthguard sign-payload M.payload --key K -o M.payload.sig`` (:func:`sign_payload`) writes
   ``{"keyid", "sig"}``; or ``ssh-keygen -Y sign -n pthguard -f ~/.ssh/id_ed25519
   M.payload`` writes an armored SSH signature ``M.payload.sig``.
3. ``pthguard attach MANIFEST SIG... [--trust PUB]`` (:func:`read_signature_file`,
   :func:`attach`) checks each signature against the manifest's canonical bytes with the key
   it names (given with ``--trust`` or listed in the manifest's policy) before adding it.

Attaching establishes only that a signature matches; whether a signer is trusted is decided
by ``verify`` and ``install``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from pthguard.errors import CanonicalJSONError, ManifestError, SignatureError
from pthguard.formats import sshsig as _sshsig
from pthguard.manifest.canonical import canonical_bytes, dumps_pretty, loads
from pthguard.manifest.envelope import (
    Envelope,
    Signature,
    add_signature,
    parse_signature,
    signature_valid,
)
from pthguard.manifest.keys import PrivateKey, PublicKey
from pthguard.manifest.model import Manifest
from pthguard.manifest.rotation import policy_anchors

PAYLOAD_SUFFIX = ".payload"
SignatureFileFormat = Literal["json", "sshsig"]


def payload_of(envelope: Envelope) -> bytes:
    """The bytes to sign: canonical JSON of ``signed`` (no trailing newline)."""
    return canonical_bytes(envelope.signed)


def read_payload(payload: bytes, source: str = "payload") -> Manifest:
    """Check that ``payload`` is a manifest's canonical ``signed`` bytes; return the manifest
    (so the signer can see what it signs)."""
    try:
        document = loads(payload)
    except CanonicalJSONError as exc:
        raise ManifestError(
            f"{source} is not valid JSON ({exc})",
            remedy="copy the payload unchanged from `pthguard sign --detached`",
        ) from exc
    if isinstance(document, dict) and "signed" in document and "signatures" in document:
        raise ManifestError(
            f"{source} is a manifest file, not a payload",
            remedy="make the payload with `pthguard sign --detached MANIFEST -o PAYLOAD`",
        )
    manifest = Manifest.from_dict(document)
    if canonical_bytes(document) != payload:
        raise ManifestError(
            f"{source} is not in canonical form, so a signature over it would not match",
            remedy="copy the payload unchanged (it was reformatted or edited)",
        )
    return manifest


def sign_payload(
    payload: bytes,
    key: PrivateKey,
    *,
    form: SignatureFileFormat = "json",
    source: str = "payload",
) -> bytes:
    """A detached signature file for ``payload``: ``{"keyid", "sig"}`` JSON, or (``form``
    ``"sshsig"``) an armored SSHSIG in the ``pthguard`` namespace, as ssh-keygen makes it."""
    manifest = read_payload(payload, source)
    listed = {k.keyid for k in manifest.policy.keys}
    keyid = key.public.keyid
    if listed and keyid not in listed:
        raise SignatureError(
            f"key {key.name} ({keyid[:16]}) is not among the signers {source}'s policy allows",
            remedy="sign with an allowed key, or snapshot again with --signer",
        )
    if form == "sshsig":
        return _sshsig.sign_sshsig(key.key, payload).encode()
    entry = Signature(keyid=keyid, sig=key.key.sign(payload).hex())
    return dumps_pretty(entry.to_dict())


def read_signature_file(data: bytes, source: str = "signature") -> Signature:
    """Parse a detached signature: an armored SSH signature or a JSON signature entry."""
    if _sshsig.is_armored(data):
        parsed = _sshsig.parse_sshsig(data, source)
        if parsed.namespace != _sshsig.NAMESPACE:
            raise SignatureError(
                f"{source} is for namespace {parsed.namespace!r}, not 'pthguard'",
                remedy="sign the payload with `ssh-keygen -Y sign -n pthguard -f KEY PAYLOAD`",
            )
        return Signature(
            keyid=parsed.public_key.keyid,
            sig=parsed.signature.hex(),
            format="sshsig",
            sshsig=parsed.armored(),
        )
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SignatureError(
            f"{source} is neither a pthguard signature (JSON) nor an SSH signature",
            remedy="pass the file written by `pthguard sign-payload` or `ssh-keygen -Y sign`",
        ) from exc
    return parse_signature(value, source)


def attach(
    envelope: Envelope,
    signatures: Sequence[tuple[str, Signature]],
    keys: Sequence[PublicKey] = (),
) -> Envelope:
    """Add each ``(source, signature)`` after checking it over the envelope's canonical bytes
    with the key it names: one of ``keys`` (``--trust``) or of the manifest's policy keys.

    All are checked before any is added; raises :class:`SignatureError` naming the first one
    that does not match, is by an unknown key, or is by a key the policy does not allow.
    """
    known = {k.keyid: k for k in policy_anchors(envelope.manifest)}
    known.update({k.keyid: k for k in keys})
    listed = {k.keyid for k in envelope.manifest.policy.keys}
    message = payload_of(envelope)
    result = envelope
    for source, signature in signatures:
        short = signature.keyid[:16]
        if listed and signature.keyid not in listed:
            raise SignatureError(
                f"{source} is by key {short}, which the manifest's policy does not allow",
                remedy="sign with a key the policy lists, or snapshot again with --signer",
            )
        key = known.get(signature.keyid)
        if key is None:
            raise SignatureError(
                f"{source} is by key {short}, which is neither given with --trust nor listed "
                "in the manifest's policy",
                remedy="pass the signer's public key with --trust",
            )
        if not signature_valid(signature, key, message):
            raise SignatureError(
                f"{source} (by {key.name}, keyid {short}) does not match this manifest: it "
                "was made over different bytes",
                remedy="make the payload from this manifest with `pthguard sign --detached`, "
                "sign that payload, and attach the new signature",
            )
        result = add_signature(result, signature)
    return result


def describe_payload(manifest: Manifest) -> str:
    """One line for the signer: what the payload it is about to sign says."""
    policy = manifest.policy
    signers = ", ".join(k.name or k.keyid[:16] for k in policy.keys) or "any trusted key"
    return (
        f"manifest version {manifest.version} of {manifest.environment.prefix}, "
        f"expires {manifest.expires}, {len(manifest.distributions)} distribution(s); "
        f"policy {policy.mode}, {policy.threshold} of: {signers}"
    )
