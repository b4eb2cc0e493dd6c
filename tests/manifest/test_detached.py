"""Detached signing: payload out, signature back (pthguard or ssh-keygen), attach, verify."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from pthguard.errors import ManifestError, SignatureError
from pthguard.formats import sshsig as _sshsig
from pthguard.manifest import detached as _detached
from pthguard.manifest import envelope as _envelope
from pthguard.manifest import keys as _keys
from pthguard.manifest.canonical import dumps_pretty
from tests.support.sshkeys import (
    HAVE_BCRYPT,
    envelope,
    make_key,
    needs_ssh_keygen,
    ssh_sign,
    ssh_verify,
)

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)


def release_key(directory: Path, name: str) -> tuple[Path, Path]:
    """A pthguard key pair on disk (unencrypted): (private, public)."""
    key = _keys.generate(name)
    private, public = directory / f"{name}.key", directory / f"{name}.pub"
    _keys.write_new_file(private, _keys.private_pem(key, None), 0o600)
    _keys.write_new_file(public, _keys.public_pem(key.public), 0o644)
    return private, public


def offline(tmp_path: Path, payload: bytes, key: Path) -> Path:
    """A directory holding only the payload and the signing key (the offline machine)."""
    room = tmp_path / "offline"
    room.mkdir()
    (room / "manifest.payload").write_bytes(payload)
    shutil.copy(key, room / key.name)
    return room


def test_round_trip_with_pthguard_key(tmp_path: Path) -> None:
    private, public = release_key(tmp_path, "release")
    anchor = _keys.load_public_key(public)
    env = envelope(signers=(anchor,))
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_bytes(env.to_bytes())

    payload = _detached.payload_of(_envelope.parse_envelope(manifest_file.read_bytes()))
    room = offline(tmp_path, payload, private)
    read = _detached.read_payload((room / "manifest.payload").read_bytes())
    assert "version 1" in _detached.describe_payload(read)
    sig_bytes = _detached.sign_payload(
        (room / "manifest.payload").read_bytes(), _keys.load_private_key(room / private.name, None)
    )
    assert set(json.loads(sig_bytes)) == {"keyid", "sig"}
    (room / "manifest.payload.sig").write_bytes(sig_bytes)

    sig = _detached.read_signature_file((room / "manifest.payload.sig").read_bytes(), "sigfile")
    attached = _detached.attach(_envelope.parse_envelope(manifest_file.read_bytes()), [("s", sig)])
    reread = _envelope.parse_envelope(attached.to_bytes())
    result = _envelope.verify(reread, [anchor], NOW)
    assert [k.keyid for k in result.signed_by] == [anchor.keyid]
    # the same signature as `pthguard sign` makes: the stored entry is the plain form
    key = _keys.load_private_key(private, None)
    assert reread.signatures == _envelope.sign(env, key).signatures


@needs_ssh_keygen
@pytest.mark.parametrize("passphrase", ["", "offline secret"])
def test_round_trip_with_ssh_keygen(tmp_path: Path, passphrase: str) -> None:
    key = make_key(tmp_path, "id_ed25519", passphrase=passphrase)
    anchor = _keys.load_public_key(Path(f"{key}.pub"))
    env = envelope(signers=(anchor,))
    room = offline(tmp_path, _detached.payload_of(env), key)
    sig_file = ssh_sign(room / key.name, room / "manifest.payload", passphrase=passphrase)
    assert sig_file.name == "manifest.payload.sig"

    sig = _detached.read_signature_file(sig_file.read_bytes(), str(sig_file))
    assert sig.format == "sshsig"
    assert sig.sshsig == sig_file.read_text()
    attached = _detached.attach(env, [(str(sig_file), sig)], [anchor])
    data = attached.to_bytes()
    entry = json.loads(data)["signatures"][0]
    assert set(entry) == {"keyid", "sig", "format", "sshsig"}
    assert entry["format"] == "sshsig"
    reread = _envelope.parse_envelope(data)
    assert _envelope.verify(reread, [anchor], NOW).ok

    # what the envelope stores is still a signature ssh-keygen accepts over the payload
    (tmp_path / "stored.sig").write_text(entry["sshsig"])
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"release@x {Path(f'{key}.pub').read_text()}")
    assert ssh_verify(allowed, "release@x", tmp_path / "stored.sig", _detached.payload_of(env))
    # and an allowed_signers file works as the trust anchor
    assert _envelope.verify(reread, _keys.load_anchors(allowed), NOW).ok


@needs_ssh_keygen
def test_sign_payload_with_openssh_private_key(tmp_path: Path) -> None:
    words = "pw" if HAVE_BCRYPT else ""  # encrypted OpenSSH keys need the optional bcrypt
    key = make_key(tmp_path, "id_ed25519", passphrase=words)
    private = _keys.load_private_key(key, words.encode() or None)
    env = envelope(signers=(private.public,))
    payload = _detached.payload_of(env)
    for form in ("json", "sshsig"):
        data = _detached.sign_payload(payload, private, form=form)
        sig = _detached.read_signature_file(data)
        assert sig.format == ("sshsig" if form == "sshsig" else "ed25519")
        assert _envelope.verify(_detached.attach(env, [(form, sig)]), [private.public], NOW).ok


def test_mixed_formats_meet_a_threshold(tmp_path: Path) -> None:
    a, b = _keys.generate("a"), _keys.generate("b")
    env = envelope(signers=(a.public, b.public), threshold=2)
    payload = _detached.payload_of(env)
    sigs = [
        ("a.sig", _detached.read_signature_file(_detached.sign_payload(payload, a))),
        ("b.sig", _detached.read_signature_file(_detached.sign_payload(payload, b, form="sshsig"))),
    ]
    attached = _detached.attach(env, sigs)
    reread = _envelope.parse_envelope(attached.to_bytes())
    assert [s.format for s in reread.signatures] == ["ed25519", "sshsig"]
    assert len(_envelope.verify(reread, [a.public, b.public], NOW).signed_by) == 2
    with pytest.raises(SignatureError, match="1 of 2"):
        _envelope.verify(reread, [b.public], NOW)


def test_attach_rejects_a_signature_over_other_bytes() -> None:
    key = _keys.generate("release")
    v1 = envelope(version=1, signers=(key.public,))
    v2 = envelope(version=2, signers=(key.public,))
    for form in ("json", "sshsig"):
        data = _detached.sign_payload(_detached.payload_of(v2), key, form=form)
        sig = _detached.read_signature_file(data)
        with pytest.raises(SignatureError, match="does not match this manifest") as info:
            _detached.attach(v1, [("v2.sig", sig)])
        assert "pthguard sign --detached" in info.value.remedy


def test_attach_needs_the_key() -> None:
    key, other = _keys.generate("release"), _keys.generate("other")
    open_policy = envelope()  # policy lists no keys: the key must come with --trust
    sig = _detached.read_signature_file(
        _detached.sign_payload(_detached.payload_of(open_policy), key)
    )
    with pytest.raises(SignatureError, match="neither given with --trust nor listed") as info:
        _detached.attach(open_policy, [("s", sig)])
    assert "--trust" in info.value.remedy
    with pytest.raises(SignatureError, match="neither given"):
        _detached.attach(open_policy, [("s", sig)], [other.public])
    assert _detached.attach(open_policy, [("s", sig)], [key.public]).signatures == (sig,)

    only_other = envelope(signers=(other.public,))
    forged = _envelope.Signature(keyid=key.public.keyid, sig=sig.sig)
    with pytest.raises(SignatureError, match="policy does not allow"):
        _detached.attach(only_other, [("s", forged)], [key.public])


def test_attach_checks_all_before_adding_any() -> None:
    a, b = _keys.generate("a"), _keys.generate("b")
    env = envelope(signers=(a.public, b.public), threshold=2)
    good = _detached.read_signature_file(_detached.sign_payload(_detached.payload_of(env), a))
    other = envelope(version=9, signers=(a.public, b.public), threshold=2)
    bad = _detached.read_signature_file(_detached.sign_payload(_detached.payload_of(other), b))
    with pytest.raises(SignatureError, match=r"b\.sig"):
        _detached.attach(env, [("a.sig", good), ("b.sig", bad)])
    assert env.signatures == ()


def test_sign_payload_refusals() -> None:
    key, other = _keys.generate("release"), _keys.generate("other")
    env = envelope(signers=(other.public,))
    with pytest.raises(SignatureError, match="not among the signers"):
        _detached.sign_payload(_detached.payload_of(env), key)
    with pytest.raises(ManifestError, match="is a manifest file, not a payload"):
        _detached.sign_payload(env.to_bytes(), other)
    pretty = dumps_pretty(env.signed)
    with pytest.raises(ManifestError, match="not in canonical form"):
        _detached.sign_payload(pretty, other)
    with pytest.raises(ManifestError, match="not valid JSON"):
        _detached.sign_payload(b"\x00garbage", other)
    with pytest.raises(ManifestError, match="malformed"):
        _detached.read_payload(b'{"_type":"pthguard-manifest"}')


@needs_ssh_keygen
def test_signature_files_are_checked(tmp_path: Path) -> None:
    key = make_key(tmp_path, "k")
    payload = tmp_path / "manifest.payload"
    payload.write_bytes(_detached.payload_of(envelope()))
    git = ssh_sign(key, payload, namespace="git")
    with pytest.raises(SignatureError, match="namespace 'git', not 'pthguard'"):
        _detached.read_signature_file(git.read_bytes(), "git.sig")
    with pytest.raises(SignatureError, match="neither a pthguard signature"):
        _detached.read_signature_file(b"not a signature", "x.sig")
    with pytest.raises(SignatureError, match=r"x\.sig is not a valid signature"):
        _detached.read_signature_file(b'{"keyid": "00", "sig": "zz"}', "x.sig")


# -- the envelope format -----------------------------------------------------------------------


def sshsig_envelope() -> tuple[_envelope.Envelope, _keys.PrivateKey]:
    key = _keys.generate("release")
    env = envelope(signers=(key.public,))
    sig = _detached.read_signature_file(
        _detached.sign_payload(_detached.payload_of(env), key, form="sshsig")
    )
    return _detached.attach(env, [("s", sig)]), key


def test_plain_signatures_keep_the_old_form() -> None:
    key = _keys.generate("release")
    env = _envelope.sign(envelope(signers=(key.public,)), key)
    assert list(json.loads(env.to_bytes())["signatures"][0]) == ["keyid", "sig"]
    entry = {"keyid": key.public.keyid, "sig": env.signatures[0].sig, "format": "ed25519"}
    document = {"signed": env.signed, "signatures": [entry]}
    assert _envelope.parse_envelope(dumps_pretty(document)).signatures == env.signatures


def mutate_entry(env: _envelope.Envelope, **changes: object) -> bytes:
    document = json.loads(env.to_bytes())
    document["signatures"][0].update(changes)
    return dumps_pretty(document)


def test_sshsig_entries_are_parsed_strictly() -> None:
    env, key = sshsig_envelope()
    entry = json.loads(env.to_bytes())["signatures"][0]
    other = _keys.generate("other")
    git = _sshsig.sign_sshsig(key.key, b"x", namespace="git")
    git_sig = _sshsig.parse_sshsig(git).signature.hex()
    cases: dict[str, tuple[dict[str, object], str]] = {
        "keyid": ({"keyid": other.public.keyid}, "is not the keyid of the key"),
        "sig": ({"sig": "0" * 128}, "is not the signature inside"),
        "namespace": ({"sshsig": git, "sig": git_sig}, "namespace"),
        "armor": ({"sshsig": "-----BEGIN SSH SIGNATURE-----\nAAAA"}, "truncated"),
        "format": ({"format": "pgp"}, "must be one of ed25519, sshsig"),
        "missing": ({"sshsig": None}, "sshsig: expected a string"),
    }
    for name, (change, message) in cases.items():
        with pytest.raises(ManifestError, match=message):
            _envelope.parse_envelope(mutate_entry(env, **change), name)
    plain = dict(entry)
    plain["format"] = "ed25519"
    with pytest.raises(ManifestError, match=r"signatures\[0\]\.sshsig: unknown field"):
        _envelope.parse_envelope(dumps_pretty({"signed": env.signed, "signatures": [plain]}))


def test_sshsig_over_a_changed_manifest_does_not_count() -> None:
    env, key = sshsig_envelope()
    document = json.loads(env.to_bytes())
    document["signed"]["version"] = 2
    changed = _envelope.parse_envelope(dumps_pretty(document))
    result = _envelope.check_signatures(changed, [key.public])
    assert result.invalid == (key.public.keyid,)
    with pytest.raises(SignatureError, match="does not match"):
        _envelope.verify(changed, [key.public], NOW)
