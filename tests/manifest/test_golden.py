"""The golden signed manifest (fixtures/golden/manifest-v1.json), signed by test key 1.

It pins the version 1 file format: the bytes pthguard writes, the canonical bytes it signs
and the Ed25519 signature over them. A change that alters any of these fails here.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from pthguard.errors import SignatureError
from pthguard.manifest.canonical import canonical_bytes
from pthguard.manifest.envelope import Envelope, check_signatures, parse_envelope, sign, verify
from tests.factories import GOLDEN_MANIFEST, fixture_private_key, fixture_public_key
from tests.fixtures.generate import golden_bytes

NOW = dt.datetime(2026, 3, 24, 12, 0, 0, tzinfo=dt.timezone.utc)
# sha256 of canonical_bytes(signed): changes only if canonicalisation changes.
GOLDEN_CANONICAL_SHA256 = "f360a216cb691a19f22abec370ea807d8e4600a5c7cf2c0681447187afe24d6c"


@pytest.fixture(scope="module")
def golden() -> bytes:
    return GOLDEN_MANIFEST.read_bytes()


def test_verifies_with_key_1(golden: bytes) -> None:
    envelope = parse_envelope(golden, "golden")
    result = verify(envelope, [fixture_public_key(1)], now=NOW)
    assert result.signed_by == (fixture_public_key(1),)


def test_fails_with_key_2(golden: bytes) -> None:
    envelope = parse_envelope(golden, "golden")
    with pytest.raises(SignatureError, match="0 of 1 required") as info:
        verify(envelope, [fixture_public_key(2)], now=NOW)
    assert "signed by untrusted key b9634e57cd7b4aaf" in str(info.value)
    assert "not among the keys the signed policy allows" in str(info.value)


def test_key_2_does_not_count_even_beside_key_1(golden: bytes) -> None:
    envelope = sign(parse_envelope(golden), fixture_private_key(2))
    result = check_signatures(envelope, [fixture_public_key(2)])
    assert not result.ok  # the signed policy lists key 1 only


def test_to_bytes_reproduces_the_file(golden: bytes) -> None:
    assert parse_envelope(golden).to_bytes() == golden


def test_model_round_trip_reproduces_the_file(golden: bytes) -> None:
    envelope = parse_envelope(golden)
    rebuilt = Envelope(
        signed=envelope.manifest.to_dict(),
        manifest=envelope.manifest,
        signatures=envelope.signatures,
    )
    assert rebuilt.to_bytes() == golden


def test_signing_again_reproduces_the_file(golden: bytes) -> None:
    envelope = parse_envelope(golden)
    unsigned = Envelope(signed=envelope.signed, manifest=envelope.manifest)
    assert sign(unsigned, fixture_private_key(1)).to_bytes() == golden


def test_generator_reproduces_the_file(golden: bytes) -> None:
    assert golden_bytes() == golden


def test_signature_is_over_the_canonical_bytes(golden: bytes) -> None:
    envelope = parse_envelope(golden)
    (signature,) = envelope.signatures
    message = canonical_bytes(envelope.signed)
    assert message.startswith(b'{"_type":"pthguard-manifest","created":"2026-03-24T12:00:00Z",')
    assert "zo\u00eb".encode() in message  # non-ASCII written as UTF-8, not escaped
    fixture_public_key(1).verifier().verify(bytes.fromhex(signature.sig), message)


def test_file_shape(golden: bytes) -> None:
    text = golden.decode("utf-8")
    assert text.startswith('{\n  "signatures": [\n    {\n      "keyid": "b9634e57')
    assert text.endswith("\n}\n")
    assert "\r" not in text
    assert "\\u00eb" not in text


def test_golden_manifest_content(golden: bytes) -> None:
    manifest = parse_envelope(golden).manifest
    assert manifest.version == 7
    assert manifest.expires == "2099-12-31T23:59:59Z"
    assert [k.keyid for k in manifest.policy.keys] == [fixture_public_key(1).keyid]
    assert [len(s.startup_files) for s in manifest.site_dirs] == [4, 0]
    assert len(manifest.distributions) == 5


def test_golden_canonical_digest_is_pinned(golden: bytes) -> None:
    # If this changes while the file did not, canonicalisation changed: every signature breaks.
    digest = hashlib.sha256(canonical_bytes(parse_envelope(golden).signed)).hexdigest()
    assert digest == GOLDEN_CANONICAL_SHA256
