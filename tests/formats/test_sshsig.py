"""SSHSIG signatures, checked against the real ``ssh-keygen``.

Every verdict pthguard gives on an SSHSIG is compared with ``ssh-keygen -Y verify`` on the same
bytes; the one documented difference is that pthguard requires user presence on security-key
signatures where ``ssh-keygen -Y verify`` does not.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from pthguard.errors import KeyFileError, SignatureError
from pthguard.formats import openssh as _openssh
from pthguard.formats import sshsig as _sshsig
from pthguard.manifest import keys as _keys
from tests.support.sshkeys import (
    HAVE_BCRYPT,
    PAYLOAD,
    make_key,
    needs_ssh_keygen,
    pthguard_verdict,
    pub_line,
    ssh_keygen,
    ssh_sign,
    ssh_verify,
    write_allowed_signers,
)

# Real security-key signatures (no hardware here to make new ones):
# OpenSSH's own test vector, regress/unittests/sshsig/testdata/ed25519_sk.sig (namespace
# "unittest") and a git commit signed with an Ed25519-SK key on a hardware token ("git").
OPENSSH_SK_DATA = b"This is a test, this is only a test"
OPENSSH_SK_SIG = """-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAAEoAAAAac2stc3NoLWVkMjU1MTlAb3BlbnNzaC5jb20AAAAgmxoNhd
Biu5zpuKUJgMgrhhI54b7OatE7Yz23Tf//sscAAAAEc3NoOgAAAAh1bml0dGVzdAAAAAAA
AAAGc2hhNTEyAAAAZwAAABpzay1zc2gtZWQyNTUxOUBvcGVuc3NoLmNvbQAAAEAi+7eTjW
/+LQ2M+sCD+KFtH1n7VFFJon/SZFsxODyV8cWTlFKj617Ys1Ur5TV6uaEXQhck8rBA2oQI
HTPANLIPARI0Vng=
-----END SSH SIGNATURE-----
"""
OPENSSH_SK_PUB = (
    "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIJsaDYXQYruc6bil"
    "CYDIK4YSOeG+zmrRO2M9t03//7LHAAAABHNzaDo= ED25519-SK test key"
)
GIT_SK_DATA = (
    b"tree ed9f16d32a89e48289d9d4becc4ff47cbd11f58c\n"
    b"parent 7c6364502eceecc87b276d8b49d8eb0ae96fd9e3\n"
    b"author Kevin Jones <octocat@github.com> 1638815753 -0500\n"
    b"committer Kevin Jones <octocat@github.com> 1638815828 -0500\n\ntest\n"
)
GIT_SK_SIG = """-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAAEoAAAAac2stc3NoLWVkMjU1MTlAb3BlbnNzaC5jb20AAAAgnXUo8l
URoToCMzr+Rxeia/9yy+Rn+VwTTOqXdIgf7TUAAAAEc3NoOgAAAANnaXQAAAAAAAAABnNo
YTUxMgAAAGcAAAAac2stc3NoLWVkMjU1MTlAb3BlbnNzaC5jb20AAABAud+P+aC7yCEcgy
smyAyN5iokI0T+dKuhl7Ml7XB/wPBlefSamMXoHE7k3BbAXBNXJQH0TtHo/aX0gZxLy44D
DgUAAAAG
-----END SSH SIGNATURE-----
"""


def reblob(armored: str, mutate: int) -> str:
    """The same SSHSIG with byte ``mutate`` (from the end) flipped, armored again."""
    blob = bytearray(_sshsig.dearmor(armored))
    blob[-mutate] ^= 0x01
    return _sshsig.armor(bytes(blob))


# -- ssh-keygen signatures ---------------------------------------------------------------------


@needs_ssh_keygen
@pytest.mark.parametrize("passphrase", ["", "correct horse"])
def test_ssh_keygen_signature_verifies(tmp_path: Path, passphrase: str) -> None:
    key = make_key(tmp_path, "id_ed25519", passphrase=passphrase)
    payload = tmp_path / "manifest.payload"
    payload.write_bytes(PAYLOAD)
    sig_path = ssh_sign(key, payload, passphrase=passphrase)
    sig = _sshsig.parse_sshsig(sig_path.read_bytes())
    anchor = _keys.load_public_key(Path(f"{key}.pub"))
    assert sig.namespace == "pthguard"
    assert sig.hash_algorithm == "sha512"
    assert sig.public_key.keyid == anchor.keyid
    _sshsig.verify_sshsig(sig, PAYLOAD, raw_key=anchor.raw)
    assert sig.armored() == sig_path.read_text()  # stored text is what ssh-keygen wrote
    # the private key loads in pthguard too, with its passphrase, and has the same keyid
    data = key.read_bytes()
    assert _keys.is_encrypted_pem(data) == bool(passphrase)
    if passphrase and not HAVE_BCRYPT:
        with pytest.raises(KeyFileError, match="optional bcrypt"):
            _keys.load_private_key(key, passphrase.encode())
        return
    private = _keys.load_private_key(key, passphrase.encode() or None)
    assert private.public.keyid == anchor.keyid


@needs_ssh_keygen
def test_sha256_signature(tmp_path: Path) -> None:
    key = make_key(tmp_path, "k")
    payload = tmp_path / "p"
    payload.write_bytes(PAYLOAD)
    done = ssh_keygen("-Y", "sign", "-n", "pthguard", "-O", "hashalg=sha256", "-f", key, payload,
                      cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    sig = _sshsig.parse_sshsig(Path(f"{payload}.sig").read_bytes())
    assert sig.hash_algorithm == "sha256"
    _sshsig.verify_sshsig(sig, PAYLOAD)


@needs_ssh_keygen
def test_pthguard_sshsig_is_byte_identical_to_ssh_keygen(tmp_path: Path) -> None:
    """Ed25519 is deterministic: pthguard's SSHSIG of the same bytes is ssh-keygen's."""
    key = make_key(tmp_path, "k")
    payload = tmp_path / "p"
    payload.write_bytes(PAYLOAD)
    private = _keys.load_private_key(key, None)
    assert _sshsig.sign_sshsig(private.key, PAYLOAD) == ssh_sign(key, payload).read_text()


@needs_ssh_keygen
def test_rejections_are_clear(tmp_path: Path) -> None:
    alice = make_key(tmp_path, "alice")
    bob = make_key(tmp_path, "bob")
    payload = tmp_path / "p"
    payload.write_bytes(PAYLOAD)
    good = ssh_sign(alice, payload).read_text()
    alice_key = _keys.load_public_key(Path(f"{alice}.pub"))

    with pytest.raises(SignatureError, match="does not verify: the signed bytes differ"):
        _sshsig.verify_sshsig(_sshsig.parse_sshsig(good), PAYLOAD + b" ")
    with pytest.raises(SignatureError, match="does not verify"):
        _sshsig.verify_sshsig(_sshsig.parse_sshsig(reblob(good, 1)), PAYLOAD)
    with pytest.raises(SignatureError, match="not valid base64"):
        _sshsig.parse_sshsig(good.replace("U1NI", "U1N!"))
    with pytest.raises(SignatureError, match="truncated"):
        _sshsig.parse_sshsig(good.replace("-----END SSH SIGNATURE-----", ""))
    with pytest.raises(SignatureError, match="not an SSH signature"):
        _sshsig.parse_sshsig("hello")

    git = ssh_sign(alice, payload, namespace="git").read_text()
    with pytest.raises(SignatureError, match="namespace 'git', not 'pthguard'") as info:
        _sshsig.verify_sshsig(_sshsig.parse_sshsig(git), PAYLOAD)
    assert "ssh-keygen -Y sign -n pthguard" in info.value.remedy

    by_bob = ssh_sign(bob, payload).read_text()
    with pytest.raises(SignatureError, match="made by another key"):
        _sshsig.verify_sshsig(_sshsig.parse_sshsig(by_bob), PAYLOAD, raw_key=alice_key.raw)


@needs_ssh_keygen
@pytest.mark.parametrize(("keytype", "name"), [("rsa", "an RSA key"), ("ecdsa", "an ECDSA key")])
def test_other_key_types_rejected(tmp_path: Path, keytype: str, name: str) -> None:
    key = make_key(tmp_path, f"id_{keytype}", keytype=keytype)
    payload = tmp_path / "p"
    payload.write_bytes(PAYLOAD)
    sig = ssh_sign(key, payload)
    with pytest.raises(SignatureError, match=f"{name} .*pthguard accepts Ed25519 keys only"):
        _sshsig.parse_sshsig(sig.read_bytes())
    with pytest.raises(KeyFileError, match=f"{name} .*Ed25519 keys only") as info:
        _keys.load_public_key(Path(f"{key}.pub"))
    assert "ssh-keygen -t ed25519" in info.value.remedy
    with pytest.raises(KeyFileError, match="pthguard signs with Ed25519 only"):
        _keys.load_private_key(key, None)


@needs_ssh_keygen
def test_verdicts_agree_with_ssh_keygen(tmp_path: Path) -> None:
    alice = make_key(tmp_path, "alice")
    bob = make_key(tmp_path, "bob")
    payload = tmp_path / "p"
    payload.write_bytes(PAYLOAD)
    allowed = write_allowed_signers(tmp_path / "allowed_signers", f"alice@x {pub_line(alice)}")
    anchors = _keys.load_anchors(allowed)
    cases: dict[str, tuple[Path, bytes]] = {}
    cases["good"] = (ssh_sign(alice, payload), PAYLOAD)
    good_text = cases["good"][0].read_text()
    cases["tampered payload"] = (cases["good"][0], PAYLOAD.replace(b"1", b"2"))
    for name, index in (("tampered signature", 1), ("tampered hash name", 80)):
        path = tmp_path / f"{name}.sig"
        path.write_text(reblob(good_text, index))
        cases[name] = (path, PAYLOAD)
    other = tmp_path / "other"
    other.write_bytes(PAYLOAD)
    cases["namespace git"] = (ssh_sign(alice, other, namespace="git"), PAYLOAD)
    bobs = tmp_path / "bobs"
    bobs.write_bytes(PAYLOAD)
    cases["wrong key"] = (ssh_sign(bob, bobs), PAYLOAD)
    verdicts = {
        name: (ssh_verify(allowed, "alice@x", sig, data), pthguard_verdict(sig, data, anchors))
        for name, (sig, data) in cases.items()
    }
    assert verdicts["good"] == (True, True)
    for name, (theirs, ours) in verdicts.items():
        assert theirs == ours, f"{name}: ssh-keygen says {theirs}, pthguard says {ours}"


@needs_ssh_keygen
def test_pthguard_signature_accepted_by_ssh_keygen(tmp_path: Path) -> None:
    private = _keys.generate("release")
    text = _sshsig.sign_sshsig(private.key, PAYLOAD, hash_algorithm="sha256")
    (tmp_path / "sig").write_text(text)
    ssh = _openssh.SSHPublicKey(keytype=_openssh.ED25519, raw=private.public.raw)
    allowed = write_allowed_signers(tmp_path / "allowed", f"rel {ssh.line()}")
    assert ssh_verify(allowed, "rel", tmp_path / "sig", PAYLOAD)
    assert not ssh_verify(allowed, "rel", tmp_path / "sig", PAYLOAD + b"x")


# -- security keys (sk-ssh-ed25519@openssh.com) ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "namespace"),
    [(OPENSSH_SK_SIG, OPENSSH_SK_DATA, "unittest"), (GIT_SK_SIG, GIT_SK_DATA, "git")],
)
def test_real_security_key_signatures(text: str, data: bytes, namespace: str) -> None:
    sig = _sshsig.parse_sshsig(text)
    assert sig.public_key.keytype == _openssh.SK_ED25519
    assert sig.public_key.application == "ssh:"
    assert sig.sk_flags is not None
    assert sig.sk_flags & _sshsig.SK_USER_PRESENT
    _sshsig.verify_sshsig(sig, data, namespace=namespace)
    with pytest.raises(SignatureError, match="does not verify"):
        _sshsig.verify_sshsig(sig, data + b"\n", namespace=namespace)
    with pytest.raises(SignatureError, match=f"namespace '{namespace}', not 'pthguard'"):
        _sshsig.verify_sshsig(sig, data)


def test_security_key_public_key_line() -> None:
    key = _openssh.parse_public_key_line(OPENSSH_SK_PUB)
    sig = _sshsig.parse_sshsig(OPENSSH_SK_SIG)
    assert key.blob == sig.public_key.blob
    assert key.comment == "ED25519-SK test key"
    assert key.fingerprint == "SHA256:pbI9wlyrFSsUbp+GTiIAOqNMvoajbF2tHsPMECyrMYU"
    assert key.keyid == sig.public_key.keyid


def sk_signature(
    private: ed25519.Ed25519PrivateKey, data: bytes, flags: int, namespace: str = "pthguard"
) -> tuple[str, _openssh.SSHPublicKey]:
    """An SSHSIG as a security key holding ``private`` would make it (no hardware here)."""
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    key = _openssh.SSHPublicKey(keytype=_openssh.SK_ED25519, raw=raw, application="ssh:")
    inner = _sshsig.signed_data(data, namespace, "sha512")
    signature = private.sign(_sshsig.sk_signed_data("ssh:", flags, 42, inner))

    def string(value: bytes) -> bytes:
        return struct.pack(">I", len(value)) + value

    sig_blob = string(_openssh.SK_ED25519.encode()) + string(signature)
    sig_blob += struct.pack(">BI", flags, 42)
    blob = b"SSHSIG" + struct.pack(">I", 1) + string(key.blob) + string(namespace.encode())
    blob += string(b"") + string(b"sha512") + string(sig_blob)
    return _sshsig.armor(blob), key


@needs_ssh_keygen
@pytest.mark.parametrize("flags", [0x01, 0x05, 0x00])
def test_security_key_signature_in_pthguard_namespace(tmp_path: Path, flags: int) -> None:
    text, key = sk_signature(ed25519.Ed25519PrivateKey.generate(), PAYLOAD, flags)
    (tmp_path / "sig").write_text(text)
    allowed = write_allowed_signers(tmp_path / "allowed", f"hw {key.line()}")
    assert ssh_verify(allowed, "hw", tmp_path / "sig", PAYLOAD)  # ssh-keygen ignores presence
    assert _keys.load_anchors(allowed)[0].keyid == key.keyid
    sig = _sshsig.parse_sshsig(text)
    if flags & _sshsig.SK_USER_PRESENT:
        _sshsig.verify_sshsig(sig, PAYLOAD, raw_key=key.raw)
        assert not ssh_verify(allowed, "hw", tmp_path / "sig", PAYLOAD + b"x")
        with pytest.raises(SignatureError, match="does not verify"):
            _sshsig.verify_sshsig(sig, PAYLOAD + b"x")
    else:  # the documented difference: pthguard requires the touch
        with pytest.raises(SignatureError, match="without user presence"):
            _sshsig.verify_sshsig(sig, PAYLOAD, raw_key=key.raw)
