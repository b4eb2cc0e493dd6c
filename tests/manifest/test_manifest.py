"""Tests of pthguard.manifest.model and pthguard._internal.fields: model and strict parser."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from typing import Any

import pytest

from pthguard._internal.fields import Fields, Problems, duplicates
from pthguard.errors import ManifestError, PthguardError
from pthguard.manifest.canonical import canonical_bytes
from pthguard.manifest.model import (
    MANIFEST_TYPE,
    SPEC_VERSION,
    Manifest,
    format_time,
    parse_time,
)
from tests.factories import (
    SITE,
    fixture_public_key,
    make_distribution,
    make_file_hash,
    make_manifest,
    make_site_dir,
    make_startup_file,
    make_startup_module,
    manifest_dict,
    sha256_hex,
)

Step = str | int
DELETE = object()
DIGEST = sha256_hex(b"x")
MD5 = hashlib.md5(b"x").hexdigest()  # noqa: S324 (a wrong digest on purpose)
SHA1 = hashlib.sha1(b"x").hexdigest()  # noqa: S324


def edit(data: dict[str, Any], path: tuple[Step, ...], value: object) -> dict[str, Any]:
    """A copy of ``data`` with the value at ``path`` replaced (or removed with DELETE)."""
    data = copy.deepcopy(data)
    parent: Any = data
    for step in path[:-1]:
        parent = parent[step]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


def problems_of(data: object) -> list[str]:
    with pytest.raises(ManifestError) as info:
        Manifest.from_dict(data)
    assert info.value.problems, str(info.value)
    return info.value.problems


def rich_dict() -> dict[str, Any]:
    """A manifest with one of everything, so every path below exists."""
    return manifest_dict(
        keys=[fixture_public_key(1), fixture_public_key(2)],
        threshold=1,
        site_dirs=[
            make_site_dir(
                startup_files=[make_startup_file(), make_startup_file("b.start", content=b"")],
                unclaimed=["x.py"],
            ),
            make_site_dir("/home/u/.local/lib/python3.12/site-packages", role="user"),
        ],
        startup_modules=[make_startup_module(path=f"{SITE}/sitecustomize.py")],
        distributions=[
            make_distribution(),
            make_distribution(
                "old", "1", kind="egg-info", files=[make_file_hash("old/__init__.py")]
            ),
        ],
    )


# -- round trips -------------------------------------------------------------------------------


def test_default_manifest_round_trips() -> None:
    manifest = make_manifest()
    assert Manifest.from_dict(manifest.to_dict()) == manifest


def test_rich_manifest_round_trips() -> None:
    data = rich_dict()
    manifest = Manifest.from_dict(data)
    assert manifest.to_dict() == data
    assert Manifest.from_dict(manifest.to_dict()) == manifest


def test_to_dict_is_canonical_json() -> None:
    canonical_bytes(rich_dict())


def test_to_dict_field_names() -> None:
    data = manifest_dict()
    assert data["_type"] == MANIFEST_TYPE == "pthguard-manifest"
    assert data["spec_version"] == SPEC_VERSION == "1"
    assert sorted(data) == [
        "_type",
        "created",
        "distributions",
        "environment",
        "expires",
        "policy",
        "site_dirs",
        "spec_version",
        "startup_modules",
        "version",
    ]


def test_trusted_key_writes_its_type() -> None:
    data = manifest_dict(keys=[fixture_public_key(1)])
    assert data["policy"]["keys"][0]["keytype"] == "ed25519"
    assert data["policy"]["keys"][0]["name"] == "test-release-1"


def test_trusted_key_name_is_optional() -> None:
    data = edit(manifest_dict(keys=[fixture_public_key(1)]), ("policy", "keys", 0, "name"), DELETE)
    assert Manifest.from_dict(data).policy.keys[0].name == ""


def test_manifest_properties() -> None:
    manifest = make_manifest(expires="2030-01-02T03:04:05Z")
    assert manifest.expires_at == dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    dist = manifest.distributions[0]
    assert dist.key == (SITE, "setuptools-80.9.0.dist-info")


def test_from_dict_uses_the_given_path() -> None:
    data = edit(manifest_dict(), ("version",), "1")
    with pytest.raises(ManifestError) as info:
        Manifest.from_dict(data, path="$.signed")
    assert info.value.problems == ["$.signed.version: expected an integer, found a string"]


# -- every error names its field path ----------------------------------------------------------


ERROR_CASES: list[tuple[tuple[Step, ...], object, str]] = [
    # unknown fields
    (("extra",), 1, "signed.extra: unknown field"),
    (("policy", "extra"), 1, "signed.policy.extra: unknown field"),
    (("environment", "extra"), None, "signed.environment.extra: unknown field"),
    (("site_dirs", 0, "extra"), [], "signed.site_dirs[0].extra: unknown field"),
    (
        ("site_dirs", 0, "startup_files", 1, "extra"),
        "",
        "signed.site_dirs[0].startup_files[1].extra: unknown field",
    ),
    (("startup_modules", 0, "extra"), 0, "signed.startup_modules[0].extra: unknown field"),
    (("distributions", 1, "extra"), 0, "signed.distributions[1].extra: unknown field"),
    (
        ("distributions", 1, "files", 0, "extra"),
        0,
        "signed.distributions[1].files[0].extra: unknown field",
    ),
    (("policy", "keys", 1, "extra"), 0, "signed.policy.keys[1].extra: unknown field"),
    # wrong types
    (("version",), "1", "signed.version: expected an integer, found a string"),
    (("version",), True, "signed.version: expected an integer, found a boolean"),
    (("version",), None, "signed.version: expected an integer, found null"),
    (
        ("policy", "threshold"),
        True,
        "signed.policy.threshold: expected an integer, found a boolean",
    ),
    (
        ("site_dirs", 0, "startup_files", 0, "size"),
        False,
        "signed.site_dirs[0].startup_files[0].size: expected an integer, found a boolean",
    ),
    (
        ("site_dirs", 0, "startup_files", 0, "code_lines"),
        "import os",
        "signed.site_dirs[0].startup_files[0].code_lines: expected a list, found a string",
    ),
    (
        ("site_dirs", 0, "startup_files", 0, "code_lines"),
        ["import os", 3],
        "signed.site_dirs[0].startup_files[0].code_lines[1]: expected a string, found an integer",
    ),
    (("site_dirs", 0, "unclaimed"), "x.py", "signed.site_dirs[0].unclaimed: expected a list"),
    (("site_dirs",), SITE, "signed.site_dirs: expected a list, found a string"),
    (("distributions",), {}, "signed.distributions: expected a list, found an object"),
    (("startup_modules",), None, "signed.startup_modules: expected a list, found null"),
    (("policy", "keys"), "abc", "signed.policy.keys: expected a list, found a string"),
    (("distributions", 0), "setuptools", "signed.distributions[0]: expected an object"),
    (("environment",), [], "signed.environment: expected an object, found a list"),
    (("policy",), None, "signed.policy: expected an object, found null"),
    (
        ("environment", "prefix"),
        1,
        "signed.environment.prefix: expected a string, found an integer",
    ),
    (
        ("distributions", 0, "editable"),
        1,
        "signed.distributions[0].editable: expected true or false, found an integer",
    ),
    (
        ("policy", "allow_env_override"),
        "false",
        "signed.policy.allow_env_override: expected true or false, found a string",
    ),
    (
        ("distributions", 0, "installer"),
        ["pip"],
        "signed.distributions[0].installer: expected a string or null, found a list",
    ),
    (
        ("site_dirs", 0, "startup_files", 0, "owner"),
        5,
        "signed.site_dirs[0].startup_files[0].owner: expected a string or null",
    ),
    (("created",), 20260101, "signed.created: expected a string, found an integer"),
    # missing fields
    (("version",), DELETE, "signed.version: missing"),
    (("expires",), DELETE, "signed.expires: missing"),
    (("policy",), DELETE, "signed.policy: missing"),
    (("distributions",), DELETE, "signed.distributions: missing"),
    (("environment", "prefix"), DELETE, "signed.environment.prefix: missing"),
    (("policy", "threshold"), DELETE, "signed.policy.threshold: missing"),
    (("policy", "mode"), DELETE, "signed.policy.mode: missing"),
    (("policy", "allow_env_override"), DELETE, "signed.policy.allow_env_override: missing"),
    (("policy", "keys", 0, "keytype"), DELETE, "signed.policy.keys[0].keytype: missing"),
    (
        ("distributions", 0, "record_sha256"),
        DELETE,
        "signed.distributions[0].record_sha256: missing (use null for none)",
    ),
    (
        ("site_dirs", 0, "startup_files", 0, "owner"),
        DELETE,
        "signed.site_dirs[0].startup_files[0].owner: missing (use null for none)",
    ),
    (("startup_modules", 0, "path"), DELETE, "signed.startup_modules[0].path: missing"),
    (
        ("distributions", 1, "files", 0, "sha256"),
        DELETE,
        "signed.distributions[1].files[0].sha256: missing",
    ),
    # values out of range or not among the choices
    (("version",), 0, "signed.version: must be at least 1, found 0"),
    (
        ("site_dirs", 0, "startup_files", 0, "size"),
        -1,
        "signed.site_dirs[0].startup_files[0].size: must be at least 0, found -1",
    ),
    (("policy", "threshold"), 0, "signed.policy.threshold: must be at least 1, found 0"),
    (("policy", "threshold"), -2, "signed.policy.threshold: must be at least 1, found -2"),
    (("policy", "threshold"), 3, "signed.policy.threshold: 3 exceeds the 2 keys listed"),
    (
        ("policy", "mode"),
        "audit",
        "signed.policy.mode: must be one of enforce, warn, found 'audit'",
    ),
    (("policy", "mode"), "Enforce", "signed.policy.mode: must be one of enforce, warn"),
    (
        ("policy", "unlisted_distributions"),
        "allow",
        "signed.policy.unlisted_distributions: must be",
    ),
    (("policy", "unclaimed_files"), "warn", "signed.policy.unclaimed_files: must be one of"),
    (("site_dirs", 0, "role"), "global", "signed.site_dirs[0].role: must be one of venv, user"),
    (("distributions", 0, "kind"), "wheel", "signed.distributions[0].kind: must be one of"),
    (("startup_modules", 0, "name"), "customize", "signed.startup_modules[0].name: must be one"),
    (
        ("policy", "keys", 0, "keytype"),
        "rsa",
        "signed.policy.keys[0].keytype: must be one of ed25519",
    ),
    # startup file names
    (
        ("site_dirs", 0, "startup_files", 0, "name"),
        "evil.py",
        "signed.site_dirs[0].startup_files[0].name: a startup file name ends with .pth or .start",
    ),
    (
        ("site_dirs", 0, "startup_files", 0, "name"),
        "",
        "signed.site_dirs[0].startup_files[0].name: a startup file name ends with .pth or .start",
    ),
    (
        ("site_dirs", 0, "startup_files", 0, "name"),
        "../x.pth",
        "signed.site_dirs[0].startup_files[0].name: must be a plain file name",
    ),
    (
        ("site_dirs", 0, "startup_files", 0, "name"),
        "x\0.pth",
        "signed.site_dirs[0].startup_files[0].name: must be a plain file name",
    ),
    # startup modules: path and digest together
    (
        ("startup_modules", 0, "sha256"),
        None,
        "signed.startup_modules[0]: path and sha256 are both null or both set",
    ),
    (
        ("startup_modules", 0, "path"),
        None,
        "signed.startup_modules[0]: path and sha256 are both null or both set",
    ),
    # distributions must live in a listed site dir
    (
        ("distributions", 1, "site_dir"),
        "/elsewhere",
        "signed.distributions[1].site_dir: is not one of site_dirs",
    ),
    # keys
    (
        ("policy", "keys", 0, "keyid"),
        sha256_hex(b"another key"),
        "signed.policy.keys[0].keyid: is not the sha256 of the public key",
    ),
    (
        ("policy", "keys", 0, "public"),
        "00" * 31,
        "signed.policy.keys[0].public: expected 64 lower-case hex digits (raw Ed25519 key)",
    ),
    (
        ("policy", "keys", 0, "public"),
        fixture_public_key(1).hex.upper(),
        "signed.policy.keys[0].public: expected 64 lower-case hex digits (raw Ed25519 key)",
    ),
    (
        ("policy", "keys", 0, "public"),
        "",
        "signed.policy.keys[0].public: expected 64 lower-case hex digits (raw Ed25519 key)",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), ERROR_CASES, ids=[case[2] for case in ERROR_CASES]
)
def test_error_names_its_field_path(path: tuple[Step, ...], value: object, expected: str) -> None:
    problems = problems_of(edit(rich_dict(), path, value))
    assert any(problem.startswith(expected) for problem in problems), problems


DIGEST_FIELDS: list[tuple[Step, ...]] = [
    ("site_dirs", 0, "startup_files", 0, "sha256"),
    ("startup_modules", 0, "sha256"),
    ("distributions", 0, "metadata_sha256"),
    ("distributions", 0, "record_sha256"),
    ("distributions", 1, "files", 0, "sha256"),
    ("policy", "keys", 0, "keyid"),
]


def render(path: tuple[Step, ...]) -> str:
    text = "signed"
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}"
    return text


@pytest.mark.parametrize("path", DIGEST_FIELDS, ids=render)
@pytest.mark.parametrize(
    "digest",
    [
        MD5,
        SHA1,
        DIGEST.upper(),
        DIGEST[:-1] + "A",
        DIGEST + "0",
        DIGEST[:-1],
        "g" * 64,
        "sha256:" + DIGEST,
        "sha256=" + DIGEST,
        "",
        " " + DIGEST[1:],
        DIGEST + "\n",
    ],
    ids=[
        "md5",
        "sha1",
        "upper",
        "one-upper",
        "long",
        "short",
        "not-hex",
        "colon-prefix",
        "record-prefix",
        "empty",
        "space",
        "newline",
    ],
)
def test_only_sha256_hex_digests_are_accepted(path: tuple[Step, ...], digest: str) -> None:
    problems = problems_of(edit(rich_dict(), path, digest))
    assert any(
        p.startswith(f"{render(path)}: expected a sha256 digest (64 lower-case hex digits)")
        for p in problems
    ), problems


@pytest.mark.parametrize("path", DIGEST_FIELDS, ids=render)
def test_digests_are_strings(path: tuple[Step, ...]) -> None:
    problems = problems_of(edit(rich_dict(), path, 12))
    assert any(p.startswith(f"{render(path)}: expected a string") for p in problems), problems


@pytest.mark.parametrize("name", ["created", "expires"])
@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01 00:00:00",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00.5Z",
        "2026-01-01T00:00:00z",
        "2026-1-01T00:00:00Z",
        "2026-01-01",
        "",
        " 2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z\n",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T23:60:00Z",
        "\uff12026-01-01T00:00:00Z",  # a full-width digit matches \d
    ],
)
def test_bad_time_format(name: str, text: str) -> None:
    problems = problems_of(edit(manifest_dict(), (name,), text))
    assert problems == [f"signed.{name}: expected UTC time as YYYY-MM-DDTHH:MM:SSZ"]


def test_leap_day_is_a_time() -> None:
    manifest = Manifest.from_dict(edit(manifest_dict(), ("expires",), "2028-02-29T00:00:00Z"))
    assert manifest.expires_at.day == 29


# -- duplicates --------------------------------------------------------------------------------


def test_duplicate_startup_file_names() -> None:
    data = manifest_dict(
        site_dirs=[
            make_site_dir(startup_files=[make_startup_file("a.pth"), make_startup_file("a.pth")])
        ]
    )
    assert problems_of(data) == ["signed.site_dirs[0].startup_files: duplicate entry 'a.pth'"]


def test_duplicate_unclaimed_files() -> None:
    data = manifest_dict(site_dirs=[make_site_dir(unclaimed=["x.py", "y.py", "x.py"])])
    assert problems_of(data) == ["signed.site_dirs[0].unclaimed: duplicate entry 'x.py'"]


def test_duplicate_site_dirs() -> None:
    data = manifest_dict(site_dirs=[make_site_dir(), make_site_dir(role="system")])
    assert problems_of(data) == [f"signed.site_dirs: duplicate site directory {SITE!r}"]


def test_duplicate_distributions() -> None:
    data = manifest_dict(distributions=[make_distribution(), make_distribution()])
    assert problems_of(data) == [
        f"signed.distributions: duplicate entry '{SITE}/setuptools-80.9.0.dist-info'"
    ]


def test_same_distribution_name_in_two_site_dirs_is_allowed() -> None:
    user = "/home/u/.local/lib/python3.12/site-packages"
    manifest = make_manifest(
        site_dirs=[make_site_dir(), make_site_dir(user, role="user")],
        distributions=[make_distribution(), make_distribution(site_dir=user)],
    )
    assert Manifest.from_dict(manifest.to_dict()) == manifest


def test_duplicate_startup_modules() -> None:
    data = manifest_dict(startup_modules=[make_startup_module(), make_startup_module()])
    assert problems_of(data) == ["signed.startup_modules: duplicate module 'sitecustomize'"]


def test_duplicate_egg_info_files() -> None:
    files = [make_file_hash("a.py"), make_file_hash("a.py", b"other")]
    data = manifest_dict(distributions=[make_distribution(kind="egg-info", files=files)])
    assert problems_of(data) == ["signed.distributions[0].files: duplicate entry 'a.py'"]


def test_duplicate_policy_keys() -> None:
    key = fixture_public_key(1)
    data = manifest_dict(keys=[key, key])
    assert problems_of(data) == [f"signed.policy.keys: duplicate key {key.keyid}"]


# -- the threshold -----------------------------------------------------------------------------


def test_threshold_equal_to_the_number_of_keys_is_fine() -> None:
    keys = [fixture_public_key(1), fixture_public_key(2)]
    assert Manifest.from_dict(manifest_dict(keys=keys, threshold=2)).policy.threshold == 2


def test_threshold_above_the_number_of_keys() -> None:
    data = manifest_dict(keys=[fixture_public_key(1)], threshold=2)
    assert problems_of(data) == ["signed.policy.threshold: 2 exceeds the 1 keys listed"]


def test_threshold_without_listed_keys_counts_trust_anchors() -> None:
    # With no keys in the policy the threshold applies to the anchors given at verify time.
    assert Manifest.from_dict(manifest_dict(threshold=3)).policy.threshold == 3


# -- document type and version -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["tuf-root", "Pthguard-Manifest", "", "pthguard-manifest "])
def test_wrong_type(value: str) -> None:
    with pytest.raises(ManifestError, match=r"not a pthguard manifest \(signed\._type is"):
        Manifest.from_dict(edit(manifest_dict(), ("_type",), value))


def test_type_is_required_and_a_string() -> None:
    assert problems_of(edit(manifest_dict(), ("_type",), DELETE)) == ["signed._type: missing"]
    assert problems_of(edit(manifest_dict(), ("_type",), 1)) == [
        "signed._type: expected a string, found an integer"
    ]


@pytest.mark.parametrize("value", ["2", "0", "1.0", "", "01"])
def test_unsupported_spec_version(value: str) -> None:
    with pytest.raises(ManifestError, match="unsupported spec_version") as info:
        Manifest.from_dict(edit(manifest_dict(), ("spec_version",), value))
    assert info.value.remedy == "upgrade pthguard"
    assert "upgrade pthguard" in info.value.diagnostics()


def test_spec_version_is_a_string() -> None:
    assert problems_of(edit(manifest_dict(), ("spec_version",), 1)) == [
        "signed.spec_version: expected a string, found an integer"
    ]


@pytest.mark.parametrize("value", [[], "manifest", 1, None, True])
def test_signed_must_be_an_object(value: object) -> None:
    problems = problems_of(value)
    assert len(problems) == 1
    assert problems[0].startswith("signed: expected an object, found")


# -- collecting every problem ------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    data = rich_dict()
    data = edit(data, ("version",), "x")
    data = edit(data, ("policy", "mode"), "audit")
    data = edit(data, ("site_dirs", 0, "startup_files", 0, "sha256"), MD5)
    data = edit(data, ("distributions", 1, "editable"), None)
    data = edit(data, ("environment", "junk"), 1)
    data = edit(data, ("distributions", 0, "site_dir"), "/nowhere")
    with pytest.raises(ManifestError) as info:
        Manifest.from_dict(data)
    problems = info.value.problems
    assert len(problems) == 6, problems
    message = str(info.value)
    assert message.startswith("malformed manifest: ")
    assert "(and 1 more)" in message
    assert isinstance(info.value, PthguardError)


def test_problems_are_reported_in_document_order() -> None:
    data = edit(manifest_dict(), ("created",), "soon")
    data = edit(data, ("expires",), "later")
    assert problems_of(data) == [
        "signed.created: expected UTC time as YYYY-MM-DDTHH:MM:SSZ",
        "signed.expires: expected UTC time as YYYY-MM-DDTHH:MM:SSZ",
    ]


def test_unknown_fields_are_sorted() -> None:
    data = edit(manifest_dict(), ("zz",), 1)
    data = edit(data, ("aa",), 2)
    assert problems_of(data) == ["signed.aa: unknown field", "signed.zz: unknown field"]


# -- times -------------------------------------------------------------------------------------


def test_format_time_converts_to_utc_whole_seconds() -> None:
    moment = dt.datetime(2026, 3, 24, 14, 0, 5, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert format_time(moment) == "2026-03-24T12:00:05Z"


def test_parse_time_round_trip() -> None:
    moment = parse_time("2026-03-24T12:00:05Z")
    assert moment == dt.datetime(2026, 3, 24, 12, 0, 5, tzinfo=dt.timezone.utc)
    assert format_time(moment) == "2026-03-24T12:00:05Z"


@pytest.mark.parametrize("text", ["2026-03-24T12:00:05", "2026-03-24T12:00:05+00:00", ""])
def test_parse_time_rejects_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="expected UTC time"):
        parse_time(text)


# -- _fields helpers ---------------------------------------------------------------------------


def test_duplicates_reports_each_once_in_order() -> None:
    assert duplicates(["b", "a", "b", "c", "a", "b"]) == ["b", "a"]
    assert duplicates(()) == []


def test_fields_on_a_non_mapping_reports_only_the_object() -> None:
    problems = Problems()
    fields = Fields(["x"], "p", problems)
    assert fields.get_str("a") == ""
    assert fields.get_int("b", minimum=1) == 1
    assert fields.get_list("c", lambda v, p: v) == ()
    assert fields.finish() is False
    assert problems.items == ["p: expected an object, found a list"]


def test_get_str_default_only_when_missing() -> None:
    problems = Problems()
    fields = Fields({"a": 1}, "p", problems)
    assert fields.get_str("missing", "dflt") == "dflt"
    assert fields.get_str("a", "dflt") == "dflt"
    assert problems.items == ["p.a: expected a string, found an integer"]


def test_get_bool_default() -> None:
    problems = Problems()
    fields = Fields({"b": "yes"}, "p", problems)
    assert fields.get_bool("missing", default=True) is True
    assert fields.get_bool("b", default=True) is False
    assert problems.items == ["p.b: expected true or false, found a string"]


def test_get_obj_passes_the_path() -> None:
    problems = Problems()
    fields = Fields({"o": {"x": 1}}, "p", problems)
    seen: list[str] = []
    fields.get_obj("o", lambda v, p: seen.append(p))
    assert fields.get_obj("nothing", lambda v, p: v) is None
    assert seen == ["p.o"]
    assert problems.items == ["p.nothing: missing"]
