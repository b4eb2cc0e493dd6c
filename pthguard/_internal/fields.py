"""Typed getters for strict parsing of JSON mappings, collecting every problem with its
field path (``distributions[3].record_sha256: expected a string``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")
_MISSING = object()


class Problems:
    """Accumulates ``path: message`` strings."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


class Fields:
    """A mapping read field by field; :meth:`finish` reports unknown fields."""

    def __init__(self, data: object, path: str, problems: Problems) -> None:
        self.path = path
        self.problems = problems
        self.ok = isinstance(data, Mapping)
        self.data: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        self.seen: set[str] = set()
        if not self.ok:
            problems.add(path, f"expected an object, found {_kind(data)}")

    def _get(self, name: str) -> object:
        self.seen.add(name)
        return self.data.get(name, _MISSING)

    def _fail(self, name: str, message: str) -> None:
        if self.ok:
            self.problems.add(f"{self.path}.{name}", message)

    def get_str(
        self, name: str, default: str | None = None, *, choices: tuple[str, ...] = ()
    ) -> str:
        value = self._get(name)
        if value is _MISSING and default is not None:
            return default
        if value is _MISSING:
            self._fail(name, "missing")
        elif not isinstance(value, str):
            self._fail(name, f"expected a string, found {_kind(value)}")
        elif choices and value not in choices:
            self._fail(name, f"must be one of {', '.join(choices)}, found {value!r}")
        else:
            return value
        return default if default is not None else ""

    def get_opt_str(self, name: str) -> str | None:
        value = self._get(name)
        if value is _MISSING:
            self._fail(name, "missing (use null for none)")
            return None
        if value is None or isinstance(value, str):
            return value
        self._fail(name, f"expected a string or null, found {_kind(value)}")
        return None

    def get_sha256(self, name: str) -> str:
        value = self.get_str(name)
        if isinstance(self.data.get(name), str) and not SHA256_RE.match(value):
            self._fail(name, "expected a sha256 digest (64 lower-case hex digits)")
        return value

    def get_opt_sha256(self, name: str) -> str | None:
        value = self.get_opt_str(name)
        if value is not None and not SHA256_RE.match(value):
            self._fail(name, "expected a sha256 digest (64 lower-case hex digits) or null")
        return value

    def get_int(self, name: str, *, minimum: int = 0) -> int:
        value = self._get(name)
        if value is _MISSING:
            self._fail(name, "missing")
        elif isinstance(value, bool) or not isinstance(value, int):
            self._fail(name, f"expected an integer, found {_kind(value)}")
        elif value < minimum:
            self._fail(name, f"must be at least {minimum}, found {value}")
        else:
            return value
        return minimum

    def get_bool(self, name: str, default: bool | None = None) -> bool:
        value = self._get(name)
        if value is _MISSING and default is not None:
            return default
        if isinstance(value, bool):
            return value
        self._fail(
            name,
            "missing" if value is _MISSING else f"expected true or false, found {_kind(value)}",
        )
        return False

    def get_list(self, name: str, item: Callable[[object, str], T | None]) -> tuple[T, ...]:
        value = self._get(name)
        if value is _MISSING:
            self._fail(name, "missing")
            return ()
        if not isinstance(value, list):
            self._fail(name, f"expected a list, found {_kind(value)}")
            return ()
        result = []
        for index, element in enumerate(value):
            parsed = item(element, f"{self.path}.{name}[{index}]")
            if parsed is not None:
                result.append(parsed)
        return tuple(result)

    def get_obj(self, name: str, item: Callable[[object, str], T | None]) -> T | None:
        value = self._get(name)
        if value is _MISSING:
            self._fail(name, "missing")
            return None
        return item(value, f"{self.path}.{name}")

    def get_opt_obj(self, name: str, item: Callable[[object, str], T | None]) -> T | None:
        value = self._get(name)
        if value is _MISSING:
            self._fail(name, "missing (use null for none)")
            return None
        return None if value is None else item(value, f"{self.path}.{name}")

    def finish(self) -> bool:
        """Report unknown fields; True when this object had no problem so far."""
        for name in sorted(set(self.data) - self.seen):
            self.problems.add(f"{self.path}.{name}", "unknown field")
        return self.ok


def _kind(value: object) -> str:
    if value is _MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def str_item(value: object, path: str, problems: Problems) -> str | None:
    if isinstance(value, str):
        return value
    problems.add(path, f"expected a string, found {_kind(value)}")
    return None


def duplicates(values: list[str] | tuple[str, ...]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for value in values:
        if value in seen and value not in dup:
            dup.append(value)
        seen.add(value)
    return dup
