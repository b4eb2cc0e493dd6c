"""Ask an interpreter where its startup code lives, without running any of it.

The target runs with ``-S -I`` (no ``site``, no ``PYTHON*`` variables, no script dir on
``sys.path``): no ``.pth`` file, ``sitecustomize`` or ``usercustomize`` of the target runs.
Under ``-S`` (up to 3.13) ``sys.prefix`` is still the base prefix inside a venv, so the probe
reads ``pyvenv.cfg`` itself, exactly as ``site.venv()`` does, and asks the target's own
``site.getsitepackages()`` for the directories of each prefix (Debian's ``dist-packages``
come from there). The result lists the site directories in the order ``site.main()``
processes them.

The probe costs one interpreter start, so it imports as little as it can: it prints its
answer with ``ascii()`` (a Python literal of strings, numbers, lists and dicts, read back with
:func:`ast.literal_eval`) instead of importing ``json``, and asks ``_locale`` for the locale
encoding as ``locale.getpreferredencoding(False)`` does (``import locale`` only where
``_locale`` lacks the function that one calls): both would import ``re``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pthguard.errors import ScanError

# Runs inside the target interpreter: standard library only, Python 3.10+ syntax.
PROBE_SOURCE = r"""
import os, sys, site, sysconfig
from importlib import machinery

def locale_encoding():
    # locale.getpreferredencoding(False), without importing locale (it imports re)
    import _locale
    if hasattr(_locale, "getencoding"):  # 3.11+
        return "utf-8" if sys.flags.utf8_mode else _locale.getencoding()
    if hasattr(_locale, "_get_locale_encoding"):  # 3.10
        return "UTF-8" if sys.flags.utf8_mode else _locale._get_locale_encoding()
    import locale
    return locale.getpreferredencoding(False)

def read_cfg(path):
    system_site, home = "true", None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "=" in line:
                key, _, value = line.partition("=")
                key, value = key.strip().lower(), value.strip()
                if key == "include-system-site-packages":
                    system_site = value.lower()
                elif key == "home":
                    home = value
    return system_site == "true", home

exe_dir = os.path.dirname(os.path.abspath(sys.executable))
site_prefix = os.path.dirname(exe_dir)
candidates = (os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(site_prefix, "pyvenv.cfg"))
cfg = next((c for c in candidates if os.path.isfile(c)), None)
base = [sys.base_prefix]
if sys.base_exec_prefix != sys.base_prefix:
    base.append(sys.base_exec_prefix)

def user_enabled():
    if os.environ.get("PYTHONNOUSERSITE"):
        return False
    if hasattr(os, "getuid") and (os.geteuid() != os.getuid() or os.getegid() != os.getgid()):
        return False
    return True

order = []  # (path, role) in site.main() order, first occurrence only
def add(paths, role):
    for p in paths:
        if p not in [o[0] for o in order]:
            order.append((p, role))

prefix = sys.prefix
system_site = True
if cfg:
    system_site, home = read_cfg(cfg)
    prefix = site_prefix
    # as site.venv() does before anything asks for site-packages: Debian's patched
    # getsitepackages() (3.11-3.13 under -S) only lists a venv's site-packages when
    # sys.prefix differs from sys.base_prefix
    sys.prefix = sys.exec_prefix = site_prefix
    add(site.getsitepackages([site_prefix]), "venv")
user_on = user_enabled() and (not cfg or system_site)
user_site = site.getusersitepackages()
if user_on:
    add([user_site], "user")
if not cfg or system_site:
    add(site.getsitepackages(base), "system")

print(ascii({
    "implementation": sys.implementation.name,
    "version": list(sys.version_info[:3]),
    "cache_tag": sys.implementation.cache_tag,
    "platform": sysconfig.get_platform(),
    "executable": sys.executable,
    "prefix": prefix,
    "base_prefix": sys.base_prefix,
    "pyvenv_cfg": cfg,
    "include_system_site_packages": system_site,
    "user_site": user_site,
    "user_site_enabled": user_on,
    "site_dirs": [{"path": p, "role": r, "exists": os.path.isdir(p)} for p, r in order],
    "purelib": sysconfig.get_paths(vars={"base": prefix, "platbase": prefix})["purelib"],
    "scripts": sysconfig.get_paths(vars={"base": prefix, "platbase": prefix})["scripts"],
    "sys_path": sys.path,
    "stdlib": os.path.dirname(os.__file__),
    "extension_suffixes": machinery.EXTENSION_SUFFIXES,
    "source_suffixes": machinery.SOURCE_SUFFIXES,
    "bytecode_suffixes": machinery.BYTECODE_SUFFIXES,
    "locale_encoding": locale_encoding(),
    "utf8_mode": sys.flags.utf8_mode,
}))
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbedSiteDir:
    path: str
    role: str
    exists: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    """What the target interpreter reported about itself (see module docstring)."""

    implementation: str
    version: tuple[int, int, int]
    cache_tag: str
    platform: str
    executable: str
    prefix: str
    base_prefix: str
    pyvenv_cfg: str | None
    include_system_site_packages: bool
    user_site: str
    user_site_enabled: bool
    site_dirs: tuple[ProbedSiteDir, ...]
    purelib: str
    sys_path: tuple[str, ...]
    stdlib: str
    extension_suffixes: tuple[str, ...]
    source_suffixes: tuple[str, ...]
    bytecode_suffixes: tuple[str, ...]
    locale_encoding: str
    utf8_mode: bool
    scripts: str = ""  # where installers put console scripts (a venv's bin/)

    @property
    def minor(self) -> tuple[int, int]:
        return (self.version[0], self.version[1])

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Probe:
        return cls(
            implementation=str(data["implementation"]),
            version=(int(data["version"][0]), int(data["version"][1]), int(data["version"][2])),
            cache_tag=str(data["cache_tag"]),
            platform=str(data["platform"]),
            executable=str(data["executable"]),
            prefix=str(data["prefix"]),
            base_prefix=str(data["base_prefix"]),
            pyvenv_cfg=data["pyvenv_cfg"],
            include_system_site_packages=bool(data["include_system_site_packages"]),
            user_site=str(data["user_site"]),
            user_site_enabled=bool(data["user_site_enabled"]),
            site_dirs=tuple(
                ProbedSiteDir(path=str(d["path"]), role=str(d["role"]), exists=bool(d["exists"]))
                for d in data["site_dirs"]
            ),
            purelib=str(data["purelib"]),
            sys_path=tuple(map(str, data["sys_path"])),
            stdlib=str(data["stdlib"]),
            extension_suffixes=tuple(data["extension_suffixes"]),
            source_suffixes=tuple(data["source_suffixes"]),
            bytecode_suffixes=tuple(data["bytecode_suffixes"]),
            locale_encoding=str(data["locale_encoding"]),
            utf8_mode=bool(data["utf8_mode"]),
            scripts=str(data.get("scripts") or ""),
        )


