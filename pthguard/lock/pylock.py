"""PEP 751 ``pylock.toml``, read with :mod:`tomllib` (so Python 3.11+).

Every package needs a ``version`` and artifacts (``wheels``, ``sdist`` or ``archive``) that
each carry ``hashes.sha256``; ``vcs`` and ``directory`` packages cannot be pinned by hash.
Those are findings. A file that is not a lock at all (wrong types, invalid names or
markers) is an error.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.utils import InvalidName, canonicalize_name
from packaging.version import InvalidVersion, Version

from pthguard.errors import LockError
from pthguard.lock.model import Finding, Lock, LockedPackage, Source

__all__ = ["is_pylock", "lock_from_document", "parse_pylock"]

_PYLOCK_NAME = re.compile(r"pylock(\.[^.]+)?\.toml\Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")


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


def lock_from_document(doc: Mapping[str, Any], path: str) -> Lock:
    """A parsed pylock document as a :class:`Lock`; raises :class:`LockError`."""
    version = doc.get("lock-version")
    if not isinstance(version, str) or not version.startswith("1."):
        raise LockError(
            f"{path}: lock-version is {version!r}, this pthguard reads lock-version 1.x",
            remedy="is it a PEP 751 lock file?",
        )
    entries = doc.get("packages", [])
    if not isinstance(entries, list):
        raise LockError(f"{path}: packages must be an array of tables")
    packages: list[LockedPackage] = []
    findings: list[Finding] = []
    for index, entry in enumerate(entries):
        package, found = _package(entry, f"{path}: packages[{index}]", path)
        packages.append(package)
        findings.extend(found)
    return Lock(
        path=path,
        kind="pylock",
        files=(path,),
        packages=tuple(packages),
        findings=tuple(findings),
    )


def _package(entry: object, where: str, file: str) -> tuple[LockedPackage, list[Finding]]:
    """One ``[[packages]]`` entry and its findings."""
    if not isinstance(entry, dict):
        raise LockError(f"{where} is not a table")
    raw_name = entry.get("name")
    try:
        name = canonicalize_name(raw_name if isinstance(raw_name, str) else "", validate=True)
    except InvalidName as exc:
        raise LockError(f"{where}.name is missing or not a valid name") from exc
    version = entry.get("version")
    if version is not None and not isinstance(version, str):
        raise LockError(f"{where}.version is not a string")
    if version is not None:
        try:
            Version(version)
        except InvalidVersion as exc:
            raise LockError(f"{where}.version {version!r} is not a PEP 440 version") from exc
    marker = entry.get("marker")
    parsed_marker = None
    if marker is not None:
        if not isinstance(marker, str):
            raise LockError(f"{where}.marker is not a string")
        try:
            parsed_marker = Marker(marker)
        except InvalidMarker as exc:
            reason = (str(exc).splitlines() or ["invalid"])[0]
            raise LockError(f"{where}: bad marker {marker!r}: {reason}") from exc
    notes: list[tuple[str, str]] = []
    source: Source = "artifacts"
    if entry.get("vcs") is not None or entry.get("directory") is not None:
        source = "vcs" if entry.get("vcs") is not None else "directory"
        notes.append(("not-hashable", f"{source} source: not pinnable by hash"))
    else:
        wheels = entry.get("wheels", [])
        if not isinstance(wheels, list):
            raise LockError(f"{where}.wheels is not an array")
        artifacts: list[tuple[str, object]] = [(f"wheels[{n}]", w) for n, w in enumerate(wheels)]
        for kind in ("sdist", "archive"):
            if entry.get(kind) is not None:
                artifacts.append((kind, entry[kind]))
                source = "archive" if kind == "archive" else source
        if not artifacts:
            notes.append(("no-hash", "no artifacts (wheels, sdist or archive) to verify"))
        for label, artifact in artifacts:
            if not isinstance(artifact, dict):
                raise LockError(f"{where}.{label} is not a table")
            notes.extend(_artifact_notes(label, artifact))
    if version is None:
        notes.append(("not-pinned", "no version"))
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
        Finding(kind=kind, file=file, line=None, name=name, message=f"{message} ({where})")
        for kind, message in notes
    ]
    return package, findings


def _artifact_notes(label: str, artifact: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A wheel, sdist or archive must carry a sha256 of 64 hex digits."""
    hashes = artifact.get("hashes")
    if not isinstance(hashes, dict) or not hashes:
        return [("no-hash", f"{label} has no hashes")]
    digest = hashes.get("sha256")
    if digest is None:
        algorithms = sorted(str(a) for a in hashes)
        weak = set(algorithms) <= {"md5", "sha1"}
        return [
            (
                "weak-hash" if weak else "no-hash",
                f"{label} has no sha256 hash (only {', '.join(algorithms)})",
            )
        ]
    if not isinstance(digest, str) or not _HEX64.match(digest):
        return [("no-hash", f"{label} hashes.sha256 is not 64 hex digits")]
    return []
