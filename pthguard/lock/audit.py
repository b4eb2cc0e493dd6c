"""``pthguard audit-lock``: is a lock file really a lock? And does an environment match it?

``audit-lock LOCK... [--python PY] [--format text|json]``

A lock is a pip requirements file (:mod:`pthguard.lock.requirements`; ``requirements.txt``,
``*.lock``, as ``pip-compile --generate-hashes`` writes them) or a PEP 751 ``pylock.toml``
(:mod:`pthguard.lock.pylock`). Reading one reports every package that is not an exact pin
with a sha256 hash.

With ``--python PY`` (one lock only) the distributions installed in ``PY``'s site
directories (found as ``snapshot`` finds them: ``PY -S -I``, none of its startup code runs)
are compared with the locked packages whose markers hold for ``PY``
(:meth:`packaging.markers.Marker.evaluate` with ``PY``'s own marker environment): installed
but not locked, locked but not installed, and a different version (names PEP 503
normalised, versions compared as PEP 440 versions).

Exit codes: 0 clean, 1 any finding, 3 a lock that cannot be read or parsed (one line that
names the file and line).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName

from pthguard.errors import LockError, PthguardError, UsageError
from pthguard.findings import Finding
from pthguard.lock.model import Lock, LockedPackage
from pthguard.lock.pylock import is_pylock, parse_pylock
from pthguard.lock.requirements import parse_requirements, read_file
from pthguard.lock.rules import RULES

__all__ = ["MARKER_ENV_SOURCE", "Installed", "applies", "audit", "audit_environment", "load"]

MARKER_ENV_SOURCE = r"""
import json, os, platform, sys
iv = sys.implementation.version
impl = "%d.%d.%d" % (iv.major, iv.minor, iv.micro)
if iv.releaselevel != "final":
    impl += iv.releaselevel[0] + str(iv.serial)
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": impl,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_python_implementation": platform.python_implementation(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
"""

Installed = tuple[str, str, str]  # (normalised name, version, metadata directory path)


def load(path: Path) -> Lock:
    """Read and parse one lock file (requirements or pylock by its name)."""
    if is_pylock(path):
        return parse_pylock(read_file(path), str(path))
    return parse_requirements(path)


def audit(paths: list[Path], python: str | None = None) -> tuple[list[Lock], str | None]:
    """Audit each lock; with ``python``, also compare the one lock with that environment.
    Returns the locks (their findings filled in) and the interpreter's resolved path."""
    if python and len(paths) != 1:
        raise UsageError("--python compares one lock file with the environment; give one LOCK")
    locks = [load(path) for path in paths]
    resolved = None
    if python:
        resolved, installed = _installed(python)
        env = _marker_env(resolved)
        drift = audit_environment(locks[0], installed, env, resolved)
        locks[0] = dataclasses.replace(locks[0], findings=(*locks[0].findings, *drift))
    return locks, resolved


def applies(package: LockedPackage, env: Mapping[str, str], *, kind: str, python: str) -> bool:
    """Does the package's marker hold for the interpreter whose marker environment is
    ``env``? Raises :class:`LockError` when it cannot be evaluated."""
    if package.parsed_marker is None:
        return True
    try:
        if kind == "pylock":
            return package.parsed_marker.evaluate(dict(env), "lock_file")
        return package.parsed_marker.evaluate({"extra": "", **env})
    except (UndefinedComparison, UndefinedEnvironmentName) as exc:
        where = package.file if package.line is None else f"{package.file}:{package.line}"
        raise LockError(
            f"{where}: cannot evaluate marker {package.marker!r} for {python}: {exc}"
        ) from exc


def audit_environment(
    lock: Lock, installed: list[Installed], env: Mapping[str, str], python: str
) -> list[Finding]:
    """Installed but not locked, locked but not installed, other versions."""
    where = f"environment {python}"
    locked: dict[str, list[LockedPackage]] = {}
    for package in lock.packages:
        if package.constraint or package.name is None:
            continue
        if applies(package, env, kind=lock.kind, python=python):
            locked.setdefault(package.name, []).append(package)
    have: dict[str, list[Installed]] = {}
    for item in installed:
        have.setdefault(item[0], []).append(item)
    findings: list[Finding] = []
    for name in sorted(set(have) - set(locked)):
        versions = ", ".join(f"{v} ({p})" for _, v, p in have[name])
        findings.append(
            RULES["not-locked"].finding(
                f"installed but not locked: {versions}",
                path=where,
                subject=name,
            )
        )
    for name in sorted(set(locked) - set(have)):
        pin = locked[name][0]
        findings.append(
            RULES["not-installed"].finding(
                f"locked ({pin.version or pin.source}) but not installed in {python}",
                path=pin.file,
                line=pin.line,
                subject=name,
            )
        )
    for name in sorted(set(locked) & set(have)):
        pins = [p for p in locked[name] if p.version is not None]
        for _, version, meta in have[name]:
            if pins and not any(p.accepts(version) for p in pins):
                wanted = " or ".join(sorted({p.version or "" for p in pins}))
                findings.append(
                    RULES["version-mismatch"].finding(
                        f"locked {wanted}, installed {version} ({meta})",
                        path=pins[0].file,
                        line=pins[0].line,
                        subject=name,
                    )
                )
    return findings


def _marker_env(python: str) -> dict[str, str]:
    try:
        done = subprocess.run(
            [python, "-S", "-I", "-c", MARKER_ENV_SOURCE],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PthguardError(f"cannot run interpreter {python}: {exc}") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise PthguardError(f"interpreter {python} failed to report its markers: {last}")
    env = json.loads(done.stdout)
    return {str(k): str(v) for k, v in env.items()}


def _installed(python: str) -> tuple[str, list[Installed]]:
    from pthguard.environment import layout as _layout  # noqa: PLC0415
    from pthguard.environment import probe as _probe  # noqa: PLC0415

    probe = _probe.probe(python)
    snap, _ = _layout.scan_environment(probe)
    if snap.errors:
        first = snap.errors[0]
        raise PthguardError(f"cannot describe {probe.executable}: {first.path}: {first.message}")
    out = [
        (d.entry.name, d.entry.version, f"{d.entry.site_dir}/{d.entry.metadata_dir}")
        for d in snap.distributions
    ]
    return probe.executable, out
