"""Tests of pthguard.manifest.canonical: RFC 8785 (JCS) for integers, and the strict reader."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import pytest

from pthguard.errors import CanonicalJSONError, PthguardError
from pthguard.manifest.canonical import MAX_SAFE_INTEGER, canonical_bytes, dumps_pretty, loads

VECTORS_FILE = Path(__file__).parents[2] / "docs" / "canonical-json-vectors.json"


def load_vectors() -> list[dict[str, Any]]:
    vectors = loads(VECTORS_FILE.read_bytes())
    assert isinstance(vectors, list)
    return vectors


# -- the shared vectors (docs/canonical-json-vectors.json) -------------------------------------


def test_vectors_file_is_well_formed() -> None:
    vectors = load_vectors()
    assert len(vectors) >= 10
    for vector in vectors:
        assert set(vector) <= {"description", "input", "canonical_hex"}
        assert {"input", "canonical_hex"} <= set(vector)
        assert isinstance(vector["canonical_hex"], str)
        assert vector["canonical_hex"] == vector["canonical_hex"].lower()


@pytest.mark.parametrize("vector", load_vectors(), ids=lambda v: str(v.get("description", ""))[:40])
def test_vector(vector: dict[str, Any]) -> None:
    expected = bytes.fromhex(vector["canonical_hex"])
    assert canonical_bytes(vector["input"]) == expected
    # The canonical form is a fixed point, and means the same value.
    assert canonical_bytes(loads(expected)) == expected
    assert loads(expected) == vector["input"]


# -- RFC 8785 examples written out -----------------------------------------------------------


RFC_SORTING_INPUT = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\x80": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}


def test_rfc8785_sorting_example() -> None:
    expected = (
        b'{"\\r":"Carriage Return","1":"One","\xc2\x80":"Control",'
        b'"\xc3\xb6":"Latin Small Letter O With Diaeresis","\xe2\x82\xac":"Euro Sign",'
        b'"\xf0\x9f\x98\x80":"Emoji: Grinning Face",'
        b'"\xef\xac\xb3":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_bytes(RFC_SORTING_INPUT) == expected


def test_rfc8785_sorting_example_with_integer_values() -> None:
    value = {name: index for index, name in enumerate(RFC_SORTING_INPUT)}
    names = [name for name, _ in sorted(value.items(), key=lambda item: item[1])]
    assert names[0] == "\u20ac"
    assert (
        canonical_bytes(value)
        == ('{"\\r":1,"1":3,"\x80":5,"\u00f6":6,"\u20ac":0,"\U0001f600":4,"\ufb33":2}').encode()
    )


def test_sorting_is_by_utf16_code_units_not_code_points() -> None:
    # Code point order would put U+E000 first; UTF-16 (D800 DC00 < E000) puts U+10000 first.
    assert sorted(["\ue000", "\U00010000"]) == ["\ue000", "\U00010000"]
    assert canonical_bytes({"\ue000": 1, "\U00010000": 2}) == '{"\U00010000":2,"\ue000":1}'.encode()


def test_sorting_does_not_depend_on_insertion_order() -> None:
    forward = dict.fromkeys(["a", "b", "c", "aa", ""], 0)
    backward = dict(reversed(list(forward.items())))
    assert (
        canonical_bytes(forward) == canonical_bytes(backward) == b'{"":0,"a":0,"aa":0,"b":0,"c":0}'
    )


# -- strings -----------------------------------------------------------------------------------


SHORT_FORMS = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


@pytest.mark.parametrize("code", range(0x20))
def test_control_characters_are_escaped(code: int) -> None:
    char = chr(code)
    escaped = SHORT_FORMS.get(char, f"\\u{code:04x}")
    assert canonical_bytes(char) == f'"{escaped}"'.encode()


def test_long_form_escapes_use_lower_case_hex() -> None:
    assert canonical_bytes("\x0b\x1a\x1f") == b'"\\u000b\\u001a\\u001f"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"', b'"\\""'),
        ("\\", b'"\\\\"'),
        ("/", b'"/"'),
        ("a/b", b'"a/b"'),
        (" ", b'" "'),
        ("\x7f", b'"\x7f"'),
        ("\x80", b'"\xc2\x80"'),
        ("\u00e9", b'"\xc3\xa9"'),
        ("\u2028\u2029", b'"\xe2\x80\xa8\xe2\x80\xa9"'),
        ("\ufeff", b'"\xef\xbb\xbf"'),
        ("\U0001f600", b'"\xf0\x9f\x98\x80"'),
        ("", b'""'),
        ("'", b'"\'"'),
    ],
)
def test_string_forms(text: str, expected: bytes) -> None:
    assert canonical_bytes(text) == expected


def test_names_are_escaped_like_values() -> None:
    assert canonical_bytes({'a"\n': "/"}) == b'{"a\\"\\n":"/"}'


@pytest.mark.parametrize(
    "text", [chr(0xD800), chr(0xDFFF), f"a{chr(0xDC00)}b", chr(0xDC00) + chr(0xD800)]
)
def test_lone_surrogates_are_rejected(text: str) -> None:
    with pytest.raises(CanonicalJSONError, match="not valid Unicode"):
        canonical_bytes(text)
    with pytest.raises(CanonicalJSONError, match="not valid Unicode"):
        canonical_bytes({"ok": [text]})
    with pytest.raises(CanonicalJSONError, match="not valid Unicode"):
        canonical_bytes({text: 1})


def test_a_lone_surrogate_escape_never_becomes_canonical() -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_bytes(loads(b'{"a": "\\ud800"}'))


def test_a_surrogate_pair_escape_is_one_character() -> None:
    assert loads(b'"\\ud83d\\ude00"') == "\U0001f600"
    assert canonical_bytes(loads(b'"\\ud83d\\ude00"')) == b'"\xf0\x9f\x98\x80"'


# -- numbers and literals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, b"0"),
        (-1, b"-1"),
        (42, b"42"),
        (MAX_SAFE_INTEGER, b"9007199254740991"),
        (-MAX_SAFE_INTEGER, b"-9007199254740991"),
        (True, b"true"),
        (False, b"false"),
        (None, b"null"),
    ],
)
def test_scalars(value: object, expected: bytes) -> None:
    assert canonical_bytes(value) == expected


def test_max_safe_integer_is_rfc_value() -> None:
    assert MAX_SAFE_INTEGER == 9007199254740991


@pytest.mark.parametrize(
    "value", [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 2**63, -(2**64), 10**100]
)
def test_integers_outside_the_safe_range_are_rejected(value: int) -> None:
    with pytest.raises(CanonicalJSONError, match="outside the I-JSON safe range"):
        canonical_bytes(value)
    with pytest.raises(CanonicalJSONError, match=r"\$\.size"):
        canonical_bytes({"size": value})


def test_booleans_are_not_integers() -> None:
    assert canonical_bytes([True, 1, False, 0]) == b"[true,1,false,0]"


def test_int_subclasses_are_written_as_numbers() -> None:
    class Level(enum.IntEnum):
        HIGH = 3

    assert canonical_bytes({"level": Level.HIGH}) == b'{"level":3}'


@pytest.mark.parametrize(
    "value", [1.0, 0.5, -0.0, 1e300, float("nan"), float("inf"), float("-inf")]
)
def test_floats_are_rejected(value: float) -> None:
    with pytest.raises(CanonicalJSONError, match="floats are not allowed"):
        canonical_bytes(value)


def test_float_errors_name_the_path() -> None:
    with pytest.raises(CanonicalJSONError, match=r"\$\.a\[1\]\.b: floats"):
        canonical_bytes({"a": [0, {"b": 1.5}]})


# -- containers and other types ---------------------------------------------------------------


def test_tuples_are_arrays() -> None:
    assert canonical_bytes((1, (2, "x"))) == b'[1,[2,"x"]]'


def test_no_insignificant_whitespace() -> None:
    value = {"b": [1, {"c": None}], "a": {}}
    assert canonical_bytes(value) == b'{"a":{},"b":[1,{"c":null}]}'


@pytest.mark.parametrize(
    "value",
    [{1: "a"}, {None: 1}, {"a": 1, 2: 3}, {("a",): 1}, {"nested": {1.5: 0}}, {True: 0}],
)
def test_non_string_member_names_are_rejected(value: object) -> None:
    with pytest.raises(CanonicalJSONError, match="is not a string"):
        canonical_bytes(value)


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, object(), {"a": frozenset()}, 1j])
def test_other_types_are_rejected(value: object) -> None:
    with pytest.raises(CanonicalJSONError, match="is not a JSON value"):
        canonical_bytes(value)


def test_errors_are_pthguard_errors() -> None:
    with pytest.raises(PthguardError):
        canonical_bytes(0.5)


# -- loads: the strict reader ------------------------------------------------------------------


def test_loads_reads_json() -> None:
    assert loads(b' {"a": [1, -2, "x", true, false, null], "b": {}} \n') == {
        "a": [1, -2, "x", True, False, None],
        "b": {},
    }


def test_loads_reads_minus_zero_as_integer_zero() -> None:
    value = loads(b"-0")
    assert value == 0
    assert isinstance(value, int)
    assert canonical_bytes(value) == b"0"


@pytest.mark.parametrize(
    "data",
    [b'{"a": 1, "a": 2}', b'{"a": 1, "b": {"c": 1, "c": 1}}', b'[{"x": 0, "x": 0}]'],
)
def test_loads_rejects_duplicate_member_names(data: bytes) -> None:
    with pytest.raises(CanonicalJSONError, match="duplicate member name"):
        loads(data)


@pytest.mark.parametrize("data", [b"NaN", b"Infinity", b"-Infinity", b'{"a": [NaN]}'])
def test_loads_rejects_nan_and_infinity(data: bytes) -> None:
    with pytest.raises(CanonicalJSONError, match="is not allowed"):
        loads(data)


@pytest.mark.parametrize("data", [b"1.0", b"1e3", b"1E-2", b"-0.0", b"0.1", b'{"a": [2.5]}'])
def test_loads_rejects_floats(data: bytes) -> None:
    with pytest.raises(CanonicalJSONError, match="is not an integer"):
        loads(data)


@pytest.mark.parametrize(
    "data",
    [
        b'"\xff"',
        b'"caf\xe9"',  # latin-1
        '"x"'.encode("utf-16"),
        b'"\xed\xa0\x80"',  # an encoded surrogate is not UTF-8
        b'"\xc0\xaf"',  # overlong
    ],
)
def test_loads_rejects_non_utf8(data: bytes) -> None:
    with pytest.raises(CanonicalJSONError, match="not UTF-8"):
        loads(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b'{"a": 1',
        b'{"a": 1}}',
        b"[1, 2,]",
        b"{'a': 1}",
        b'{"a": 01}',
        b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
        b"hello",
        b'"unterminated',
        b'"tab\tinside"',
    ],
)
def test_loads_rejects_malformed_json(data: bytes) -> None:
    with pytest.raises(CanonicalJSONError, match="not JSON"):
        loads(data)


def test_loads_rejects_deep_nesting() -> None:
    with pytest.raises(CanonicalJSONError):
        loads(b"[" * 100_000 + b"]" * 100_000)


def test_loads_rejects_integers_too_long_to_convert() -> None:
    # Beyond sys.get_int_max_str_digits() int() raises ValueError; loads must not leak it.
    with pytest.raises(CanonicalJSONError):
        loads(b"1" * 5000)
    with pytest.raises(CanonicalJSONError):
        loads(b'{"size": ' + b"9" * 10_000 + b"}")


def test_loads_accepts_large_integers_that_canonical_bytes_then_rejects() -> None:
    value = loads(str(2**60).encode())
    with pytest.raises(CanonicalJSONError, match="safe range"):
        canonical_bytes(value)


# -- dumps_pretty ------------------------------------------------------------------------------


def test_dumps_pretty_is_sorted_indented_utf8_with_final_newline() -> None:
    text = dumps_pretty({"b": 1, "a": ["\u20ac", "/"]})
    assert text == '{\n  "a": [\n    "\u20ac",\n    "/"\n  ],\n  "b": 1\n}\n'.encode()
    assert json.loads(text) == {"b": 1, "a": ["\u20ac", "/"]}


def test_dumps_pretty_means_the_same_as_canonical_bytes() -> None:
    value = {"\ue000": 1, "\U00010000": ["\x00", "\x1f"], "x": {"y": None}}
    assert canonical_bytes(loads(dumps_pretty(value))) == canonical_bytes(value)


@pytest.mark.parametrize("value", [1.5, {"a": "\ud800"}, {1: 2}, 2**60])
def test_dumps_pretty_applies_the_same_value_rules(value: object) -> None:
    with pytest.raises(CanonicalJSONError):
        dumps_pretty(value)
