"""Fuzzing of every parser that reads untrusted bytes, with hypothesis.

What the other property files already cover is not repeated here: canonical JSON
(``test_canonical_props``), single-byte mutations of the golden manifest and random JSON
through ``parse_envelope`` (``test_manifest_props``), RECORD rows (``test_record_props``),
``.pth``/``.start`` reading (``test_pth_props``), and ``analyze`` on random bytes
(``tests/analysis/test_analyze.py``). Added here:

* signed manifests mutated at many bytes and structurally (any value of ``signed`` replaced,
  deleted, added, re-typed, re-normalised): a mutation verifies only if ``signed`` is
  canonically identical (whitespace, member order and escapes may change, nothing else);
* signature envelopes: ``ssh-keygen``-style SSHSIG armour mutated and assembled from random
  wire fields, detached signature files, payloads, allowed_signers and public key lines:
  only :class:`~pthguard.errors.PthguardError` escapes, and a mutated SSHSIG verifies only
  if it carries the original signature;
* the startup gate's own line counting and 3.15 import-line reading agree with the
  :mod:`pthguard.formats.pth` model of each CPython version (the gate must report honestly what
  ran before it);
* ``analyze`` on adversarial ``.pth`` shapes (BOM, ``\\x0c``, CR, latin-1, leading blanks)
  under several locale encodings, with invariants beyond "does not raise".

Each test has a CI budget (the whole file runs in well under a minute with ``-n 2``);
``HYPOTHESIS_PROFILE=fuzz`` multiplies it by 100 (``tests/property/conftest.py``).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import os
import struct
import types
import unicodedata
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pthguard.analysis.analyze import SUPPORTED_VERSIONS, analyze
from pthguard.errors import PthguardError
from pthguard.formats import allowed_signers as _allowed_signers
from pthguard.formats import openssh as _openssh
from pthguard.formats import pth as _pth
from pthguard.formats import sshsig as _sshsig
from pthguard.gate import cold as _gate
from pthguard.manifest.canonical import canonical_bytes, loads
from pthguard.manifest.detached import payload_of, read_payload, read_signature_file
from pthguard.manifest.envelope import parse_envelope, parse_signature, signature_valid, verify
from tests.factories import GOLDEN_MANIFEST, fixture_private_key, fixture_public_key

UTC = dt.timezone.utc
GOLDEN = GOLDEN_MANIFEST.read_bytes()
GOLDEN_ENVELOPE = parse_envelope(GOLDEN)
GOLDEN_SIGNED = canonical_bytes(GOLDEN_ENVELOPE.signed)
GOLDEN_DOCUMENT = json.loads(GOLDEN)
GOLDEN_NOW = dt.datetime(2026, 3, 24, tzinfo=UTC)
KEY = fixture_private_key(1)
TRUSTED = [fixture_public_key(1)]
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"


def budget(examples: int) -> settings:
    """``examples`` in CI, 100 times that with ``HYPOTHESIS_PROFILE=fuzz``."""
    return settings(
        max_examples=examples * (100 if LONG else 1),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def verifies(data: bytes) -> bool:
    """Does ``data`` parse as a manifest that key 1 verifies? Only PthguardError may escape."""
    try:
        envelope = parse_envelope(data)
        verify(envelope, TRUSTED, now=GOLDEN_NOW)
    except PthguardError:
        return False
    return True


def signed_of(data: bytes) -> bytes:
    return canonical_bytes(parse_envelope(data).signed)


# -- byte-level mutations of the signed golden manifest ------------------------------------------

TOKENS = st.sampled_from(
    [
        b" ",
        b"\n",
        b"\t",
        b"\r\n",
        b'"',
        b",",
        b":",
        b"{",
        b"}",
        b"[",
        b"]",
        b"0",
        b"1",
        b"-",
        b"true",
        b"null",
        b'"x"',
        b'"x": 1,',
        b"\\u0000",
        b"\\",
        b"\xc3\xab",
        b"\xff",
        b"e1",
        b".0",
    ]
)
OPS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace", "duplicate", "swap"]),
        st.integers(min_value=0, max_value=len(GOLDEN)),
        st.integers(min_value=1, max_value=24),
        st.one_of(TOKENS, st.binary(min_size=1, max_size=6)),
    ),
    min_size=1,
    max_size=5,
)


def mutate(data: bytes, ops: list[tuple[str, int, int, bytes]]) -> bytes:
    for op, where, span, piece in ops:
        at = min(where, len(data))
        if op == "insert":
            data = data[:at] + piece + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + span :]
        elif op == "replace":
            data = data[:at] + piece + data[at + len(piece) :]
        elif op == "duplicate":
            data = data[:at] + data[at : at + span] + data[at:]
        else:  # swap two adjacent spans
            a, b = data[at : at + span], data[at + span : at + 2 * span]
            data = data[:at] + b + a + data[at + 2 * span :]
    return data


@budget(400)
@given(OPS)
def test_byte_mutations_verify_only_with_identical_signed(
    ops: list[tuple[str, int, int, bytes]],
) -> None:
    mutated = mutate(GOLDEN, ops)
    if verifies(mutated):
        assert signed_of(mutated) == GOLDEN_SIGNED


# -- structural mutations ----------------------------------------------------------------------


def locations(value: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for name, item in value.items():
            found.extend(locations(item, (*path, name)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(locations(item, (*path, index)))
    return found


SIGNED_LOCATIONS = [p for p in locations(GOLDEN_DOCUMENT) if p[:1] == ("signed",)]


def near_misses(value: object) -> list[object]:
    """Values a forger would try instead of ``value``: equal-looking, re-typed, re-normalised."""
    out: list[object] = [None, [], {}, "", 0]
    if isinstance(value, bool):
        out += [not value, int(value), str(value).lower()]
    elif isinstance(value, int):
        out += [value + 1, value - 1, -value, str(value), float(value), bool(value)]
    elif isinstance(value, str):
        out += [
            value + " ",
            " " + value,
            value.upper(),
            value[:-1],
            value + "\x00",
            unicodedata.normalize("NFD", value),
            unicodedata.normalize("NFKC", value.replace("1", "\uff11")),
            value.replace("/", "\\"),
        ]
    elif isinstance(value, list):
        out += [value[:-1], value + value[-1:], list(reversed(value)), [*value, None]]
    elif isinstance(value, dict):
        some = next(iter(value), "x")
        out += [
            {k: v for k, v in value.items() if k != some},
            {**value, "extra": 1},
            {**value, some.upper(): value.get(some)},
        ]
    return out


@st.composite
def structural_mutations(draw: st.DrawFn) -> bytes:
    document = copy.deepcopy(GOLDEN_DOCUMENT)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(SIGNED_LOCATIONS))
        parent: Any = document
        try:  # an earlier mutation may have removed or re-typed part of the path
            for step in path[:-1]:
                parent = parent[step]
            key = path[-1]
            current = parent[key]
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["replace", "delete", "wrap"]))
        if action == "delete" and isinstance(parent, (dict, list)) and len(path) > 1:
            del parent[key]
        elif action == "wrap":
            parent[key] = [current]
        else:
            parent[key] = draw(st.sampled_from(near_misses(current)))
    form = draw(st.sampled_from(["pretty", "compact", "ascii", "sorted"]))
    if form == "pretty":
        text = json.dumps(document, indent=2, ensure_ascii=False)
    elif form == "compact":
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    elif form == "ascii":
        text = json.dumps(document)
    else:
        text = json.dumps(document, sort_keys=True, indent="\t")
    return text.encode("utf-8", "surrogatepass")


@budget(400)
@given(structural_mutations())
def test_structural_mutations_verify_only_with_identical_signed(data: bytes) -> None:
    if verifies(data):
        assert signed_of(data) == GOLDEN_SIGNED


@budget(25)
@given(
    st.booleans(),
    st.sampled_from([None, 0, 1, 4, "\t"]),
    st.booleans(),
    st.sampled_from([b"", b"\n", b"\n\n", b"  "]),
)
def test_whitespace_order_and_escapes_keep_verifying(
    ascii_only: bool, indent: int | str | None, sort_keys: bool, tail: bytes
) -> None:
    """The one kind of change that verifies: how ``signed`` is written, not what it says."""
    text = json.dumps(GOLDEN_DOCUMENT, ensure_ascii=ascii_only, indent=indent, sort_keys=sort_keys)
    data = text.encode() + tail
    assert verifies(data)
    assert signed_of(data) == GOLDEN_SIGNED


# -- SSHSIG signatures -------------------------------------------------------------------------

PAYLOAD = payload_of(GOLDEN_ENVELOPE)
ARMORED = _sshsig.sign_sshsig(KEY.key, PAYLOAD).encode()
ORIGINAL = _sshsig.parse_sshsig(ARMORED)
SIG_OPS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace", "duplicate", "swap"]),
        st.integers(min_value=0, max_value=len(ARMORED)),
        st.integers(min_value=1, max_value=8),
        st.one_of(
            st.sampled_from([b"A", b"/", b"+", b"=", b"\n", b" ", b"-", b"\r\n", b"a"]),
            st.binary(min_size=1, max_size=3),
        ),
    ),
    min_size=1,
    max_size=3,
)


@budget(300)
@given(SIG_OPS)
def test_mutated_sshsig_only_errors_and_never_forges(
    ops: list[tuple[str, int, int, bytes]],
) -> None:
    data = mutate(ARMORED, ops)
    try:
        signature = read_signature_file(data, "sig")
    except PthguardError:
        return
    valid = signature_valid(signature, KEY.public, PAYLOAD)
    if valid:
        parsed = _sshsig.parse_sshsig(signature.sshsig or "")
        assert parsed.signature == ORIGINAL.signature
        assert parsed.public_key.raw == ORIGINAL.public_key.raw
        assert parsed.namespace == ORIGINAL.namespace
        assert parsed.hash_algorithm == ORIGINAL.hash_algorithm


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


KEY_BLOB = _string(b"ssh-ed25519") + _string(ORIGINAL.public_key.raw)
FIELDS = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            b"ssh-ed25519",
            b"sk-ssh-ed25519@openssh.com",
            b"pthguard",
            b"git",
            b"sha256",
            b"sha512",
            b"md5",
            KEY_BLOB,
            KEY_BLOB[:-1],
            _string(b"ssh-ed25519") + _string(b"\x00" * 64),
            _string(b"ssh-ed25519") + _string(ORIGINAL.signature),
            _string(b"ssh-ed25519") + _string(ORIGINAL.signature) + b"\x00",
            b"\xff\xff\xff\xff",
        ]
    ),
)


@st.composite
def sshsig_blobs(draw: st.DrawFn) -> bytes:
    magic = draw(st.sampled_from([b"SSHSIG", b"SSHSIh", b""]))
    version = draw(st.sampled_from([1, 0, 2, 2**32 - 1]))
    parts = [draw(FIELDS) for _ in range(5)]
    framed = b"".join(_string(p) if draw(st.booleans()) or len(p) < 4 else p for p in parts)
    tail = draw(st.sampled_from([b"", b"\x00", b"junk"]))
    return magic + struct.pack(">I", version) + framed + tail


@budget(300)
@given(sshsig_blobs(), st.sampled_from([70, 64, 1000]))
def test_assembled_sshsig_blobs_only_raise_pthguard_errors(blob: bytes, width: int) -> None:
    encoded = base64.b64encode(blob).decode()
    lines = [encoded[i : i + width] for i in range(0, len(encoded), width)]
    text = "\n".join([_sshsig.BEGIN, *lines, _sshsig.END]) + "\n"
    try:
        signature = read_signature_file(text.encode(), "sig")
    except PthguardError:
        return
    if signature_valid(signature, KEY.public, PAYLOAD):
        assert bytes.fromhex(signature.sig) == ORIGINAL.signature


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.sampled_from(["ed25519", "sshsig", KEY.public.keyid, "a" * 128, ARMORED.decode()]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["keyid", "sig", "format", "sshsig", "x"]), inner)
    ),
    max_leaves=8,
)


@budget(300)
@given(st.one_of(JSON_VALUES.map(lambda v: json.dumps(v).encode()), st.binary(max_size=120)))
def test_detached_signature_files_only_raise_pthguard_errors(data: bytes) -> None:
    try:
        signature = read_signature_file(data, "sig")
    except PthguardError:
        return
    assert not signature_valid(signature, KEY.public, PAYLOAD) or (
        bytes.fromhex(signature.sig) == ORIGINAL.signature or signature.format == "ed25519"
    )


@budget(200)
@given(JSON_VALUES)
def test_signature_entries_only_raise_pthguard_errors(value: object) -> None:
    try:
        parse_signature(value, "entry")
    except PthguardError:
        return


@budget(200)
@given(st.one_of(OPS.map(lambda ops: mutate(PAYLOAD, ops)), st.binary(max_size=100)))
def test_payloads_only_raise_pthguard_errors(data: bytes) -> None:
    try:
        manifest = read_payload(data, "payload")
    except PthguardError:
        return
    assert canonical_bytes(loads(data)) == data  # only canonical bytes are a payload
    assert (manifest == GOLDEN_ENVELOPE.manifest) == (data == PAYLOAD)


KEY_LINE = f"ssh-ed25519 {base64.b64encode(KEY_BLOB).decode()}"
SIGNER_PIECES = st.sampled_from(
    [
        "user@example",
        "*",
        " ",
        ",",
        '"',
        "namespaces=",
        '"pthguard"',
        '"git,pth*"',
        "valid-after=",
        "valid-before=",
        "20260101",
        "20261231235959Z",
        "cert-authority",
        "ssh-rsa",
        "ssh-ed25519",
        KEY_LINE,
        KEY_LINE[:-3],
        "AAAA",
        "#",
        "\n",
        "\t",
        "\x00",
        "\u00e9",
    ]
)


@budget(300)
@given(st.lists(SIGNER_PIECES, max_size=14).map("".join))
def test_allowed_signers_and_key_lines_only_raise_pthguard_errors(text: str) -> None:
    try:
        signers = _allowed_signers.parse_allowed_signers(text, "allowed_signers")
    except PthguardError:
        pass
    else:
        for signer in signers.signers:
            assert signer.principals
            assert len(signer.key.raw) == 32
    try:
        key = _openssh.parse_public_key_line(text, "key")
    except PthguardError:
        return
    assert len(key.raw) == 32


# -- the gate reports what each version runs ---------------------------------------------------

BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
PTH_SHAPES = st.one_of(
    st.binary(max_size=120),
    st.lists(
        st.sampled_from(
            [
                "import os",
                "import\tos",
                "  import os",
                "\timport os",
                "#",
                "# x",
                "x",
                " ",
                "\ufeff",
                "\u00e9",
                *BREAKS,
                "\r\n",
            ]
        ),
        max_size=20,
    ).map(lambda parts: "".join(parts).encode("utf-8")),
)
VERSION = st.sampled_from(SUPPORTED_VERSIONS)


def as_running(version: tuple[int, int]) -> Any:
    """Patch the gate's view of ``sys.version_info`` (it reads nothing else of ``sys`` here)."""
    fake = types.SimpleNamespace(version_info=(*version, 0, "final", 0))
    return mock.patch.object(_gate, "sys", fake)


