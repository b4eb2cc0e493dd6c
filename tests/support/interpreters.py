"""The CPython interpreters present on this machine, host or chroot, as test parameters.

Two kinds:

* pyenv builds on the host, ``$PYENV_ROOT/versions/3.1*/bin/python3`` (``~/.pyenv`` when
  ``PYENV_ROOT`` is unset), 3.10 and newer;
* Debian sid's ``python3.14`` and ``python3.15`` inside a chroot (``/opt/sid-pythons``, or
  ``$PTHGUARD_SID_ROOT``), made by ``shared/tools/sid-pythons.sh``. They run through
  ``chroot(8)`` and so only when the tests run as root. Paths they see are inside the root:
  use :meth:`Interpreter.inner_path` / :meth:`Interpreter.host_path` to translate, and
  :meth:`Interpreter.tmp_dir` for a directory both sides can see.

Every interpreter is checked to start (``-I -c ...``) before it is offered; discovery runs
once per process (each xdist worker discovers for itself; it takes ~0.1 s).

Subprocess environments are hermetic: host interpreters inherit ``os.environ`` *minus* every
``PYTHON*`` and ``PIP_*`` variable (this machine sets e.g. ``PYTHONDONTWRITEBYTECODE=1`` and
``PIP_FIND_LINKS``, which would silently change what the tests measure); chroot interpreters
get a fresh minimal environment. Extra variables are added with ``env=``.

Use in tests::

    @pytest.mark.parametrize("interp", interpreter_params())
    def test_x(interp: Interpreter) -> None: ...

An interpreter that is absent is a *skipped* parameter, never a failure.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "SUPPORTED_VERSIONS",
    "CommandFailedError",
    "Interpreter",
    "discover",
    "interpreter_params",
    "interpreters_by_label",
]

#: Minor versions the suite parametrises over, oldest first.
SUPPORTED_VERSIONS: tuple[tuple[int, int], ...] = tuple((3, minor) for minor in range(10, 16))

DEFAULT_TIMEOUT = 300.0
SID_ROOT_DEFAULT = "/opt/sid-pythons"
SID_VERSIONS = ("3.14", "3.15")
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SCRUBBED_PREFIXES = ("PYTHON", "PIP_")
_TMP_PREFIX = "pthguard-"
_PROBE = "import sys; print(sys.version_info[0], sys.version_info[1], sys.abiflags)"

EnvExtra = Mapping[str, str | None]


class CommandFailedError(AssertionError):
    """A command exited non-zero where success was required; carries its full output."""

    def __init__(self, argv: Sequence[str], proc: subprocess.CompletedProcess[str]) -> None:
        self.argv = tuple(argv)
        self.proc = proc
        super().__init__(
            f"command failed with exit code {proc.returncode}: {' '.join(self.argv)}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )


def host_env(extra: EnvExtra | None = None) -> dict[str, str]:
    """``os.environ`` without ``PYTHON*``/``PIP_*``, plus ``extra`` (a ``None`` value unsets)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    return _merge(env, extra)


def chroot_env(extra: EnvExtra | None = None) -> dict[str, str]:
    """The minimal environment a chroot interpreter gets, plus ``extra``."""
    env = {"PATH": CHROOT_PATH, "LANG": "C.UTF-8", "HOME": "/root", "TMPDIR": "/tmp"}
    return _merge(env, extra)


