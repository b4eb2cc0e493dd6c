"""allowed_signers files, checked against the real ``ssh-keygen -Y verify``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pthguard.errors import KeyFileError
from pthguard.formats import allowed_signers as _allowed_signers
from pthguard.formats import openssh as _openssh
from pthguard.manifest import keys as _keys
from tests.support.sshkeys import (
    PAYLOAD,
    make_key,
    needs_ssh_keygen,
    pthguard_verdict,
    pub_line,
    ssh_sign,
    ssh_verify,
    write_allowed_signers,
)

KEY_A = _openssh.SSHPublicKey(keytype=_openssh.ED25519, raw=bytes(range(32))).line()
KEY_B = _openssh.SSHPublicKey(keytype=_openssh.ED25519, raw=bytes(range(1, 33))).line()


def test_allowed_signers_syntax() -> None:
    text = f"""
# release engineers
alice@example.com,alice@corp {KEY_A} alice's laptop
"bob@example.com,b@x" namespaces="pthguard,git",valid-after="20200101" {KEY_B}
\tcarol@example.com\tNAMESPACES="pth*" {KEY_A}
dave@example.com namespaces="git" ssh-rsa AAAAB3NzaC1yc2E
erin@example.com namespaces="*,!pthguard" {KEY_B}
"""
    parsed = _allowed_signers.parse_allowed_signers(text, "allowed_signers")
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
        _allowed_signers.parse_allowed_signers(f"# comment\n{line}\n", "signers")
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
    assert _allowed_signers.parse_ssh_time(text) == expected


def test_ssh_time_local_and_invalid() -> None:
    local = _allowed_signers.parse_ssh_time("20300101")
    assert local.utcoffset() is not None
    assert local.replace(tzinfo=None) == dt.datetime(2030, 1, 1)
    for bad in ("2030010112", "2030-01-01", "Z", "20301301"):
        with pytest.raises(ValueError, match=r"time|does not match|unconverted"):
            _allowed_signers.parse_ssh_time(bad)


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
    assert _allowed_signers.match_pattern_list("pthguard", patterns) is expected


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
