"""PEP 751 ``pylock.toml``, read with :mod:`tomllib` (so Python 3.11+).

Every package needs a ``version`` and artifacts (``wheels``, ``sdist`` or ``archive``) that
each carry ``hashes.sha256``; ``vcs`` and ``directory`` packages cannot be pinned by hash.
Those are findings. A file that is not a lock at all (wrong types, invalid names, versions
or markers) is an error that lists every problem with its field path
(``packages[3].wheels[0].size: expected an integer, found a boolean``). Fields this audit
does not read are left alone: a later 1.x lock-version may add some.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from packaging.markers import InvalidMarker, Marker
from packaging.utils import InvalidName, canonicalize_name
from packaging.version import InvalidVersion, Version

from pthguard._internal.fields import Problems
from pthguard.errors import LockError
from pthguard.findings import Finding
from pthguard.lock.model import Lock, LockedPackage, Source
from pthguard.lock.rules import RULES

__all__ = ["is_pylock", "lock_from_document", "parse_pylock"]

T = TypeVar("T")

_PYLOCK_NAME = re.compile(r"pylock(\.[^.]+)?\.toml\Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")
#: Artifact fields and their TOML types (``hashes`` is read on its own).
_ARTIFACT_FIELDS: tuple[tuple[str, type[object], str], ...] = (
    ("name", str, "a string"),
    ("url", str, "a string"),
    ("path", str, "a string"),
    ("size", int, "an integer"),
    ("upload-time", dt.datetime, "a date-time"),
)


def is_pylock(path: Path) -> bool:
    return bool(_PYLOCK_NAME.match(path.name)) or path.suffix == ".toml"


def parse_pylock(data: bytes, path: str) -> Lock:
    """Parse a PEP 751 lock file; raises :class:`LockError` (always on Python 3.10)."""
    return lock_from_document(_toml(data, path), path)


def _toml(data: bytes, path: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LockError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise LockError(f"{path} is not valid TOML: {exc}") from exc
    raise LockError(
        f"cannot read {path}: pylock.toml needs Python 3.11 or later (tomllib), this is "
        f"Python {sys.version_info[0]}.{sys.version_info[1]}",
        remedy="run pthguard with Python 3.11+",
    )


class _Table:
    """A TOML table read field by field with typed getters; a value of the wrong type is a
    problem at its path (``bool`` is not an integer, a string is not an array)."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: Problems) -> None:
        self.data = data
        self.path = path
        self.problems = problems

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def problem(self, key: str, message: str) -> None:
        self.problems.add(self.at(key), message)

    def get(self, key: str, expected: type[T], what: str, *, required: bool = False) -> T | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, "missing")
            return None
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            self.problem(key, f"expected {what}, found {_kind(value)}")
            return None
        return value

    def table(self, key: str) -> _Table | None:
        value = self.get(key, dict, "a table")
        return None if value is None else _Table(value, self.at(key), self.problems)

    def tables(self, key: str) -> list[_Table]:
        """An array of tables; missing is empty."""
        value = self.get(key, list, "an array of tables")
        found: list[_Table] = []
        for index, item in enumerate(value or []):
            where = f"{self.at(key)}[{index}]"
            if isinstance(item, dict):
                found.append(_Table(item, where, self.problems))
            else:
                self.problems.add(where, f"expected a table, found {_kind(item)}")
        return found


def _kind(value: object) -> str:
    kinds: tuple[tuple[type[object], str], ...] = (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
        (dt.datetime, "a date-time"),
        (dt.date, "a date"),
        (dt.time, "a time"),
    )
    return next((text for kind, text in kinds if isinstance(value, kind)), type(value).__name__)