def _merge(env: dict[str, str], extra: EnvExtra | None) -> dict[str, str]:
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclass(frozen=True)
class Interpreter:
    """One CPython interpreter: how to start it and how it sees the file system.

    ``command`` starts the interpreter (for a chroot: ``("/usr/sbin/chroot", root, python)``);
    ``root`` is the chroot root, ``None`` for a host interpreter.
    """

    version: tuple[int, int]
    label: str
    command: tuple[str, ...]
    root: Path | None = None

    def __str__(self) -> str:
        where = f" in chroot {self.root}" if self.root is not None else ""
        return f"Python {self.label} ({self.executable}{where})"

    @property
    def is_chroot(self) -> bool:
        return self.root is not None

    @property
    def launcher(self) -> tuple[str, ...]:
        """What precedes an inner program's path to run it: ``()`` or ``(chroot, root)``."""
        return self.command[:-1]

    @property
    def executable(self) -> str:
        """The interpreter's path as the interpreter itself sees it."""
        return self.command[-1]

    @property
    def stdlib_tag(self) -> str:
        """``python3.X`` as in ``lib/python3.X/site-packages``."""
        return f"python{self.version[0]}.{self.version[1]}"

    # -- paths ---------------------------------------------------------------------------

    def host_path(self, inner: str | os.PathLike[str]) -> Path:
        """The host's path of ``inner``, an absolute path as the interpreter sees it."""
        inner = os.fspath(inner)
        if not os.path.isabs(inner):
            raise ValueError(f"not an absolute path: {inner!r}")
        if self.root is None:
            return Path(inner)
        return self.root / inner.lstrip("/")

    def inner_path(self, host: str | os.PathLike[str]) -> str:
        """The path the interpreter sees for ``host``; for a chroot it must lie under root."""
        path = Path(os.path.abspath(host))
        if self.root is None:
            return str(path)
        root = Path(os.path.abspath(self.root))
        try:
            rel = path.relative_to(root)
        except ValueError:
            raise ValueError(f"{path} is outside the chroot {root} of {self}") from None
        return "/" + rel.as_posix() if rel.parts else "/"

    def tmp_dir(self, prefix: str = "") -> Path:
        """A fresh, private temporary directory (host path) that the interpreter can see.

        Host: under the system temp dir; chroot: under ``root/tmp``. Each directory is
        unique, so xdist workers never share one. They are removed when this process exits
        (unless ``PTHGUARD_KEEP_TMP`` is set), and leftovers of dead processes are removed
        the next time one is made.
        """
        base = self.host_path("/tmp") if self.root is not None else Path(tempfile.gettempdir())
        return _make_tmp_dir(base, prefix)

    def visible_dir(self, host_dir: Path) -> Path:
        """``host_dir`` (e.g. pytest's ``tmp_path``) if the interpreter can see it, else a
        fresh :meth:`tmp_dir`: where to put files the interpreter must read or run."""
        if self.root is None:
            return host_dir
        try:
            self.inner_path(host_dir)
        except ValueError:
            return self.tmp_dir()
        return host_dir

    # -- running -------------------------------------------------------------------------

    def run(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        env: EnvExtra | None = None,
        cwd: str | os.PathLike[str] | None = None,
        input: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run the interpreter with ``args``: text mode, output captured, 300 s timeout.

        ``Path`` arguments are host paths and are translated with :meth:`inner_path`; ``str``
        arguments are passed as they are. ``cwd`` is a host path. ``env`` adds variables to
        the hermetic base environment (``None`` removes one). ``check=True`` raises
        :class:`CommandFailedError` (with stdout and stderr) on a non-zero exit.
        """
        return self.run_program(
            [self.executable, *args], env=env, cwd=cwd, input=input, timeout=timeout, check=check
        )

    def run_program(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        env: EnvExtra | None = None,
        cwd: str | os.PathLike[str] | None = None,
        input: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Like :meth:`run`, for any program; ``argv[0]`` is its path as the interpreter sees
        it (e.g. a venv's ``bin/python``)."""
        inner_argv = [self.inner_path(a) if isinstance(a, Path) else os.fspath(a) for a in argv]
        full: list[str]
        if self.root is None:
            full = inner_argv
            run_env = host_env(env)
            run_cwd = os.fspath(cwd) if cwd is not None else None
        else:
            run_env = chroot_env(env)
            # chroot(8) changes to the new "/"; env -C sets the working directory inside.
            chdir = ["/usr/bin/env", "-C", self.inner_path(cwd)] if cwd is not None else []
            full = [*self.launcher, *chdir, *inner_argv]
            run_cwd = None
        proc = subprocess.run(
            full,
            env=run_env,
            cwd=run_cwd,
            input=input,
            text=True,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise CommandFailedError(full, proc)
        return proc


# -- temporary directories ---------------------------------------------------------------

_created_tmp: list[Path] = []


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@functools.cache
def _prune_stale(base: Path) -> None:
    """Remove ``pthguard-<pid>-*`` dirs under ``base`` left by processes that are gone."""
    pattern = re.compile(re.escape(_TMP_PREFIX) + r"(\d+)-")
    with contextlib.suppress(OSError):
        for entry in base.iterdir():
            match = pattern.match(entry.name)
            if match is None:
                continue
            pid = int(match.group(1))
            if pid != os.getpid() and not _pid_alive(pid):
                shutil.rmtree(entry, ignore_errors=True)


def _make_tmp_dir(base: Path, prefix: str) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    _prune_stale(base)
    path = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-{prefix}", dir=base))
    _created_tmp.append(path)
    return path


@atexit.register
def _remove_tmp_dirs() -> None:
    if os.environ.get("PTHGUARD_KEEP_TMP"):
        return
    for path in _created_tmp:
        shutil.rmtree(path, ignore_errors=True)


# -- discovery ---------------------------------------------------------------------------


def _probe(command: tuple[str, ...], root: Path | None) -> Interpreter | None:
    """Start ``command`` (with ``site``: it must really start) and read its version."""
    env = chroot_env() if root is not None else host_env()
    try:
        proc = subprocess.run(
            [*command, "-I", "-c", _PROBE],
            env=env,
            text=True,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    fields = proc.stdout.split()
    if proc.returncode != 0 or len(fields) not in (2, 3):
        return None
    version = (int(fields[0]), int(fields[1]))
    abiflags = fields[2] if len(fields) == 3 else ""
    label = f"{version[0]}.{version[1]}" + ("t" if "t" in abiflags else "")
    return Interpreter(version=version, label=label, command=command, root=root)


def _version_key(path: Path) -> tuple[int, ...]:
    # "/…/versions/3.11.7/bin/python3" -> (3, 11, 7); non-numeric parts sort first
    name = path.parent.parent.name
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.\-]", name))


def _pyenv_candidates() -> list[Path]:
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = [p for p in (pyenv_root / "versions").glob("3.1*/bin/python3") if p.is_file()]
    return sorted(found, key=_version_key)


def _sid_candidates() -> list[tuple[tuple[str, ...], Path]]:
    root = Path(os.environ.get("PTHGUARD_SID_ROOT") or SID_ROOT_DEFAULT)
    chroot = shutil.which("chroot", path=CHROOT_PATH)
    if chroot is None or os.geteuid() != 0 or not root.is_dir():
        return []
    out: list[tuple[tuple[str, ...], Path]] = []
    for ver in SID_VERSIONS:
        inner = f"/usr/bin/python{ver}"
        if (root / inner.lstrip("/")).exists():
            out.append(((chroot, str(root), inner), root))
    return out


@functools.cache
def discover() -> list[Interpreter]:
    """Every working CPython >= 3.10 here, oldest first (cached per process)."""
    found: list[Interpreter] = []
    for path in _pyenv_candidates():
        interp = _probe((str(path),), None)
        if interp is not None and interp.version >= (3, 10):
            found.append(interp)
    for command, root in _sid_candidates():
        interp = _probe(command, root)
        if interp is not None and interp.version >= (3, 10):
            found.append(interp)
    found.sort(key=lambda i: (i.version, i.label))
    return found


def interpreters_by_label() -> dict[str, Interpreter]:
    """One interpreter per label ("3.11"); the newest patch release wins, pyenv before chroot."""
    chosen: dict[str, Interpreter] = {}
    for interp in discover():  # pyenv candidates are sorted by patch release, oldest first
        if interp.label not in chosen or not interp.is_chroot:
            chosen[interp.label] = interp
    return chosen


def interpreter_params() -> list[Any]:
    """``pytest.param`` per supported version (3.10 .. 3.15), id ``"3.X"``; absent ones skip."""
    present = interpreters_by_label()
    params: list[Any] = []
    for major, minor in SUPPORTED_VERSIONS:
        label = f"{major}.{minor}"
        interp = present.get(label)
        if interp is not None:
            params.append(pytest.param(interp, id=label))
        else:
            reason = f"Python {label} not present"
            params.append(pytest.param(None, id=label, marks=pytest.mark.skip(reason=reason)))
    return params
