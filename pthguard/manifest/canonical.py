"""Canonical JSON: the bytes that signatures cover.

The form is RFC 8785 (JSON Canonicalization Scheme) restricted to the values manifests use:
objects, arrays, strings, integers in the I-JSON safe range (|n| <= 2**53 - 1), ``true``,
``false`` and ``null``. Floats are refused rather than canonicalised. In that subset the JCS
rules are: no insignificant whitespace; object members sorted by the UTF-16 code units of
their names; strings written as UTF-8, escaping only ``"``, ``\\`` and control characters
below U+0020 (``\\b \\t \\n \\f \\r`` short forms, others ``\\u00xx`` in lower-case hex);
integers in plain decimal. Strings must be valid Unicode (no lone surrogates).

``loads`` is the matching strict reader: UTF-8 only, no duplicate member names, no floats,
no NaN/Infinity.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pthguard.errors import CanonicalJSONError

MAX_SAFE_INTEGER = 2**53 - 1

_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


#: A character that is written escaped; a string without one is written as it is.
_ESCAPED = re.compile(r'["\\\x00-\x1f]')


def _encode_string(text: str, out: list[str]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError(f"string is not valid Unicode: {text!r}") from exc
    if _ESCAPED.search(text) is None:
        out.append(f'"{text}"')
        return
    out.append('"')
    for char in text:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')


def _sort_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _encode(value: object, out: list[str], path: str) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"{path}: integer {value} is outside the I-JSON safe range")
        out.append(str(int(value)))
    elif isinstance(value, str):
        _encode_string(value, out)
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out, f"{path}[{index}]")
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        for index, name in enumerate(sorted(value, key=_require_str_key(path))):
            if index:
                out.append(",")
            _encode_string(name, out)
            out.append(":")
            _encode(value[name], out, f"{path}.{name}")
        out.append("}")
    elif isinstance(value, float):
        raise CanonicalJSONError(f"{path}: floats are not allowed in canonical JSON")
    else:
        raise CanonicalJSONError(f"{path}: {type(value).__name__} is not a JSON value")


def _require_str_key(path: str) -> Callable[[object], bytes]:
    def key(name: object) -> bytes:
        if not isinstance(name, str):
            raise CanonicalJSONError(f"{path}: object member name {name!r} is not a string")
        return _sort_key(name)

    return key


def canonical_bytes(value: object) -> bytes:
    """The canonical UTF-8 bytes of ``value``; raises :class:`CanonicalJSONError`."""
    out: list[str] = []
    _encode(value, out, "$")
    return "".join(out).encode("utf-8")


def _reject_constant(name: str) -> object:
    raise CanonicalJSONError(f"{name} is not allowed")


def _reject_float(text: str) -> object:
    raise CanonicalJSONError(f"number {text} is not an integer")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise CanonicalJSONError(f"duplicate member name {name!r}")
        result[name] = value
    return result


def loads(data: bytes) -> Any:  # noqa: ANN401 (any JSON value)
    """Parse JSON strictly (see module docstring); raises :class:`CanonicalJSONError`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalJSONError(f"not UTF-8 (byte {exc.start})") from exc
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
            parse_float=_reject_float,
        )
    except json.JSONDecodeError as exc:
        raise CanonicalJSONError(
            f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise CanonicalJSONError("JSON nested too deeply") from exc
    except ValueError as exc:  # an integer too long to convert (sys.get_int_max_str_digits)
        raise CanonicalJSONError(f"not JSON: {exc}") from exc


def dumps_pretty(value: object) -> bytes:
    """Human-readable JSON for files people review (sorted, indented, UTF-8, final newline).

    Signatures never cover these bytes; they cover :func:`canonical_bytes` of ``signed``.
    """
    canonical_bytes(value)  # same value rules as the signed form
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
