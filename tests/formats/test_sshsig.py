"""OpenSSH signatures and keys, checked against the real ``ssh-keygen``.

Every verdict pthguard gives on an SSHSIG is compared with ``ssh-keygen -Y verify`` on the same
bytes; the one documented difference is that pthguard requires user presence on security-key
signatures where ``ssh-keygen -Y verify`` does not.
"""

from __future__ import annotations

import base64
import datetime as dt
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from pthguard.errors import KeyFileError, SignatureError
from pthguard.formats import sshsig as _sshsig
from pthguard.manifest import keys as _keys
from tests.support.sshkeys import (
    HAVE_BCRYPT,
    SSH_KEYGEN,
    make_key,
    needs_ssh_keygen,
    ssh_keygen,
    ssh_sign,
    ssh_verify,
)

PAYLOAD = b'{"_type":"pthguard-manifest","version":1}'

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


def pthguard_verdict(sig_path: Path, data: bytes, anchors: list[_keys.PublicKey]) -> bool:
    try:
        sig = _sshsig.parse_sshsig(sig_path.read_bytes())
    except SignatureError:
        return False
    for anchor in anchors:
        try:
            _sshsig.verify_sshsig(sig, data, raw_key=anchor.raw)
        except SignatureError:
            continue
        return True
    return False


