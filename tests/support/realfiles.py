"""Real legitimate startup files, taken from real wheels downloaded from PyPI.

:func:`real_files` runs ``scripts/refresh-known-pth``'s own ``collect`` (the code that
generated ``pthguard/analysis/known.py``): it downloads each wheel once into ``tests/.cache/wheels``
(``pip download --no-deps --only-binary :all:``; nothing is built or run; a
``tests/.cache/.gitignore`` of ``*`` keeps the cache out of git) and reads the files out of
the zips. A file lock lets xdist workers share the cache. When PyPI cannot be reached the
caller skips, naming the pip error. ``PTHGUARD_WHEEL_CACHE`` picks another cache directory.
"""

from __future__ import annotations

import fcntl
import functools
import importlib.machinery
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "refresh-known-pth"


@dataclass(frozen=True)
class RealFile:
    package: str
    version: str
    name: str
    sha256: str
    data: bytes


@dataclass(frozen=True)
class Collected:
    files: tuple[RealFile, ...]
    #: What the script renders from the wheels: must equal pthguard/analysis/known.py.
    rendered: str
    wheel_dir: Path


def refresh_script() -> ModuleType:
    """``scripts/refresh-known-pth`` loaded as a module (it has no ``.py`` suffix)."""
    loader = importlib.machinery.SourceFileLoader("refresh_known_pth", str(SCRIPT))
    spec = importlib.util.spec_from_loader("refresh_known_pth", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("refresh_known_pth", module)  # dataclasses look their module up
    loader.exec_module(module)
    return module


def cache_dir() -> Path:
    override = os.environ.get("PTHGUARD_WHEEL_CACHE")
    if override:
        return Path(override)
    base = ROOT / "tests" / ".cache"
    base.mkdir(parents=True, exist_ok=True)
    ignore = base / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return base / "wheels"


@functools.cache
def _script() -> ModuleType:
    return refresh_script()


@functools.cache
def _collect() -> Collected | str:
    script = _script()
    wheels = cache_dir()
    wheels.mkdir(parents=True, exist_ok=True)
    with open(wheels / ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            taken, nspkg, editable = script.collect(wheels)
        except SystemExit as exc:  # pip download failed: offline, or PyPI unreachable
            return f"cannot download the reference wheels from PyPI: {str(exc)[-400:]}"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    files = tuple(RealFile(t.package, t.version, t.name, t.sha256, t.data) for t in taken)
    return Collected(files=files, rendered=script.render(taken, nspkg, editable), wheel_dir=wheels)


def real_files() -> Collected:
    """The real files, or skip the calling test with the reason."""
    found = _collect()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@functools.cache
def _fetch(package: str, version: str, pip_args: tuple[str, ...]) -> Path | str:
    script = _script()
    wheels = cache_dir()
    wheels.mkdir(parents=True, exist_ok=True)
    with open(wheels / ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            path: Path = script.fetch(package, version, pip_args, wheels)
        except SystemExit as exc:
            return f"cannot download {package}=={version} from PyPI: {str(exc)[-400:]}"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


def real_wheel(package: str, version: str, *pip_args: str) -> Path:
    """One more real wheel (cached like the others), or skip the calling test."""
    found = _fetch(package, version, tuple(pip_args))
    if isinstance(found, str):
        pytest.skip(found)
    return found