def lock_from_document(doc: Mapping[str, Any], path: str) -> Lock:
    """A parsed pylock document as a :class:`Lock`; raises :class:`LockError` with every
    problem found."""
    version = doc.get("lock-version")
    if not isinstance(version, str) or not version.startswith("1."):
        raise LockError(
            f"{path}: lock-version is {version!r}, this pthguard reads lock-version 1.x",
            remedy="is it a PEP 751 lock file?",
        )
    problems = Problems()
    top = _Table(doc, "", problems)
    packages: list[LockedPackage] = []
    findings: list[Finding] = []
    for index, table in enumerate(top.tables("packages")):
        found = _package(table, f"{path}: packages[{index}]", path)
        if found is not None:
            packages.append(found[0])
            findings.extend(found[1])
    if problems.items:
        raise LockError(f"{path} is not a valid PEP 751 lock", problems.items)
    return Lock(
        path=path,
        kind="pylock",
        files=(path,),
        packages=tuple(packages),
        findings=tuple(findings),
    )


def _package(table: _Table, where: str, file: str) -> tuple[LockedPackage, list[Finding]] | None:
    """One ``[[packages]]`` entry and its findings; None when it has problems."""
    before = len(table.problems.items)
    raw_name = table.get("name", str, "a string", required=True)
    name = None
    if raw_name is not None:
        try:
            name = canonicalize_name(raw_name, validate=True)
        except InvalidName:
            table.problem("name", f"{raw_name!r} is not a valid project name")
    version = table.get("version", str, "a string")
    if version is not None:
        try:
            Version(version)
        except InvalidVersion:
            table.problem("version", f"{version!r} is not a PEP 440 version")
    marker = table.get("marker", str, "a string")
    parsed_marker = None
    if marker is not None:
        try:
            parsed_marker = Marker(marker)
        except InvalidMarker as exc:
            reason = (str(exc).splitlines() or ["invalid"])[0]
            table.problem("marker", f"bad environment marker {marker!r}: {reason}")
    notes: list[tuple[str, str]] = []
    source: Source = "artifacts"
    vcs, directory = table.table("vcs"), table.table("directory")
    if vcs is not None or directory is not None:
        source = "vcs" if vcs is not None else "directory"
        notes.append(("not-hashable", f"{source} source: not pinnable by hash"))
    else:
        labels = []
        for label, artifact in _artifacts(table):
            labels.append(label)
            notes.extend(_artifact_notes(label, artifact))
        if not labels:
            notes.append(("no-hash", "no artifacts (wheels, sdist or archive) to verify"))
        if "archive" in labels:
            source = "archive"
    if version is None:
        notes.append(("not-pinned", "no version"))
    if name is None or len(table.problems.items) > before:
        return None
    package = LockedPackage(
        name=name,
        version=version,
        arbitrary=False,
        marker=marker,
        parsed_marker=parsed_marker,
        source=source,
        file=file,
        line=None,
    )
    findings = [
        RULES[kind].finding(f"{message} ({where})", path=file, subject=name)
        for kind, message in notes
    ]
    return package, findings


def _artifacts(table: _Table) -> Iterator[tuple[str, _Table]]:
    """``wheels[N]``, ``sdist`` and ``archive``, in that order, each read when reached."""
    for number, wheel in enumerate(table.tables("wheels")):
        yield f"wheels[{number}]", wheel
    for kind in ("sdist", "archive"):
        artifact = table.table(kind)
        if artifact is not None:
            yield kind, artifact


def _artifact_notes(label: str, artifact: _Table) -> list[tuple[str, str]]:
    """A wheel, sdist or archive must carry a sha256 of 64 hex digits."""
    for key, expected, what in _ARTIFACT_FIELDS:
        artifact.get(key, expected, what)
    hashes = artifact.table("hashes")
    if hashes is None and artifact.data.get("hashes") is not None:
        return []  # not a table: a problem already
    if hashes is None or not hashes.data:
        return [("no-hash", f"{label} has no hashes")]
    for algorithm in hashes.data:
        hashes.get(algorithm, str, "a string")
    digest = hashes.data.get("sha256")
    if digest is None:
        algorithms = sorted(str(a) for a in hashes.data)
        weak = set(algorithms) <= {"md5", "sha1"}
        return [
            (
                "weak-hash" if weak else "no-hash",
                f"{label} has no sha256 hash (only {', '.join(algorithms)})",
            )
        ]
    if isinstance(digest, str) and not _HEX64.match(digest):
        return [("no-hash", f"{label} hashes.sha256 is not 64 hex digits")]
    return []
