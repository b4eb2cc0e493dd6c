"""Property tests of pthguard.manifest.model and pthguard.manifest.envelope."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pthguard.errors import ManifestError, PthguardError, SignatureError
from pthguard.manifest.canonical import MAX_SAFE_INTEGER
from pthguard.manifest.envelope import Envelope, parse_envelope, sign, verify
from pthguard.manifest.model import (
    Distribution,
    EnvironmentInfo,
    FileHash,
    Manifest,
    Policy,
    SiteDir,
    StartupFile,
    StartupModule,
    format_time,
)
from tests.factories import (
    GOLDEN_MANIFEST,
    fixture_public_key,
    key_from_seed,
    make_trusted_key,
)

UTC = dt.timezone.utc
KEY_POOL = [key_from_seed(seed, f"k{seed}") for seed in range(1, 5)]
GOLDEN = GOLDEN_MANIFEST.read_bytes()
GOLDEN_ENVELOPE = parse_envelope(GOLDEN)
GOLDEN_NOW = dt.datetime(2026, 3, 24, tzinfo=UTC)

TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
NAME = st.text(st.characters(codec="utf-8", exclude_characters="/\0"), max_size=10)
DIGEST = st.binary(min_size=32, max_size=32).map(bytes.hex)
SIZE = st.integers(min_value=0, max_value=MAX_SAFE_INTEGER)
TIMES = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(9998, 12, 31), timezones=st.just(UTC)
).map(format_time)

STARTUP_FILES = st.builds(
    StartupFile,
    name=st.tuples(NAME, st.sampled_from([".pth", ".start"])).map("".join),
    sha256=DIGEST,
    size=SIZE,
    code_lines=st.lists(TEXT, max_size=3).map(tuple),
    owner=st.none() | TEXT,
)
SITE_DIRS = st.builds(
    SiteDir,
    path=TEXT,
    role=st.sampled_from(["venv", "user", "system"]),
    startup_files=st.lists(STARTUP_FILES, max_size=3, unique_by=lambda s: s.name).map(tuple),
    unclaimed=st.lists(TEXT, max_size=3, unique=True).map(tuple),
)
ENVIRONMENTS = st.builds(
    EnvironmentInfo,
    implementation=TEXT,
    python_version=TEXT,
    cache_tag=TEXT,
    platform=TEXT,
    prefix=TEXT,
    executable=TEXT,
)


@st.composite
def startup_modules(draw: st.DrawFn) -> tuple[StartupModule, ...]:
    names = draw(st.lists(st.sampled_from(["sitecustomize", "usercustomize"]), unique=True))
    modules = []
    for name in names:
        present = draw(st.booleans())
        modules.append(
            StartupModule(
                name=name,  # type: ignore[arg-type]
                path=draw(TEXT) if present else None,
                sha256=draw(DIGEST) if present else None,
            )
        )
    return tuple(modules)


@st.composite
def distributions(draw: st.DrawFn, site_paths: list[str]) -> Distribution:
    kind = draw(st.sampled_from(["dist-info", "egg-info"]))
    return Distribution(
        name=draw(TEXT),
        version=draw(TEXT),
        site_dir=draw(st.sampled_from(site_paths)),
        metadata_dir=draw(TEXT),
        kind=kind,  # type: ignore[arg-type]
        installer=draw(st.none() | TEXT),
        metadata_sha256=draw(DIGEST),
        record_sha256=draw(st.none() | DIGEST),
        editable=draw(st.booleans()),
        files=tuple(
            draw(
                st.lists(
                    st.builds(FileHash, path=TEXT, sha256=DIGEST),
                    max_size=3,
                    unique_by=lambda h: h.path,
                )
            )
        ),
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    listed = draw(st.lists(st.sampled_from(KEY_POOL), unique_by=lambda k: k.public.keyid))
    threshold = draw(st.integers(min_value=1, max_value=len(listed) if listed else 4))
    return Policy(
        mode=draw(st.sampled_from(["enforce", "warn"])),
        unlisted_distributions=draw(st.sampled_from(["refuse", "report"])),
        unclaimed_files=draw(st.sampled_from(["ignore", "report", "refuse"])),
        keys=tuple(make_trusted_key(k.public) for k in listed),
        threshold=threshold,
        allow_env_override=draw(st.booleans()),
    )


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    site_dirs = draw(st.lists(SITE_DIRS, min_size=1, max_size=3, unique_by=lambda s: s.path))
    paths = [s.path for s in site_dirs]
    dists = draw(
        st.lists(distributions(paths), max_size=4, unique_by=lambda d: (d.site_dir, d.metadata_dir))
    )
    return Manifest(
        version=draw(st.integers(min_value=1, max_value=MAX_SAFE_INTEGER)),
        created=draw(TIMES),
        expires=draw(TIMES),
        environment=draw(ENVIRONMENTS),
        policy=draw(policies()),
        site_dirs=tuple(site_dirs),
        startup_modules=draw(startup_modules()),
        distributions=tuple(dists),
    )


@given(manifests())
def test_to_dict_from_dict_round_trip(manifest: Manifest) -> None:
    assert Manifest.from_dict(manifest.to_dict()) == manifest


@settings(deadline=None)
@given(manifests())
def test_sign_parse_verify_round_trip(manifest: Manifest) -> None:
    policy = manifest.policy
    listed = {k.keyid for k in policy.keys}
    signers = [k for k in KEY_POOL if not listed or k.public.keyid in listed][: policy.threshold]
    envelope = Envelope.from_manifest(manifest)
    for key in signers:
        envelope = sign(envelope, key)
    data = envelope.to_bytes()
    parsed = parse_envelope(data)
    assert parsed.manifest == manifest
    assert parsed.to_bytes() == data
    just_before = manifest.expires_at - dt.timedelta(seconds=1)
    result = verify(parsed, [k.public for k in KEY_POOL], now=just_before)
    assert len(result.signed_by) == policy.threshold


# -- the golden file, mutated ------------------------------------------------------------------

WHITESPACE = b" \t\r\n"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(GOLDEN) - 1), st.integers(min_value=0, max_value=255))
def test_single_byte_mutation_never_verifies_a_different_manifest(position: int, byte: int) -> None:
    assume(GOLDEN[position] != byte)
    mutated = GOLDEN[:position] + bytes([byte]) + GOLDEN[position + 1 :]
    try:
        envelope = parse_envelope(mutated)
        verify(envelope, [fixture_public_key(1)], now=GOLDEN_NOW)
    except (ManifestError, SignatureError):
        return
    # Signatures cover the canonical form of `signed`, not the file: swapping one insignificant
    # whitespace byte for another is the only single-byte change that still verifies.
    assert GOLDEN[position] in WHITESPACE
    assert byte in WHITESPACE
    assert envelope.signed == GOLDEN_ENVELOPE.signed
    assert envelope.signatures == GOLDEN_ENVELOPE.signatures


# -- random input never raises anything but ManifestError ---------------------------------------

FIELD_NAMES = st.sampled_from(
    [
        "signed",
        "signatures",
        "keyid",
        "sig",
        "_type",
        "spec_version",
        "version",
        "policy",
        "keys",
        "threshold",
        "public",
        "keytype",
        "site_dirs",
        "startup_files",
        "name",
        "sha256",
        "expires",
        "distributions",
        "site_dir",
        "environment",
    ]
)
ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=8)
    | DIGEST
    | TIMES
    | st.sampled_from(["pthguard-manifest", "\ud800", "a\udfff"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(FIELD_NAMES | st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=15,
)


def locations(value: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for name, item in value.items():
            found.extend(locations(item, (*path, name)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(locations(item, (*path, index)))
    return found


GOLDEN_DOCUMENT = json.loads(GOLDEN)
GOLDEN_LOCATIONS = locations(GOLDEN_DOCUMENT)


def replaced(path: tuple[Any, ...], value: object, delete: bool) -> object:
    if not path:
        return value
    document = copy.deepcopy(GOLDEN_DOCUMENT)
    parent: Any = document
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


def must_only_raise_manifest_error(data: bytes) -> None:
    try:
        envelope = parse_envelope(data)
    except ManifestError:
        return
    try:
        verify(envelope, [fixture_public_key(1)], now=GOLDEN_NOW)
    except PthguardError:
        return


@given(ANY_JSON)
def test_random_json_raises_only_manifest_error(value: object) -> None:
    must_only_raise_manifest_error(json.dumps(value).encode())


@given(st.sampled_from(GOLDEN_LOCATIONS), ANY_JSON, st.booleans())
def test_golden_with_a_random_part_raises_only_manifest_error(
    path: tuple[Any, ...], value: object, delete: bool
) -> None:
    must_only_raise_manifest_error(
        json.dumps(replaced(path, value, delete and bool(path))).encode()
    )


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_manifest_error(data: bytes) -> None:
    must_only_raise_manifest_error(data)