def write_allowed_signers(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def pub_line(key: Path) -> str:
    """``ssh-ed25519 AAAA...`` of a key made by make_key (without its comment)."""
    return " ".join(Path(f"{key}.pub").read_text().split()[:2])


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
def test_passphrase_errors(tmp_path: Path) -> None:
    words = "open sesame"
    key = make_key(tmp_path, "locked", passphrase=words)
    with pytest.raises(KeyFileError, match="encrypted and no passphrase"):
        _keys.load_private_key(key, None)
    if HAVE_BCRYPT:
        assert _keys.load_private_key(key, words.encode()).name == "locked"
        with pytest.raises(KeyFileError, match="wrong passphrase"):
            _keys.load_private_key(key, b"wrong")
    else:
        with pytest.raises(KeyFileError, match="optional bcrypt"):
            _keys.load_private_key(key, words.encode())
    with pytest.raises(KeyFileError, match="is a public key"):
        _keys.load_private_key(Path(f"{key}.pub"), None)


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
    ssh = _sshsig.SSHPublicKey(keytype=_sshsig.ED25519, raw=private.public.raw)
    allowed = write_allowed_signers(tmp_path / "allowed", f"rel {ssh.line()}")
    assert ssh_verify(allowed, "rel", tmp_path / "sig", PAYLOAD)
    assert not ssh_verify(allowed, "rel", tmp_path / "sig", PAYLOAD + b"x")


# -- keys in both forms ------------------------------------------------------------------------


@needs_ssh_keygen
def test_same_key_same_keyid_in_pem_and_ssh_form(tmp_path: Path) -> None:
    key = make_key(tmp_path, "id_ed25519")
    private = _keys.load_private_key(key, None)
    pem = tmp_path / "release.pub"
    pem.write_bytes(_keys.public_pem(private.public))
    ssh_pub = Path(f"{key}.pub")
    assert _keys.key_id(pem) == _keys.key_id(ssh_pub) == private.public.keyid
    shown_pem, shown_ssh = _keys.key_show(pem), _keys.key_show(ssh_pub)
    listed = ssh_keygen("-l", "-f", ssh_pub, cwd=tmp_path).stdout.decode().split()
    assert shown_pem["fingerprint"] == shown_ssh["fingerprint"] == listed[1]
    assert shown_pem == {
        "keyid": private.public.keyid,
        "name": "release",
        "type": "ed25519",
        "fingerprint": listed[1],
        "format": "pem",
    }
    assert shown_ssh["format"] == "openssh"
    assert shown_ssh["name"] == "id_ed25519"
    assert shown_ssh["comment"] == "id_ed25519@test"


def test_pem_key_fingerprint_matches_ssh_keygen(tmp_path: Path) -> None:
    private = _keys.generate("release")
    openssh = private.key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    (tmp_path / "k.pub").write_bytes(openssh + b" c\n")
    (tmp_path / "release.pub").write_bytes(_keys.public_pem(private.public))
    expected = str(_keys.key_show(tmp_path / "k.pub")["fingerprint"])
    assert _keys.key_show(tmp_path / "release.pub")["fingerprint"] == expected
    if Path(SSH_KEYGEN).exists():
        listed = ssh_keygen("-l", "-f", tmp_path / "k.pub", cwd=tmp_path).stdout.decode()
        assert expected in listed


def test_public_key_file_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pub"
    empty.write_text("# only a comment\n\n")
    with pytest.raises(KeyFileError, match="holds no key"):
        _keys.load_public_key(empty)
    bad = tmp_path / "bad.pub"
    bad.write_text("ssh-ed25519 not-base64!\n")
    with pytest.raises(KeyFileError, match="not valid base64"):
        _keys.load_public_key(bad)
    rfc = tmp_path / "rfc.pub"
    rfc.write_text("---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----\n")
    with pytest.raises(KeyFileError, match="RFC 4716") as info:
        _keys.load_public_key(rfc)
    assert "ssh-keygen -i" in info.value.remedy
    mismatch = tmp_path / "mismatch.pub"
    blob = _sshsig.SSHPublicKey(keytype=_sshsig.ED25519, raw=bytes(range(32))).blob
    mismatch.write_text(f"sk-ssh-ed25519@openssh.com {base64.b64encode(blob).decode()}\n")
    with pytest.raises(KeyFileError, match="holds a ssh-ed25519 key"):
        _keys.load_public_key(mismatch)


def test_security_key_private_key_refused_with_advice(tmp_path: Path) -> None:
    ssh = _sshsig.SSHPublicKey(keytype=_sshsig.SK_ED25519, raw=bytes(32), application="ssh:")

    def string(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    blob = b"openssh-key-v1\0" + string(b"none") + string(b"none") + string(b"")
    blob += struct.pack(">I", 1) + string(ssh.blob) + string(b"\0" * 8)
    path = tmp_path / "id_ed25519_sk"
    path.write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        + base64.b64encode(blob).decode()
        + "\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    with pytest.raises(KeyFileError, match="security-key") as info:
        _keys.load_private_key(path, None)
    assert "ssh-keygen -Y sign -n pthguard" in info.value.remedy


# -- security keys (sk-ssh-ed25519@openssh.com) ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "namespace"),
    [(OPENSSH_SK_SIG, OPENSSH_SK_DATA, "unittest"), (GIT_SK_SIG, GIT_SK_DATA, "git")],
)
def test_real_security_key_signatures(text: str, data: bytes, namespace: str) -> None:
    sig = _sshsig.parse_sshsig(text)
    assert sig.public_key.keytype == _sshsig.SK_ED25519
    assert sig.public_key.application == "ssh:"
    assert sig.sk_flags is not None
    assert sig.sk_flags & _sshsig.SK_USER_PRESENT
    _sshsig.verify_sshsig(sig, data, namespace=namespace)
    with pytest.raises(SignatureError, match="does not verify"):
        _sshsig.verify_sshsig(sig, data + b"\n", namespace=namespace)
    with pytest.raises(SignatureError, match=f"namespace '{namespace}', not 'pthguard'"):
        _sshsig.verify_sshsig(sig, data)


def test_security_key_public_key_line() -> None:
    key = _sshsig.parse_public_key_line(OPENSSH_SK_PUB)
    sig = _sshsig.parse_sshsig(OPENSSH_SK_SIG)
    assert key.blob == sig.public_key.blob
    assert key.comment == "ED25519-SK test key"
    assert key.fingerprint == "SHA256:pbI9wlyrFSsUbp+GTiIAOqNMvoajbF2tHsPMECyrMYU"
    assert key.keyid == sig.public_key.keyid


def sk_signature(
    private: ed25519.Ed25519PrivateKey, data: bytes, flags: int, namespace: str = "pthguard"
) -> tuple[str, _sshsig.SSHPublicKey]:
    """An SSHSIG as a security key holding ``private`` would make it (no hardware here)."""
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    key = _sshsig.SSHPublicKey(keytype=_sshsig.SK_ED25519, raw=raw, application="ssh:")
    inner = _sshsig.signed_data(data, namespace, "sha512")
    signature = private.sign(_sshsig.sk_signed_data("ssh:", flags, 42, inner))

    def string(value: bytes) -> bytes:
        return struct.pack(">I", len(value)) + value

    sig_blob = string(_sshsig.SK_ED25519.encode()) + string(signature)
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


# -- allowed_signers ---------------------------------------------------------------------------

KEY_A = _sshsig.SSHPublicKey(keytype=_sshsig.ED25519, raw=bytes(range(32))).line()
KEY_B = _sshsig.SSHPublicKey(keytype=_sshsig.ED25519, raw=bytes(range(1, 33))).line()


def test_allowed_signers_syntax() -> None:
    text = f"""
# release engineers
alice@example.com,alice@corp {KEY_A} alice's laptop
"bob@example.com,b@x" namespaces="pthguard,git",valid-after="20200101" {KEY_B}
\tcarol@example.com\tNAMESPACES="pth*" {KEY_A}
dave@example.com namespaces="git" ssh-rsa AAAAB3NzaC1yc2E
erin@example.com namespaces="*,!pthguard" {KEY_B}
"""
    parsed = _sshsig.parse_allowed_signers(text, "allowed_signers")
    assert [s.principals for s in parsed.signers] == [
        ("alice@example.com", "alice@corp"),
        ("bob@example.com", "b@x"),
        ("carol@example.com",),
    ]
    alice, bob, carol = parsed.signers
    assert alice.key.comment == "alice's laptop"
    assert alice.namespaces is None
    assert bob.namespaces == ("pthguard", "git")
    assert bob.valid_after is not None
    assert bob.valid_after.year == 2020
    assert carol.namespaces == ("pth*",)
    assert [s.split(":")[1] for s in parsed.skipped] == ["6", "7"]
    assert "does not include pthguard" in parsed.skipped[0]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f"ca@example.com cert-authority {KEY_A}", "cert-authority lines are not supported"),
        (f'x@y Cert-Authority,namespaces="pthguard" {KEY_A}', "cert-authority"),
        (f"x@y bogus {KEY_A}", "unknown or malformed option 'bogus'"),
        (f"x@y namespaces=pthguard {KEY_A}", "must be in double quotes"),
        (f'x@y namespaces="pthguard {KEY_A}', "unterminated quote"),
        (f'x@y namespaces="git",namespaces="pthguard" {KEY_A}', "given twice"),
        (f'x@y valid-before="2030-01-01" {KEY_A}', "invalid time"),
        ("x@y ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ", "an RSA key .ssh-rsa."),
        ("x@y ssh-ed25519-cert-v01@openssh.com AAAA", "an OpenSSH certificate"),
        ("x@y", "expected `principal"),
        ("x@y ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==", "truncated ssh-ed25519 key"),
    ],
)
def test_allowed_signers_errors(line: str, message: str) -> None:
    with pytest.raises(KeyFileError, match=message) as info:
        _sshsig.parse_allowed_signers(f"# comment\n{line}\n", "signers")
    assert str(info.value).startswith("signers:2")