@budget(400)
@given(PTH_SHAPES, VERSION)
def test_gate_counts_the_import_lines_site_executes(data: bytes, version: tuple[int, int]) -> None:
    reading = _pth.read_pth(data, version)
    assume(reading.decode_error is None)  # undecodable: site fails before any line runs
    with as_running(version):
        counted = _gate._code_lines(data)
    assert counted == sum(1 for line in reading.lines if line.kind == "import")


@budget(300)
@given(PTH_SHAPES)
def test_gate_reads_315_import_lines_as_site_does(data: bytes) -> None:
    reading = _pth.read_pth(data, (3, 15))
    assume(reading.decode_error is None)
    expected = [_pth.exec_source(line, (3, 15)) for line in reading.lines if line.kind == "import"]
    with as_running((3, 15)):
        found = _gate._import_lines(data, locale_fallback=True)
    assert found == expected


# -- the analyzer -----------------------------------------------------------------------------

ANALYZED_NAMES = st.sampled_from(
    [
        "x.pth",
        "\x01x.pth",
        ".hidden.pth",
        "x.start",
        "sitecustomize.py",
        "usercustomize.py",
        "sitecustomize/__init__.py",
    ]
)
CODE_PIECES = st.sampled_from(
    [
        "import os; ",
        "exec(",
        "base64.b64decode(",
        "'aW1wb3J0IG9z'",
        ")",
        "__import__('subprocess')",
        ".run(['sh'])",
        "urllib.request.urlopen('http://x')",
        "os.environ['AWS_SECRET_ACCESS_KEY']",
        "\n",
        "\x0c",
        "\r",
        "\ufeff",
        "  ",
        "mod:func",
        "# ",
        "\u00e9",
        "\\",
        "'",
    ]
)


@budget(150)
@given(
    ANALYZED_NAMES,
    st.one_of(
        st.lists(CODE_PIECES, max_size=25).map(lambda p: "".join(p).encode("utf-8")),
        st.lists(CODE_PIECES, max_size=25).map(lambda p: "".join(p).encode("latin-1", "replace")),
        st.binary(max_size=200),
    ),
    st.lists(VERSION, min_size=1, max_size=6, unique=True),
    st.sampled_from(["utf-8", "latin-1", "cp1252", "ascii"]),
)
def test_analyze_never_raises_and_describes_the_bytes(
    name: str, data: bytes, versions: list[tuple[int, int]], encoding: str
) -> None:
    result = analyze(name, data, versions, locale_encoding=encoding)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size == len(data)
    assert set(result.versions) <= {f"{v[0]}.{v[1]}" for v in SUPPORTED_VERSIONS}
    for finding in result.findings:
        assert finding.line is None or finding.line >= 1
        assert set(finding.versions) <= set(result.versions)
