"""Key rotation and revocation through successive manifests (pthguard.manifest.rotation).

``accept`` does what install does when it replaces an installed manifest: the new manifest
must verify on its own (its policy, its threshold, the trust anchors given) and, when its
signer policy differs from the installed one, also satisfy the installed policy.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pthguard.errors import SignatureError
from pthguard.manifest import detached as _detached
from pthguard.manifest import envelope as _envelope
from pthguard.manifest import keys as _keys
from pthguard.manifest import rotation as _rotation
from pthguard.manifest.envelope import Envelope
from tests.support.sshkeys import make_key, manifest, needs_ssh_keygen, ssh_sign, with_policy

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
A, B, C = (_keys.generate(name) for name in "ABC")
ANCHORS = [A.public, B.public, C.public]


def signed(
    version: int, policy: tuple[_keys.PrivateKey, ...], threshold: int, *by: _keys.PrivateKey
) -> Envelope:
    env = Envelope.from_manifest(manifest(version, tuple(k.public for k in policy), threshold))
    for key in by:
        env = _envelope.sign(env, key)
    return env


def accept(
    installed: Envelope, new: Envelope, anchors: list[_keys.PublicKey] = ANCHORS
) -> _rotation.RotationResult:
    _envelope.verify(new, anchors, NOW)
    return _rotation.require_rotation(installed.manifest, new, anchors, "new manifest")


V1 = signed(1, (A,), 1, A)
V2 = signed(2, (A, B), 2, A, B)


def test_unchanged_policy_needs_only_its_own_signatures() -> None:
    v2 = signed(2, (A,), 1, A)
    result = accept(V1, v2)
    assert not result.changed
    assert result.ok
    renamed = with_policy(v2.manifest, (_keys.PublicKey(raw=A.public.raw, name="renamed"),), 1)
    assert not _rotation.check_rotation(V1.manifest, Envelope.from_manifest(renamed), []).changed


def test_adding_a_signer_is_authorised_by_the_old_policy() -> None:
    result = accept(V1, V2)
    assert result.changed
    assert result.added == (B.public.keyid,)
    assert result.removed == ()
    assert (result.old_threshold, result.new_threshold) == (1, 2)
    assert [k.keyid for k in result.authorized_by] == [A.public.keyid]


def test_new_signer_cannot_add_itself() -> None:
    v2 = signed(2, (A, B), 1, B)  # valid under its own policy (B is listed, threshold 1)
    _envelope.verify(v2, ANCHORS, NOW)
    with pytest.raises(
        SignatureError, match=r"adds .* must also be signed by 1 .*version 1.*has 0"
    ) as info:
        accept(V1, v2)
    assert "current signers sign it" in info.value.remedy


def test_key_outside_the_installed_policy_is_refused() -> None:
    v3 = signed(3, (B, C), 1, C)
    _envelope.verify(v3, ANCHORS, NOW)
    result = _rotation.check_rotation(V2.manifest, v3, ANCHORS)
    assert not result.ok
    assert result.authorized_by == ()
    with pytest.raises(SignatureError, match="must also be signed by 2"):
        accept(V2, v3)


def test_revocation() -> None:
    # v3 drops A: B alone is not enough, the installed v2 needs 2 of A and B
    with pytest.raises(SignatureError, match=r"removes .*must also be signed by 2.*has 1"):
        accept(V2, signed(3, (B, C), 1, B))
    v3 = signed(3, (B, C), 1, A, B)
    result = accept(V2, v3)
    assert result.removed == (A.public.keyid,)
    assert result.added == (C.public.keyid,)
    # once v3 is installed, A's signatures no longer count, even with A still trusted
    v4_by_a = signed(4, (B, C), 1, A)
    outcome = _envelope.check_signatures(v4_by_a, ANCHORS)
    assert not outcome.ok
    assert A.public.keyid in outcome.untrusted
    with pytest.raises(SignatureError, match="untrusted key"):
        accept(v3, v4_by_a)
    assert accept(v3, signed(4, (B, C), 1, C)).ok
    # the revoked key cannot restore itself with a policy of its own
    with pytest.raises(SignatureError, match="must also be signed by 1"):
        accept(v3, signed(5, (A,), 1, A))


def test_threshold_change_needs_the_old_threshold() -> None:
    with pytest.raises(SignatureError, match=r"changes the threshold 2 -> 1"):
        accept(V2, signed(3, (A, B), 1, A))
    assert accept(V2, signed(3, (A, B), 1, A, B)).changed


def test_open_policy_uses_the_installed_anchors() -> None:
    """An installed policy listing no keys means any installed trust anchor."""
    v1 = signed(1, (), 1, A)
    v2 = signed(2, (B,), 1, B)
    installed_anchors = [A.public]
    result = _rotation.check_rotation(v1.manifest, v2, installed_anchors)
    assert result.changed
    assert not result.ok
    both = _envelope.sign(v2, A)
    assert _rotation.require_rotation(v1.manifest, both, installed_anchors).ok


@needs_ssh_keygen
def test_rotation_to_an_ssh_key_signed_with_ssh_keygen(tmp_path: Path) -> None:
    """v1 is signed by a pthguard key; v2 adds a release engineer's SSH key and is signed by
    both, the SSH half with ssh-keygen -Y sign over the detached payload."""
    ssh_key = make_key(tmp_path, "id_ed25519")
    engineer = _keys.load_public_key(Path(f"{ssh_key}.pub"))
    v2 = Envelope.from_manifest(with_policy(manifest(2), (A.public, engineer), 2))
    payload = tmp_path / "manifest.payload"
    payload.write_bytes(_detached.payload_of(v2))
    sig_file = ssh_sign(ssh_key, payload)
    sig = _detached.read_signature_file(sig_file.read_bytes(), str(sig_file))
    v2 = _envelope.sign(_detached.attach(v2, [(str(sig_file), sig)]), A)
    v2 = _envelope.parse_envelope(v2.to_bytes())
    result = accept(V1, v2, [A.public, engineer])
    assert result.added == (engineer.keyid,)
    # v3 revokes A; the engineer's SSH signature alone is not enough (v2 needs 2)
    v3 = Envelope.from_manifest(with_policy(manifest(3), (engineer,), 1))
    payload.write_bytes(_detached.payload_of(v3))
    sig_file = ssh_sign(ssh_key, payload)
    v3 = _detached.attach(v3, [("v3", _detached.read_signature_file(sig_file.read_bytes()))])
    with pytest.raises(SignatureError, match="removes"):
        accept(v2, v3, [A.public, engineer])
    assert accept(v2, _envelope.sign(v3, A), [A.public, engineer]).removed == (A.public.keyid,)
