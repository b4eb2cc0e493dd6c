"""Tests of pthguard.manifest.keys: Ed25519 key files."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from pthguard.errors import KeyFileError, PthguardError
from pthguard.manifest import keys as _keys
from pthguard.manifest.keys import (
    PrivateKey,
    PublicKey,
    generate,
    is_encrypted_pem,
    key_name,
    keyid_of_raw,
    load_private_key,
    load_public_key,
    private_pem,
    public_pem,
    write_new_file,
)
from tests.factories import KEYS_DIR, fixture_private_key, fixture_public_key

PASSPHRASE = b"correct horse battery staple"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def umask_zero() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def write_pair(directory: Path, passphrase: bytes | None) -> tuple[PrivateKey, Path, Path]:
    key = generate("release")
    private = directory / "release.key"
    public = directory / "release.pub"
    write_new_file(private, private_pem(key, passphrase), 0o600)
    write_new_file(public, public_pem(key.public), 0o644)
    return key, private, public


def pkcs8(key: object, passphrase: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, dsa.DSAPrivateKey))
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def spki(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# -- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE], ids=["plain", "encrypted"])
def test_generate_write_load_round_trip(tmp_path: Path, passphrase: bytes | None) -> None:
    key, private, public = write_pair(tmp_path, passphrase)
    loaded = load_private_key(private, passphrase)
    assert loaded.public == key.public
    assert loaded.name == "release"
    assert load_public_key(public) == key.public
    message = b"signed bytes"
    load_public_key(public).verifier().verify(loaded.key.sign(message), message)


def test_encrypted_pem_is_marked_encrypted() -> None:
    key = generate("k")
    assert private_pem(key, PASSPHRASE).startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert is_encrypted_pem(private_pem(key, PASSPHRASE))
    assert PASSPHRASE not in private_pem(key, PASSPHRASE)


def test_plain_pem_is_pkcs8() -> None:
    pem = private_pem(generate("k"), None)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert not is_encrypted_pem(pem)


def test_empty_passphrase_writes_a_plain_key() -> None:
    assert not is_encrypted_pem(private_pem(generate("k"), b""))


def test_a_passphrase_for_a_plain_key_is_ignored(tmp_path: Path) -> None:
    key, private, _ = write_pair(tmp_path, None)
    assert load_private_key(private, PASSPHRASE).public == key.public


def test_generated_keys_differ() -> None:
    assert generate("a").public.raw != generate("a").public.raw


# -- key ids and names -------------------------------------------------------------------------


def test_keyid_is_sha256_of_the_raw_public_key() -> None:
    key = generate("k")
    raw = key.key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert len(raw) == 32
    assert key.public.raw == raw
    assert key.public.keyid == hashlib.sha256(raw).hexdigest() == keyid_of_raw(raw)
    assert key.public.hex == raw.hex()


def test_fixture_keyids_are_fixed() -> None:
    assert fixture_public_key(1).keyid == (
        "b9634e57cd7b4aaf01ffca6cd565906ab5daffe842f8dbe4f6380f016984cebe"
    )
    assert fixture_public_key(2).keyid == (
        "40888084179ce0f290de056951d3ac2faff83fe94f7ea81c10446f7ed526d1d7"
    )
    assert fixture_private_key(1).public == fixture_public_key(1)
    assert fixture_private_key(2).public == fixture_public_key(2)


def test_keyid_does_not_depend_on_the_name() -> None:
    raw = bytes(range(32))
    assert PublicKey(raw=raw, name="a").keyid == PublicKey(raw=raw, name="b").keyid


@pytest.mark.parametrize(
    ("file_name", "name"),
    [
        ("release.pub", "release"),
        ("release.key", "release"),
        ("a.b.c", "a"),
        (".hidden", ".hidden"),
    ],
)
def test_key_name(file_name: str, name: str) -> None:
    assert key_name(Path("/keys") / file_name) == name


def test_fixture_key_files_are_plain_pem() -> None:
    for number in (1, 2):
        assert (
            (KEYS_DIR / f"test-release-{number}.key")
            .read_bytes()
            .startswith(b"-----BEGIN PRIVATE KEY-----")
        )
        assert (
            (KEYS_DIR / f"test-release-{number}.pub")
            .read_bytes()
            .startswith(b"-----BEGIN PUBLIC KEY-----")
        )


# -- writing -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("umask_zero")
def test_private_key_file_mode_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    _, private, public = write_pair(tmp_path, PASSPHRASE)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644


def test_private_key_file_mode_with_a_strict_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        _, private, public = write_pair(tmp_path, None)
    finally:
        os.umask(old)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "release.key"
    target.write_bytes(b"precious")
    with pytest.raises(KeyFileError, match="already exists") as info:
        write_new_file(target, private_pem(generate("k"), None), 0o600)
    assert target.read_bytes() == b"precious"
    assert "remove the old file" in info.value.diagnostics()


def test_refuses_to_write_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "release.key"
    link.symlink_to(victim)
    with pytest.raises(KeyFileError, match="already exists"):
        write_new_file(link, b"new", 0o600)
    assert victim.read_bytes() == b"keep"


def test_cannot_create_in_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot create"):
        write_new_file(tmp_path / "missing" / "release.key", b"x", 0o600)


# -- wrong passphrase, missing passphrase ------------------------------------------------------


def test_wrong_passphrase(tmp_path: Path) -> None:
    _, private, _ = write_pair(tmp_path, PASSPHRASE)
    with pytest.raises(KeyFileError, match="wrong passphrase") as info:
        load_private_key(private, b"not it")
    assert str(private) in str(info.value)
    assert isinstance(info.value, PthguardError)


@pytest.mark.parametrize("passphrase", [None, b""])
def test_encrypted_key_without_passphrase(tmp_path: Path, passphrase: bytes | None) -> None:
    _, private, _ = write_pair(tmp_path, PASSPHRASE)
    with pytest.raises(KeyFileError, match="is encrypted and no passphrase was given") as info:
        load_private_key(private, passphrase)
    assert "--passphrase-file" in info.value.remedy


def test_traditional_encrypted_pem_without_passphrase(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "old.key"
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(PASSPHRASE),
        )
    )
    assert b"Proc-Type: 4,ENCRYPTED" in path.read_bytes()
    with pytest.raises(KeyFileError, match="no passphrase was given"):
        load_private_key(path, None)
    with pytest.raises(KeyFileError, match="is an RSA key"):
        load_private_key(path, PASSPHRASE)


# -- wrong algorithms --------------------------------------------------------------------------


def test_rsa_private_key_is_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "rsa.key"
    path.write_bytes(pkcs8(rsa_key))
    with pytest.raises(KeyFileError, match="is an RSA key; pthguard signs with Ed25519 only"):
        load_private_key(path, None)


def test_encrypted_rsa_private_key_is_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "rsa.key"
    path.write_bytes(pkcs8(rsa_key, PASSPHRASE))
    with pytest.raises(KeyFileError, match="is an RSA key"):
        load_private_key(path, PASSPHRASE)


def test_ecdsa_private_key_is_rejected(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    path = tmp_path / "ec.key"
    path.write_bytes(pkcs8(ec_key))
    with pytest.raises(KeyFileError, match="is an ECDSA key; pthguard signs with Ed25519 only"):
        load_private_key(path, None)


def test_ed448_private_key_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "ed448.key"
    path.write_bytes(
        ed448.Ed448PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFileError, match="Ed448PrivateKey key; pthguard signs with Ed25519"):
        load_private_key(path, None)


def test_rsa_public_key_is_rejected(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "rsa.pub"
    path.write_bytes(spki(rsa_key))
    with pytest.raises(KeyFileError, match="is an RSA key; pthguard trusts Ed25519 keys only"):
        load_public_key(path)


def test_ecdsa_public_key_is_rejected(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    path = tmp_path / "ec.pub"
    path.write_bytes(spki(ec_key))
    with pytest.raises(KeyFileError, match="is an ECDSA key; pthguard trusts Ed25519 keys only"):
        load_public_key(path)


# -- the wrong kind of file --------------------------------------------------------------------


def test_public_key_given_as_private_key(tmp_path: Path) -> None:
    _, _, public = write_pair(tmp_path, None)
    with pytest.raises(KeyFileError, match="is a public key") as info:
        load_private_key(public, None)
    assert "keygen --private-key" in info.value.remedy


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE], ids=["plain", "encrypted"])
def test_private_key_given_as_public_key(tmp_path: Path, passphrase: bytes | None) -> None:
    _, private, _ = write_pair(tmp_path, passphrase)
    with pytest.raises(KeyFileError, match="is a private key, given where a public key"):
        load_public_key(private)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello\n",
        b"\x00\xff" * 40,
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    ],
    ids=["empty", "text", "binary", "truncated-pem", "der"],
)
def test_garbage_private_key(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "garbage.key"
    path.write_bytes(data)
    with pytest.raises(KeyFileError, match="is not a PEM private key"):
        load_private_key(path, None)


def test_garbage_pem_public_key(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pub"
    path.write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(KeyFileError, match="is not a PEM public key"):
        load_public_key(path)


@pytest.mark.parametrize(
    "data",
    [b"", b"hello\n", b"\x00\xff" * 40, bytes(32)],
    ids=["empty", "text", "binary", "raw"],
)
def test_garbage_public_key(tmp_path: Path, data: bytes) -> None:
    # Non-PEM files are read as other public key formats; whichever, the error names the file.
    path = tmp_path / "garbage.pub"
    path.write_bytes(data)
    with pytest.raises(KeyFileError, match=r"garbage\.pub"):
        load_public_key(path)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="is a directory, not a key file"):
        load_private_key(tmp_path, None)
    with pytest.raises(KeyFileError, match="is a directory, not a key file"):
        load_public_key(tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"private key .*missing\.key does not exist"):
        load_private_key(tmp_path / "missing.key", None)
    with pytest.raises(KeyFileError, match=r"public key .*missing\.pub does not exist"):
        load_public_key(tmp_path / "missing.pub")


def _by_cryptography(data: bytes) -> bytes | None:
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        return None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return None
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_keygen_pem_is_read_without_cryptography_as_cryptography_reads_it(tmp_path: Path) -> None:
    for _ in range(50):
        key = generate("k")
        data = public_pem(key.public)
        assert _keys._keygen_pem_raw(data) == key.public.raw == _by_cryptography(data)
    path = tmp_path / "release.pub"
    path.write_bytes(data)
    assert load_public_key(path) == PublicKey(raw=key.public.raw, name="release")


def test_other_pem_spellings_go_to_cryptography(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """Anything but the exact bytes keygen writes is read by cryptography, as before."""
    key = generate("k").public
    data = public_pem(key)
    body = data.splitlines()[1]
    variants = [
        data.replace(b"\n", b"\r\n"),
        data.rstrip(b"\n"),
        data + b"\n",
        b"\n" + data,
        data.replace(body, body[:30] + b"\n" + body[30:]),
        data.replace(body, body + b" "),
        data.replace(body, body[:-1] + b"=="),
        data.replace(b"PUBLIC KEY", b"PUBLIC  KEY"),
        spki(rsa_key),
        spki(ec_key),
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ]
    for number, variant in enumerate(variants):
        assert _keys._keygen_pem_raw(variant) is None, variant
        path = tmp_path / f"v{number}.pub"
        path.write_bytes(variant)
        expected = _by_cryptography(variant)
        if expected is None:
            with pytest.raises(KeyFileError):
                load_public_key(path)
        else:
            assert load_public_key(path).raw == expected == key.raw
