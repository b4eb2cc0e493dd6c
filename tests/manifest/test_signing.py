"""Tests of pthguard.manifest.envelope: the envelope, signing and threshold verification."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from pthguard.errors import ExpiredError, ManifestError, PthguardError, SignatureError
from pthguard.manifest.canonical import canonical_bytes
from pthguard.manifest.envelope import (
    Envelope,
    Signature,
    VerificationResult,
    check_signatures,
    parse_envelope,
    sign,
    verify,
)
from pthguard.manifest.keys import PrivateKey, PublicKey
from tests.factories import EXPIRES, key_from_seed, make_manifest

UTC = dt.timezone.utc
EXPIRES_AT = dt.datetime(2026, 6, 22, 12, 0, 0, tzinfo=UTC)
NOW = EXPIRES_AT - dt.timedelta(days=30)

KEY_A = key_from_seed(1, "a")
KEY_B = key_from_seed(2, "b")
KEY_C = key_from_seed(3, "c")
KEY_X = key_from_seed(99, "outsider")


def envelope_for(
    keys: list[PrivateKey] | None = None, threshold: int = 1, listed: list[PrivateKey] | None = None
) -> Envelope:
    """An envelope whose policy lists ``listed`` (default: none), signed by ``keys``."""
    manifest = make_manifest(keys=[k.public for k in listed or []], threshold=threshold)
    envelope = Envelope.from_manifest(manifest)
    for key in keys or []:
        envelope = sign(envelope, key)
    return envelope


def reparse(envelope: Envelope) -> Envelope:
    return parse_envelope(envelope.to_bytes())


def file_dict(envelope: Envelope) -> dict[str, Any]:
    data = json.loads(envelope.to_bytes())
    assert isinstance(data, dict)
    return data


def encode(data: object) -> bytes:
    return json.dumps(data).encode()


# -- sign and verify ---------------------------------------------------------------------------


def test_sign_and_verify() -> None:
    envelope = envelope_for([KEY_A])
    result = verify(envelope, [KEY_A.public], now=NOW)
    assert result.ok
    assert result.signed_by == (KEY_A.public,)
    assert result.missing == 0
    assert result.threshold == 1
    assert result.invalid == result.untrusted == result.not_in_policy == ()


def test_sign_verify_through_bytes() -> None:
    envelope = reparse(envelope_for([KEY_A], listed=[KEY_A]))
    assert verify(envelope, [KEY_A.public], now=NOW).ok
    assert envelope.manifest == make_manifest(keys=[KEY_A.public])


def test_signature_covers_the_canonical_bytes_of_signed() -> None:
    envelope = envelope_for([KEY_A])
    (signature,) = envelope.signatures
    assert signature.keyid == KEY_A.public.keyid
    KEY_A.public.verifier().verify(bytes.fromhex(signature.sig), canonical_bytes(envelope.signed))


def test_signing_is_deterministic() -> None:
    assert envelope_for([KEY_A]).to_bytes() == envelope_for([KEY_A]).to_bytes()


def test_signing_again_with_the_same_key_replaces_its_signature() -> None:
    once = envelope_for([KEY_A])
    twice = sign(once, KEY_A)
    assert twice.signatures == once.signatures


def test_signing_keeps_other_signatures() -> None:
    envelope = envelope_for([KEY_A, KEY_B])
    assert [s.keyid for s in envelope.signatures] == [KEY_A.public.keyid, KEY_B.public.keyid]
    resigned = sign(envelope, KEY_A)
    assert [s.keyid for s in resigned.signatures] == [KEY_B.public.keyid, KEY_A.public.keyid]


def test_from_manifest() -> None:
    manifest = make_manifest()
    envelope = Envelope.from_manifest(manifest)
    assert envelope.signed == manifest.to_dict()
    assert envelope.signatures == ()


def test_to_bytes_is_pretty_and_parses_back() -> None:
    envelope = envelope_for([KEY_A])
    data = envelope.to_bytes()
    assert data.startswith(b'{\n  "signatures": [')
    assert data.endswith(b"}\n")
    again = parse_envelope(data)
    assert again.signed == envelope.signed
    assert again.signatures == envelope.signatures
    assert again.to_bytes() == data


# -- thresholds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signers", "ok"),
    [
        ([], False),
        ([KEY_A], False),
        ([KEY_C], False),
        ([KEY_A, KEY_B], True),
        ([KEY_C, KEY_A], True),
        ([KEY_A, KEY_B, KEY_C], True),
    ],
)
def test_threshold_two_of_three(signers: list[PrivateKey], ok: bool) -> None:
    keys = [KEY_A, KEY_B, KEY_C]
    envelope = reparse(envelope_for(signers, threshold=2, listed=keys))
    trusted = [k.public for k in keys]
    result = check_signatures(envelope, trusted)
    assert result.ok is ok
    assert result.missing == max(0, 2 - len(signers))
    if ok:
        assert verify(envelope, trusted, now=NOW).ok
    else:
        with pytest.raises(SignatureError):
            verify(envelope, trusted, now=NOW)


def test_threshold_message_counts_signatures() -> None:
    keys = [KEY_A, KEY_B, KEY_C]
    envelope = envelope_for([KEY_A], threshold=2, listed=keys)
    with pytest.raises(SignatureError, match="1 of 2 required trusted signatures"):
        verify(envelope, [k.public for k in keys], now=NOW)


def test_duplicate_signature_entries_count_once() -> None:
    single = envelope_for([KEY_A], threshold=2, listed=[KEY_A, KEY_B])
    data = file_dict(single)
    data["signatures"].append(dict(data["signatures"][0]))
    envelope = parse_envelope(encode(data))
    assert len(envelope.signatures) == 2
    trusted = [KEY_A.public, KEY_B.public]
    result = check_signatures(envelope, trusted)
    assert result.signed_by == (KEY_A.public,)
    assert not result.ok
    with pytest.raises(SignatureError, match="1 of 2"):
        verify(envelope, trusted, now=NOW)


def test_duplicate_trust_anchors_count_once() -> None:
    envelope = envelope_for([KEY_A], threshold=2)
    result = check_signatures(envelope, [KEY_A.public, KEY_A.public])
    assert result.signed_by == (KEY_A.public,)
    assert not result.ok


def test_a_bad_entry_beside_a_good_one_by_the_same_key() -> None:
    good = envelope_for([KEY_A])
    bad = Signature(keyid=KEY_A.public.keyid, sig="00" * 64)
    for order in [(bad, *good.signatures), (*good.signatures, bad)]:
        envelope = Envelope(signed=good.signed, manifest=good.manifest, signatures=order)
        result = check_signatures(envelope, [KEY_A.public])
        assert result.ok
        assert result.invalid == ()


def test_threshold_comes_from_the_signed_policy() -> None:
    envelope = envelope_for([KEY_A], threshold=2)
    result = check_signatures(envelope, [KEY_A.public, KEY_B.public])
    assert result.threshold == 2
    assert not result.ok


def test_threshold_below_one_is_refused() -> None:
    # The parser refuses it; an envelope built in code must not slip past either.
    manifest = make_manifest(threshold=0)
    envelope = sign(Envelope.from_manifest(manifest), KEY_A)
    with pytest.raises(SignatureError, match="threshold is below 1"):
        check_signatures(envelope, [KEY_A.public])


# -- who may sign ------------------------------------------------------------------------------


def test_untrusted_signer() -> None:
    envelope = envelope_for([KEY_X])
    result = check_signatures(envelope, [KEY_A.public])
    assert result.untrusted == (KEY_X.public.keyid,)
    assert not result.ok
    with pytest.raises(SignatureError, match="signed by untrusted key") as info:
        verify(envelope, [KEY_A.public], now=NOW)
    assert KEY_X.public.keyid[:16] in str(info.value)
    assert "--trust" in info.value.remedy


def test_no_trusted_keys() -> None:
    with pytest.raises(SignatureError, match="no trusted keys"):
        verify(envelope_for([KEY_A]), [], now=NOW)


def test_no_signatures() -> None:
    with pytest.raises(SignatureError, match="manifest has no signatures") as info:
        verify(envelope_for([]), [KEY_A.public], now=NOW)
    assert "pthguard sign" in info.value.remedy


def test_source_names_the_manifest() -> None:
    with pytest.raises(SignatureError, match=r"prod\.json has no signatures"):
        verify(envelope_for([]), [KEY_A.public], now=NOW, source="prod.json")


def test_policy_keys_restrict_the_trust_anchors() -> None:
    # The policy lists A; B signed too and is trusted here, but only A may count.
    envelope = envelope_for([KEY_A, KEY_B], listed=[KEY_A])
    only_b = check_signatures(envelope, [KEY_B.public])
    assert not only_b.ok
    assert only_b.not_in_policy == (KEY_B.public.keyid,)
    assert only_b.eligible == ()
    with pytest.raises(SignatureError, match="is not among the keys the signed policy allows"):
        verify(envelope, [KEY_B.public], now=NOW)
    both = verify(envelope, [KEY_A.public, KEY_B.public], now=NOW)
    assert both.signed_by == (KEY_A.public,)
    assert both.eligible == (KEY_A.public.keyid,)
    assert both.not_in_policy == (KEY_B.public.keyid,)


def test_policy_keys_restrict_the_threshold_count() -> None:
    # Threshold 2, policy lists A and C; A and B sign: B does not count towards 2.
    envelope = envelope_for([KEY_A, KEY_B], threshold=2, listed=[KEY_A, KEY_C])
    result = check_signatures(envelope, [KEY_A.public, KEY_B.public, KEY_C.public])
    assert result.signed_by == (KEY_A.public,)
    assert not result.ok


def test_without_policy_keys_every_anchor_is_eligible() -> None:
    envelope = envelope_for([KEY_B])
    result = verify(envelope, [KEY_A.public, KEY_B.public], now=NOW)
    assert result.signed_by == (KEY_B.public,)
    assert set(result.eligible) == {KEY_A.public.keyid, KEY_B.public.keyid}


def test_anchor_names_do_not_matter() -> None:
    renamed = PublicKey(raw=KEY_A.public.raw, name="something else")
    assert verify(envelope_for([KEY_A], listed=[KEY_A]), [renamed], now=NOW).ok


# -- tampering ---------------------------------------------------------------------------------


def test_signature_over_edited_signed_fails() -> None:
    data = file_dict(envelope_for([KEY_A]))
    data["signed"]["version"] = 2
    envelope = parse_envelope(encode(data))
    result = check_signatures(envelope, [KEY_A.public])
    assert result.invalid == (KEY_A.public.keyid,)
    with pytest.raises(SignatureError, match="changed after signing") as info:
        verify(envelope, [KEY_A.public], now=NOW)
    assert "sign it again" in info.value.remedy


def test_edited_policy_cannot_lower_the_threshold() -> None:
    data = file_dict(envelope_for([KEY_A], threshold=2, listed=[KEY_A, KEY_B]))
    data["signed"]["policy"]["threshold"] = 1
    envelope = parse_envelope(encode(data))
    with pytest.raises(SignatureError, match="changed after signing"):
        verify(envelope, [KEY_A.public, KEY_B.public], now=NOW)


def test_signature_moved_to_another_key() -> None:
    data = file_dict(envelope_for([KEY_A]))
    data["signatures"][0]["keyid"] = KEY_B.public.keyid
    envelope = parse_envelope(encode(data))
    with pytest.raises(SignatureError, match="does not match"):
        verify(envelope, [KEY_B.public], now=NOW)


def test_reformatting_the_file_does_not_break_the_signature() -> None:
    # Signatures cover the canonical form of `signed`, not the file's bytes.
    data = file_dict(envelope_for([KEY_A]))
    compact = json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode()
    assert verify(parse_envelope(compact), [KEY_A.public], now=NOW).ok


# -- expiry ------------------------------------------------------------------------------------


def test_expiry_just_before() -> None:
    envelope = envelope_for([KEY_A])
    assert envelope.manifest.expires == EXPIRES
    assert verify(envelope, [KEY_A.public], now=EXPIRES_AT - dt.timedelta(seconds=1)).ok
    assert verify(envelope, [KEY_A.public], now=EXPIRES_AT - dt.timedelta(microseconds=1)).ok


@pytest.mark.parametrize(
    "now",
    [EXPIRES_AT, EXPIRES_AT + dt.timedelta(microseconds=1), EXPIRES_AT + dt.timedelta(days=9)],
)
def test_expiry_at_and_after(now: dt.datetime) -> None:
    with pytest.raises(ExpiredError, match=f"manifest expired at {EXPIRES}") as info:
        verify(envelope_for([KEY_A]), [KEY_A.public], now=now)
    assert isinstance(info.value, SignatureError)
    assert "pthguard snapshot" in info.value.remedy


def test_expiry_compares_instants_not_wall_clocks() -> None:
    east = dt.timezone(dt.timedelta(hours=5))
    envelope = envelope_for([KEY_A])
    just_before = (EXPIRES_AT - dt.timedelta(seconds=1)).astimezone(east)
    assert verify(envelope, [KEY_A.public], now=just_before).ok
    with pytest.raises(ExpiredError):
        verify(envelope, [KEY_A.public], now=EXPIRES_AT.astimezone(east))


def test_bad_signatures_are_reported_before_expiry() -> None:
    envelope = envelope_for([KEY_X])
    with pytest.raises(SignatureError) as info:
        verify(envelope, [KEY_A.public], now=EXPIRES_AT + dt.timedelta(days=1))
    assert type(info.value) is SignatureError


# -- the result object -------------------------------------------------------------------------


def test_verification_result_properties() -> None:
    result = VerificationResult(threshold=2, signed_by=(KEY_A.public,))
    assert not result.ok
    assert result.missing == 1
    assert VerificationResult(threshold=1, signed_by=(KEY_A.public, KEY_B.public)).missing == 0


# -- malformed envelopes fail before any signature work ----------------------------------------


@pytest.fixture
def no_signature_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: PublicKey) -> ed25519.Ed25519PublicKey:
        pytest.fail("signature work on a malformed envelope")

    monkeypatch.setattr(PublicKey, "verifier", refuse)


def _valid() -> dict[str, Any]:
    return file_dict(envelope_for([KEY_A], listed=[KEY_A]))


def _with(change: Callable[[dict[str, Any]], object]) -> bytes:
    data = _valid()
    change(data)
    return encode(data)


VALID_BYTES = envelope_for([KEY_A], listed=[KEY_A]).to_bytes()
GOOD_SIG = _valid()["signatures"][0]["sig"]

MALFORMED: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "manifest is empty"),
    "whitespace": (b" \n\t", "manifest is empty"),
    "truncated": (VALID_BYTES[: len(VALID_BYTES) // 2], "manifest is not valid JSON"),
    "truncated-by-one": (VALID_BYTES[:-2], "manifest is not valid JSON"),
    "not-json": (b"signed: yes\n", "manifest is not valid JSON"),
    "not-utf8": (VALID_BYTES.replace(b'"enforce"', b'"\xff"'), "not UTF-8"),
    "float": (VALID_BYTES.replace(b'"version": 1', b'"version": 1.0'), "is not an integer"),
    "nan": (VALID_BYTES.replace(b'"version": 1', b'"version": NaN'), "NaN is not allowed"),
    "huge-digits": (
        VALID_BYTES.replace(b'"version": 1', b'"version": 1' + b"0" * 5000),
        "manifest is not valid JSON",
    ),
    "duplicate-member": (
        VALID_BYTES.replace(b'"version": 1', b'"version": 1, "version": 1'),
        "duplicate member name",
    ),
    "top-level-list": (b"[]", "$: expected an object, found a list"),
    "top-level-string": (b'"manifest"', "$: expected an object, found a string"),
    "signatures-not-a-list": (
        _with(lambda d: d.update(signatures={"keyid": d["signatures"][0]["keyid"]})),
        "$.signatures: expected a list, found an object",
    ),
    "signatures-missing": (_with(lambda d: d.pop("signatures")), "$.signatures: missing"),
    "extra-top-level-field": (_with(lambda d: d.update(comment="hi")), "$.comment: unknown field"),
    "signature-not-an-object": (
        _with(lambda d: d["signatures"].append(GOOD_SIG)),
        "$.signatures[1]: expected an object, found a string",
    ),
    "signature-extra-field": (
        _with(lambda d: d["signatures"][0].update(method="ed25519")),
        "$.signatures[0].method: unknown field",
    ),
    "sig-upper-hex": (
        _with(lambda d: d["signatures"][0].update(sig=GOOD_SIG.upper())),
        "$.signatures[0].sig: expected 128 lower-case hex digits",
    ),
    "sig-short": (
        _with(lambda d: d["signatures"][0].update(sig=GOOD_SIG[:-2])),
        "$.signatures[0].sig: expected 128 lower-case hex digits",
    ),
    "sig-not-hex": (
        _with(lambda d: d["signatures"][0].update(sig="zz" * 64)),
        "$.signatures[0].sig: expected 128 lower-case hex digits",
    ),
    "sig-base64": (
        _with(lambda d: d["signatures"][0].update(sig="A" * 86 + "==")),
        "$.signatures[0].sig: expected 128 lower-case hex digits",
    ),
    "sig-missing": (
        _with(lambda d: d["signatures"][0].pop("sig")),
        "$.signatures[0].sig: missing",
    ),
    "keyid-bad": (
        _with(lambda d: d["signatures"][0].update(keyid="abc")),
        "$.signatures[0].keyid: expected a sha256 digest",
    ),
    "signed-missing": (_with(lambda d: d.pop("signed")), "signed: expected an object, found null"),
    "signed-not-an-object": (
        _with(lambda d: d.update(signed=[])),
        "signed: expected an object, found a list",
    ),
    "signed-unknown-field": (
        _with(lambda d: d["signed"].update(extra=1)),
        "signed.extra: unknown field",
    ),
    "signed-bad-threshold": (
        _with(lambda d: d["signed"]["policy"].update(threshold=0)),
        "signed.policy.threshold: must be at least 1",
    ),
    "signed-integer-out-of-range": (
        _with(lambda d: d["signed"].update(version=2**60)),
        "outside the I-JSON safe range",
    ),
    "lone-surrogate-in-signed-name": (
        VALID_BYTES.replace(b'"_type": ', b'"\\ud800": 1, "_type": '),
        "manifest is malformed",
    ),
    "lone-surrogate-in-signed-value": (
        VALID_BYTES.replace(b'"platform": "linux"', b'"platform": "linux\\udc00"'),
        "not valid Unicode",
    ),
    "wrong-type": (
        _with(lambda d: d["signed"].update(_type="root")),
        "manifest: not a pthguard manifest (signed._type is 'root')",
    ),
    "unsupported-spec": (
        _with(lambda d: d["signed"].update(spec_version="2")),
        "unsupported spec_version '2'",
    ),
}


@pytest.mark.usefixtures("no_signature_work")
@pytest.mark.parametrize(("data", "expected"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_envelope_fails_before_signature_work(data: bytes, expected: str) -> None:
    assert data != VALID_BYTES
    with pytest.raises(ManifestError) as info:
        verify(parse_envelope(data), [KEY_A.public], now=NOW)
    assert expected in str(info.value)
    assert isinstance(info.value, PthguardError)


def test_valid_bytes_do_reach_the_verifier(no_signature_work: None) -> None:
    # The guard above would catch signature work: prove that it is armed.
    envelope = parse_envelope(VALID_BYTES)
    with pytest.raises(pytest.fail.Exception):
        verify(envelope, [KEY_A.public], now=NOW)


def test_problems_are_listed_on_the_error() -> None:
    data = _valid()
    data["comment"] = 1
    data["signatures"][0]["sig"] = "x"
    with pytest.raises(ManifestError) as info:
        parse_envelope(encode(data), source="m.json")
    assert info.value.problems == [
        "$.signatures[0].sig: expected 128 lower-case hex digits (Ed25519 signature)",
        "$.comment: unknown field",
    ]
    assert str(info.value).startswith("m.json is malformed: ")


def test_manifest_problems_are_listed_on_the_error() -> None:
    data = _valid()
    data["signed"]["version"] = "7"
    with pytest.raises(ManifestError) as info:
        parse_envelope(encode(data))
    assert info.value.problems == ["signed.version: expected an integer, found a string"]


def test_unsupported_spec_version_keeps_its_remedy() -> None:
    data = _valid()
    data["signed"]["spec_version"] = "2"
    with pytest.raises(ManifestError) as info:
        parse_envelope(encode(data), source="m.json")
    assert str(info.value).startswith("m.json: unsupported spec_version '2'")
    assert info.value.remedy == "upgrade pthguard"


def test_empty_signatures_list_parses() -> None:
    data = _valid()
    data["signatures"] = []
    assert parse_envelope(encode(data)).signatures == ()


def test_envelope_keeps_the_signed_mapping_as_read() -> None:
    envelope = parse_envelope(VALID_BYTES)
    assert envelope.signed == _valid()["signed"]
    assert envelope.manifest.to_dict() == envelope.signed
