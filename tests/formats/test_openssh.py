"""OpenSSH keys: the wire encoding, public key lines and blobs, fingerprints, private key files.

Fingerprints are compared with ``ssh-keygen -l`` where OpenSSH is installed.
"""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from pthguard.errors import KeyFileError
from pthguard.formats import openssh as _openssh
from pthguard.manifest import keys as _keys
from tests.support.sshkeys import HAVE_BCRYPT, SSH_KEYGEN, make_key, needs_ssh_keygen, ssh_keygen


def private_key_file(keytype: str, cipher: bytes = b"none", count: int = 1) -> bytes:
    """An ``openssh-key-v1`` file with one public key of ``keytype`` (no real private part)."""
    string = _openssh.ssh_string
    public = string(keytype.encode()) + string(bytes(32))
    blob = b"openssh-key-v1\0" + string(cipher) + string(b"none") + string(b"")
    blob += struct.pack(">I", count) + string(public) + string(b"\0" * 8)
    return (
        b"-----BEGIN OPENSSH PRIVATE KEY-----\n"
        + base64.b64encode(blob)
        + b"\n-----END OPENSSH PRIVATE KEY-----\n"
    )


# -- wire encoding -----------------------------------------------------------------------------


def test_reader_reads_what_ssh_string_writes() -> None:
    data = _openssh.ssh_string(b"ssh-ed25519") + struct.pack(">BI", 5, 42) + b"\xff"
    reader = _openssh.Reader(data)
    assert reader.text() == "ssh-ed25519"
    assert (reader.u8(), reader.u32()) == (5, 42)
    assert not reader.done
    assert reader.take(1) == b"\xff"
    assert reader.done
    for short in (b"\x00\x00\x00\x05abc", b"\x00\x00", b"\x00\x00\x00\x01\xff"):
        with pytest.raises(ValueError):  # noqa: PT011 - truncated or not UTF-8, both ValueError
            _openssh.Reader(short).text()


def test_b64decode_is_strict() -> None:
    assert _openssh.b64decode("AAAA") == b"\0\0\0"
    for bad in ("AA AA", "AAA!", "AAA"):
        with pytest.raises(ValueError):  # noqa: PT011 - binascii.Error is a ValueError
            _openssh.b64decode(bad)


# -- key types and blobs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keytype", "described"),
    [
        ("ssh-rsa", "an RSA key (ssh-rsa)"),
        ("ecdsa-sha2-nistp256", "an ECDSA key (ecdsa-sha2-nistp256)"),
        ("ssh-ed25519-cert-v01@openssh.com", "an OpenSSH certificate"),
        ("ssh-foo", "an unsupported key (ssh-foo)"),
    ],
)
def test_describe_keytype(keytype: str, described: str) -> None:
    assert _openssh.describe_keytype(keytype).startswith(described)
    message = _openssh.unsupported_key(keytype, "k.pub")
    assert message.startswith(f"k.pub is {described}")
    assert message.endswith("pthguard accepts Ed25519 keys only")


def test_looks_like_keytype() -> None:
    assert _openssh.looks_like_keytype("ssh-ed25519")
    assert _openssh.looks_like_keytype("sk-ssh-ed25519@openssh.com")
    assert _openssh.looks_like_keytype("ecdsa-sha2-nistp256")
    assert not _openssh.looks_like_keytype("alice@example.com")
    assert not _openssh.looks_like_keytype('namespaces="git"')


def test_key_blob_round_trip_and_errors() -> None:
    key = _openssh.SSHPublicKey(
        keytype=_openssh.SK_ED25519, raw=bytes(range(32)), application="ssh:"
    )
    assert _openssh.parse_key_blob(key.blob) == key
    assert key.fingerprint == _openssh.fingerprint_of_blob(key.blob)
    plain = _openssh.SSHPublicKey(keytype=_openssh.ED25519, raw=bytes(range(32)))
    assert _openssh.ed25519_fingerprint(plain.raw) == plain.fingerprint
    assert plain.keyid == key.keyid  # the keyid is the raw key's, whatever the type
    cases = {
        b"": "not an OpenSSH public key",
        _openssh.ssh_string(b"ssh-rsa"): "an RSA key",
        _openssh.ssh_string(b"ssh-ed25519"): "truncated ssh-ed25519 key",
        plain.blob + b"\0": "malformed ssh-ed25519 key",
        _openssh.ssh_string(b"ssh-ed25519") + _openssh.ssh_string(bytes(31)): "malformed",
    }
    for blob, message in cases.items():
        with pytest.raises(KeyFileError, match=message):
            _openssh.parse_key_blob(blob, "the key")


# -- private key files -------------------------------------------------------------------------


def test_private_key_info() -> None:
    plain = _openssh.openssh_private_key_info(private_key_file("ssh-ed25519"))
    assert plain == _openssh.OpenSSHPrivateKeyInfo(cipher="none", keytype="ssh-ed25519")
    assert not plain.encrypted
    locked = _openssh.openssh_private_key_info(private_key_file("ssh-rsa", b"aes256-ctr"))
    assert locked is not None
    assert locked.encrypted
    assert locked.keytype == "ssh-rsa"
    assert _openssh.is_openssh_private_key(private_key_file("ssh-ed25519"))
    assert _openssh.openssh_private_key_info(private_key_file("ssh-ed25519", count=0)) is None
    assert _openssh.openssh_private_key_info(b"-----BEGIN PRIVATE KEY-----\n") is None
    broken = private_key_file("ssh-ed25519").replace(b"b3Bl", b"b3B!")
    assert _openssh.openssh_private_key_info(broken) is None
    assert not _openssh.is_openssh_private_key(b"ssh-ed25519 AAAA")


# -- keys in both forms ------------------------------------------------------------------------


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
    blob = _openssh.SSHPublicKey(keytype=_openssh.ED25519, raw=bytes(range(32))).blob
    mismatch.write_text(f"sk-ssh-ed25519@openssh.com {base64.b64encode(blob).decode()}\n")
    with pytest.raises(KeyFileError, match="holds a ssh-ed25519 key"):
        _keys.load_public_key(mismatch)


def test_security_key_private_key_refused_with_advice(tmp_path: Path) -> None:
    ssh = _openssh.SSHPublicKey(keytype=_openssh.SK_ED25519, raw=bytes(32), application="ssh:")

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