def probe(python: str | None = None) -> Probe:
    """Probe ``python`` (default: this interpreter) with ``-S -I``; raises :class:`ScanError`."""
    return start(python).result()


def start(python: str | None = None) -> PendingProbe:
    """Start probing ``python``; the answer (or the error :func:`probe` would raise) comes
    from :meth:`PendingProbe.result`, so a command can go on (import what it needs) while the
    interpreter starts, and still report errors in the order it always has."""
    return PendingProbe(python)


class PendingProbe:
    """A probe running in the background (see :func:`start`); as a context manager, a probe
    whose answer was never collected (the command failed first) is stopped on exit."""

    def __init__(self, python: str | None) -> None:
        self.exe = python or sys.executable
        self._error: ScanError | None = None
        self._answer: Probe | None = None
        self._process: subprocess.Popen[str] | None = None
        try:
            _check(python)
            self._process = subprocess.Popen(
                [self.exe, "-S", "-I", "-c", PROBE_SOURCE],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_environ(),
            )
        except ScanError as exc:
            self._error = exc
        except OSError as exc:
            self._error = ScanError(
                f"cannot run interpreter {self.exe}: {exc}", remedy="check --python"
            )

    def __enter__(self) -> PendingProbe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()

    def discard(self) -> None:
        """Stop the interpreter if it still runs and its answer was not collected."""
        process = self._process
        if process is not None and process.returncode is None:
            process.kill()
            process.communicate()

    def result(self) -> Probe:
        """The probe's answer; raises :class:`ScanError`."""
        if self._answer is None:
            self._answer = self._wait()
        return self._answer

    def _wait(self) -> Probe:
        if self._error is not None:
            raise self._error
        process = self._process
        assert process is not None  # noqa: S101 (set whenever there is no error)
        exe = self.exe
        try:
            stdout, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            process.communicate()
            raise ScanError(
                f"cannot run interpreter {exe}: {exc}", remedy="check --python"
            ) from exc
        if process.returncode != 0:
            last = (stderr.strip().splitlines() or ["no output"])[-1]
            raise ScanError(f"interpreter {exe} failed to report its paths: {last}")
        return read_answer(exe, stdout)


def _check(python: str | None) -> None:
    if python is not None and not Path(python).exists():
        raise ScanError(f"interpreter {python} does not exist", remedy="check --python")
    if python is not None and Path(python).is_dir():
        inside = Path(python, "bin", "python")
        raise ScanError(
            f"{python} is a directory, not an interpreter",
            remedy=f"pass --python {inside}"
            if inside.exists()
            else "pass the interpreter of the environment (e.g. --python VENV/bin/python)",
        )


def _environ() -> dict[str, str]:
    """-I already ignores PYTHON* for the interpreter itself; the two that site reads from
    os.environ at a normal start stay, so the probe sees the user site that start would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    for name in ("PYTHONNOUSERSITE", "PYTHONUSERBASE"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def read_answer(exe: str, stdout: str) -> Probe:
    """The :class:`Probe` that :data:`PROBE_SOURCE` printed; raises :class:`ScanError`."""
    try:
        data = ast.literal_eval(stdout.strip())
        if not isinstance(data, dict):
            raise TypeError(f"expected a dict, found {type(data).__name__}")
        return Probe.from_json(data)
    except (ValueError, KeyError, TypeError, IndexError, SyntaxError, RecursionError) as exc:
        raise ScanError(f"interpreter {exe} gave an unreadable answer: {exc}") from exc
    except MemoryError as exc:  # literal_eval's parser stack (``-`` repeated): not real memory
        raise ScanError(f"interpreter {exe} gave an unreadable answer (nested too deeply)") from exc
