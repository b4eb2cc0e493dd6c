"""Property tests of pthguard.manifest.canonical."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given
from hypothesis import strategies as st

from pthguard.errors import CanonicalJSONError
from pthguard.manifest.canonical import MAX_SAFE_INTEGER, canonical_bytes, loads

# Valid Unicode text: every code point but the surrogates (weighted towards the interesting).
TEXT = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(['"', "\\", "/", "\x00", "\x1f", "\x7f", "\u2028", "\ue000", "\U00010000"]),
    ),
    max_size=12,
)
SAFE_INTEGERS = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
SCALARS = st.none() | st.booleans() | SAFE_INTEGERS | TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=25,
)


def utf16_sorted(value: object) -> object:
    """``value`` with every object's members inserted in UTF-16 code unit order."""
    if isinstance(value, dict):
        names = sorted(value, key=lambda name: name.encode("utf-16-be"))
        return {name: utf16_sorted(value[name]) for name in names}
    if isinstance(value, list):
        return [utf16_sorted(item) for item in value]
    return value


def reference(value: object) -> bytes:
    """An independent JCS writer for this subset: the stdlib's escaping is JCS's."""
    return json.dumps(
        utf16_sorted(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


@given(JSON)
def test_round_trip_through_loads(value: object) -> None:
    data = canonical_bytes(value)
    assert loads(data) == value
    assert canonical_bytes(loads(data)) == data


@given(JSON)
def test_matches_a_reference_writer(value: object) -> None:
    assert canonical_bytes(value) == reference(value)


@given(JSON, st.booleans(), st.sampled_from([None, 0, 2, "\t"]), st.booleans())
def test_canonical_form_is_a_fixed_point(
    value: object, ascii_only: bool, indent: int | str | None, sort_keys: bool
) -> None:
    # However the same value is written, it canonicalises to the same bytes.
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent, sort_keys=sort_keys)
    assert canonical_bytes(loads(text.encode())) == canonical_bytes(value)


@given(JSON)
def test_output_is_utf8_without_insignificant_whitespace(value: object) -> None:
    data = canonical_bytes(value)
    text = data.decode("utf-8")
    assert "\n" not in text
    assert "\t" not in text
    assert not any(ord(char) < 0x20 for char in text)


@given(st.dictionaries(TEXT, SAFE_INTEGERS, min_size=2, max_size=8))
def test_member_order_does_not_matter(value: dict[str, int]) -> None:
    shuffled = dict(reversed(list(value.items())))
    assert canonical_bytes(value) == canonical_bytes(shuffled)


@given(
    st.integers(min_value=MAX_SAFE_INTEGER + 1) | st.integers(max_value=-MAX_SAFE_INTEGER - 1),
    st.sampled_from(["bare", "list", "object"]),
)
def test_unsafe_integers_are_rejected_anywhere(value: int, where: str) -> None:
    wrapped: object = {"bare": value, "list": [0, [value]], "object": {"a": {"b": value}}}[where]
    try:
        canonical_bytes(wrapped)
    except CanonicalJSONError as exc:
        message = str(exc)
    else:
        raise AssertionError("an unsafe integer was canonicalised")
    assert "safe range" in message


@given(st.floats(), JSON)
def test_floats_are_rejected_anywhere(number: float, value: object) -> None:
    for wrapped in ([value, number], {"x": value, "y": [number]}):
        try:
            canonical_bytes(wrapped)
        except CanonicalJSONError:
            continue
        raise AssertionError("a float was canonicalised")


@given(st.binary(max_size=64))
def test_loads_raises_only_canonical_json_error_on_bytes(data: bytes) -> None:
    with contextlib.suppress(CanonicalJSONError):
        loads(data)


JSONISH = st.lists(
    st.sampled_from(
        [
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            '"a"',
            '"a"',
            "1",
            "-",
            "0",
            "e5",
            ".5",
            "true",
            "null",
            "NaN",
            "Infinity",
            '"\\ud800"',
            '"\\u00e9"',
            '"\\x"',
            "1" * 20,
            "9" * 5000,
            "\ufeff",
            "\x00",
            "\udcff",
        ]
    ),
    max_size=30,
).map("".join)


@given(JSONISH)
def test_loads_raises_only_canonical_json_error_on_jsonish_text(text: str) -> None:
    try:
        value = loads(text.encode("utf-8", "surrogatepass"))
    except CanonicalJSONError:
        return
    try:
        data = canonical_bytes(value)
    except CanonicalJSONError:
        return
    assert canonical_bytes(loads(data)) == data
