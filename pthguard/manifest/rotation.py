"""Policy-driven key rotation and revocation between an installed manifest and its successor.

A manifest's ``policy.keys`` and ``policy.threshold`` say who may sign it, and so who may sign
the manifest that replaces it:

* a successor with the **same signer policy** (same keyids, same threshold) needs only its own
  signatures (:func:`pthguard.manifest.envelope.verify`);
* a successor whose signer policy **differs** (keys added or removed, threshold changed) must
  also be signed by ``threshold`` of the **old** policy's keys: the current signers authorise
  the change. Otherwise anyone trusted by the new policy alone could take over.

Revocation is a successor whose policy no longer lists a key: once it is installed, signatures
by that key no longer count (:func:`.envelope.check_signatures` only counts keys the
signed policy lists). The revoked key may still be needed, with the others, to reach the old
threshold for the revoking manifest itself.

Key material for the old policy comes from the old manifest itself (its ``policy.keys`` were
verified when it was installed); when the old policy lists no keys ("any trusted key"), the
trust anchors installed with it are the old signers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from pthguard.errors import SignatureError
from pthguard.manifest.envelope import Envelope, VerificationResult, check_signatures
from pthguard.manifest.keys import PublicKey
from pthguard.manifest.model import Manifest


def policy_anchors(manifest: Manifest) -> list[PublicKey]:
    """The keys a manifest's policy lists, as public keys."""
    return [
        PublicKey(raw=bytes.fromhex(k.public), name=k.name or k.keyid[:16])
        for k in manifest.policy.keys
    ]


def signer_policy(manifest: Manifest) -> tuple[frozenset[str], int]:
    """What rotation compares: the listed keyids and the threshold (names do not matter)."""
    return frozenset(k.keyid for k in manifest.policy.keys), manifest.policy.threshold


@dataclass(frozen=True, slots=True, kw_only=True)
class RotationResult:
    """How the successor's signer policy relates to the installed one."""

    changed: bool  # keys or threshold differ
    old_threshold: int
    new_threshold: int
    added: tuple[str, ...] = ()  # keyids the new policy lists and the old did not
    removed: tuple[str, ...] = ()  # keyids revoked: listed by the old policy, not the new
    old_policy: VerificationResult | None = None  # the new manifest checked against the old

    @property
    def ok(self) -> bool:
        return not self.changed or (self.old_policy is not None and self.old_policy.ok)

    @property
    def authorized_by(self) -> tuple[PublicKey, ...]:
        return self.old_policy.signed_by if self.old_policy is not None else ()


def check_rotation(
    old: Manifest, new_envelope: Envelope, trusted: Sequence[PublicKey]
) -> RotationResult:
    """Check that ``new_envelope`` may replace ``old``; never raises for bad signatures.

    ``trusted`` are the anchors installed with ``old``; they are used only when the old policy
    lists no keys. The new envelope's own signatures, threshold and expiry are checked
    separately by :func:`pthguard.manifest.envelope.verify`.
    """
    old_keys, old_threshold = signer_policy(old)
    new_keys, new_threshold = signer_policy(new_envelope.manifest)
    changed = (old_keys, old_threshold) != (new_keys, new_threshold)
    result = RotationResult(
        changed=changed,
        old_threshold=old_threshold,
        new_threshold=new_threshold,
        added=tuple(sorted(new_keys - old_keys)),
        removed=tuple(sorted(old_keys - new_keys)),
    )
    if not changed:
        return result
    # The new signed bytes, judged by the old policy and the old policy's signers.
    judged = Envelope(
        signed=new_envelope.signed,
        manifest=dataclasses.replace(new_envelope.manifest, policy=old.policy),
        signatures=new_envelope.signatures,
    )
    anchors = policy_anchors(old) if old_keys else list(trusted)
    return dataclasses.replace(result, old_policy=check_signatures(judged, anchors))


def require_rotation(
    old: Manifest, new_envelope: Envelope, trusted: Sequence[PublicKey], source: str = "manifest"
) -> RotationResult:
    """:func:`check_rotation`, raising :class:`SignatureError` when the change is not
    authorised by the installed manifest's signers."""
    result = check_rotation(old, new_envelope, trusted)
    if result.ok:
        return result
    old_policy = result.old_policy
    got = len(old_policy.signed_by) if old_policy is not None else 0
    changes = []
    if result.added:
        changes.append("adds " + ", ".join(k[:16] for k in result.added))
    if result.removed:
        changes.append("removes " + ", ".join(k[:16] for k in result.removed))
    if result.old_threshold != result.new_threshold:
        changes.append(f"changes the threshold {result.old_threshold} -> {result.new_threshold}")
    if not changes:
        changes.append("changes who may sign")
    raise SignatureError(
        f"{source} {' and '.join(changes)}, so it must also be signed by {result.old_threshold} "
        f"of the installed manifest's signers (version {old.version}); it has {got}",
        remedy="have the current signers sign it too (`pthguard sign`, or detached signing), "
        "or uninstall the guard and install afresh",
    )