def test_allowed_signers_anchors(tmp_path: Path) -> None:
    path = tmp_path / "allowed_signers"
    path.write_text(
        f"alice@example.com {KEY_A}\n"
        f'bob@example.com valid-before="20200101Z" {KEY_B}\n'
        f'alice@corp namespaces="pthguard" {KEY_A}\n'
    )
    now = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    anchors = _keys.load_anchors(path, now)
    assert [a.name for a in anchors] == ["alice@example.com"]  # bob expired; alice once
    then = dt.datetime(2019, 6, 1, tzinfo=dt.timezone.utc)
    assert [a.name for a in _keys.load_anchors(path, then)] == [
        "alice@example.com",
        "bob@example.com",
    ]
    shown = _keys.key_show_all(path, then)
    assert shown[1]["principals"] == ["bob@example.com"]
    assert shown[1]["format"] == "allowed_signers"
    assert _keys.key_show(path)["name"] == "alice@example.com"  # bob has expired
    two = tmp_path / "two"
    two.write_text(f"alice@example.com {KEY_A}\nbob@example.com {KEY_B}\n")
    with pytest.raises(KeyFileError, match="holds 2 keys"):
        _keys.key_show(two)
    with pytest.raises(KeyFileError, match="holds 2 keys"):
        _keys.load_public_key(two)
    only_expired = tmp_path / "expired"
    only_expired.write_text(f'bob@example.com valid-before="20200101Z" {KEY_B}\n')
    with pytest.raises(KeyFileError, match=r"no key pthguard may use.*not valid now"):
        _keys.load_anchors(only_expired)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20300101Z", dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)),
        ("203001021200Z", dt.datetime(2030, 1, 2, 12, 0, tzinfo=dt.timezone.utc)),
        ("20300102120030z", dt.datetime(2030, 1, 2, 12, 0, 30, tzinfo=dt.timezone.utc)),
    ],
)
def test_ssh_time(text: str, expected: dt.datetime) -> None:
    assert _sshsig.parse_ssh_time(text) == expected


def test_ssh_time_local_and_invalid() -> None:
    local = _sshsig.parse_ssh_time("20300101")
    assert local.utcoffset() is not None
    assert local.replace(tzinfo=None) == dt.datetime(2030, 1, 1)
    for bad in ("2030010112", "2030-01-01", "Z", "20301301"):
        with pytest.raises(ValueError, match=r"time|does not match|unconverted"):
            _sshsig.parse_ssh_time(bad)


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (("pthguard",), True),
        (("git", "pth*"), True),
        (("pthguar?",), True),
        (("*", "!pthguard"), False),
        (("PTHGUARD",), False),
        (("git",), False),
        (("pth.uard",), False),
    ],
)
def test_namespace_patterns(patterns: tuple[str, ...], expected: bool) -> None:
    assert _sshsig.match_pattern_list("pthguard", patterns) is expected


@needs_ssh_keygen
@pytest.mark.parametrize(
    "options",
    [
        "",
        'namespaces="pthguard,git" ',
        'namespaces="git" ',
        'namespaces="pth*" ',
        'namespaces="*,!pthguard" ',
        'valid-after="20200101",valid-before="20990101Z" ',
        'valid-after="20990101" ',
        'valid-before="20200101Z" ',
    ],
)
def test_allowed_signers_agree_with_ssh_keygen(tmp_path: Path, options: str) -> None:
    key = make_key(tmp_path, "k")
    payload = tmp_path / "p"
    payload.write_bytes(PAYLOAD)
    sig = ssh_sign(key, payload)
    allowed = write_allowed_signers(tmp_path / "allowed", f"me@x {options}{pub_line(key)}")
    theirs = ssh_verify(allowed, "me@x", sig, PAYLOAD)
    try:
        anchors = _keys.load_anchors(allowed)
    except KeyFileError:
        anchors = []
    assert pthguard_verdict(sig, PAYLOAD, anchors) == theirs
