"""Property tests of the gate's JSON writer (refusal events, ``pthguard.gate.events``): the
gate cannot import ``json``, so its own encoder must write what ``json.dumps`` writes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from pthguard.gate.events import _json

# Any text, lone surrogates too (an undecodable file name under surrogateescape).
TEXT = st.text(
    st.one_of(
        st.characters(),
        st.characters(categories=["Cs"]),
        st.sampled_from(['"', "\\", "/", "\x00", "\x1f", "\x7f", "\u2028", "\U0001f600"]),
    ),
    max_size=12,
)
SCALARS = st.none() | st.booleans() | st.integers() | TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=25,
)


@given(JSON)
def test_writes_what_json_dumps_writes(value: object) -> None:
    assert _json(value) == json.dumps(value, separators=(",", ":"))


@given(JSON)
def test_one_ascii_line_that_reads_back(value: object) -> None:
    text = _json(value)
    assert text.isascii()
    assert "\n" not in text
    assert json.loads(text) == value


def test_tuples_are_lists_and_other_types_are_refused() -> None:
    assert _json(("a", 1, None)) == '["a",1,null]'
    for bad in (1.5, b"x", {1: 2}, object()):
        try:
            _json(bad)
        except TypeError:
            continue
        raise AssertionError(f"{bad!r} was written")
