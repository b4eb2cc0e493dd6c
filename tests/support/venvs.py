"""Real virtual environments on every interpreter, and ``pip install --no-index`` into them.

Strategy (measured on this 2-core machine: median of 3 wall-clock runs; "runner" = pip from
the interpreter's own bundled wheel, unpacked once per process, run by the venv's python)::

                                          3.10  3.11  3.12  3.13  3.14  3.15
    python -m venv (ensurepip)            2.72  2.45  2.20  1.81  1.63  1.24 s
    make_venv(with_pip=False)             0.03  0.04  0.03  0.04  0.04  0.03 s
    make_venv(with_pip=True)              1.20  1.06  1.23  0.99  0.81  0.91 s
      (runner installs the pip wheel; ~0.8 s of it is byte-compiling pip)
    pip install one small wheel           0.36  0.34  0.33  0.36  0.26  0.33 s (runner)
                                          0.31  0.36  0.35  0.34  0.31  0.31 s (venv's pip)
    extract the runner (once per process) 0.05-0.07 s
    pip --version: installed or runner 0.15 s; from the zipped wheel
      (PYTHONPATH=pip.whl) 0.5-0.8 s per call, just to import pip.

* :func:`make_venv` always runs ``python -m venv --without-pip`` (20-40 ms). With
  ``with_pip=True`` (the default, ~1 s) it then installs pip from the interpreter's bundled
  wheel with a real ``pip install --no-index`` (correct RECORD, ``bin/pip*`` scripts,
  byte-compiled): faster than ensurepip and the same on every version: only ``pip`` is
  installed, whereas ensurepip adds setuptools (and its ``distutils-precedence.pth``) on
  3.10/3.11. Tests that want setuptools install :func:`bundled_wheel` ``(interp,
  "setuptools")`` themselves (present for 3.10, 3.11, 3.14, 3.15).
* Tests that only need to install wheels should pass ``with_pip=False``: :meth:`Venv.pip`
  then uses the *runner* -- only the ``pip/`` package of the bundled wheel (no
  ``.dist-info``, so pip does not see itself as installed), extracted into a per-process
  directory and run as ``<venv python> -I <runner>/pip ...``. It starts as fast as an
  installed pip and installs into the venv exactly as the venv's own pip would.
* Rejected: ``pip --python`` from a template venv (same 1.1-1.2 s to install pip, plus a
  template per interpreter), running pip from the zipped wheel (0.5-0.8 s per call just to
  import), cloning venvs (hard-coded paths in ``pyvenv.cfg`` and script shebangs; copying
  pip breaks its RECORD hashes for ``bin/pip*``).
* Debian sid (chroot): ``python3.X-venv`` depends on ``python3-pip-whl``, so the pip wheel
  is in ``/usr/share/python-wheels`` (sysconfig ``WHEEL_PKG_DIR``; Debian strips
  ``ensurepip/_bundled``) and ensurepip works; nothing beyond ``sid-pythons.sh`` is needed.

pip always runs the venv's own interpreter, so it executes the venv's startup code (``.pth``
import lines, a pthguard gate) like any real ``pip install`` would. Every pip call is
``--isolated --no-index --disable-pip-version-check --no-cache-dir``; the host's ``PIP_*``
and ``PYTHON*`` variables are dropped (see ``interpreters``).

:func:`template_venv` caches one pristine venv (with pip) per interpreter per process
(= per xdist worker) for tests that only read or run it: never install into it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import subprocess
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.interpreters import DEFAULT_TIMEOUT, EnvExtra, Interpreter

__all__ = [
    "PIP_COMMON",
    "Venv",
    "bundled_wheel",
    "make_venv",
    "pip_runner",
    "template_venv",
    "unguarded_writes",
]

#: Options of every ``pip install`` the tests run.
PIP_COMMON = (
    "--isolated",
    "--no-index",
    "--disable-pip-version-check",
    "--no-cache-dir",
    "--root-user-action=ignore",
    "-q",
)


@dataclass(frozen=True)
class Venv:
    """A virtual environment made by :func:`make_venv`.

    ``root`` and ``site_packages`` are host paths; ``python`` is ``bin/python`` as the
    interpreter sees it (inside the chroot for sid interpreters).
    """

    interp: Interpreter
    root: Path
    python: str
    site_packages: Path
    has_pip: bool

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    def inner_path(self, host: str | os.PathLike[str]) -> str:
        return self.interp.inner_path(host)

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
        """Run the venv's python with ``args`` (see :meth:`Interpreter.run`)."""
        return self.interp.run_program(
            [self.python, *args], env=env, cwd=cwd, input=input, timeout=timeout, check=check
        )

    def pip(
        self,
        *args: str | os.PathLike[str],
        check: bool = True,
        env: EnvExtra | None = None,
        guarded: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run pip (the venv's own, else the runner) in this venv: ``pip(*args)``.

        In a guarded venv the write guard refuses pip's writes; unless ``guarded``, pip runs
        as an installer the guard does not see (uv, an image layer written elsewhere) would
        write: with a change token (:func:`unguarded_writes`). Its start is still gated:
        unlisted startup code never runs in it."""
        if self.has_pip:
            launch: list[str | os.PathLike[str]] = ["-I", "-m", "pip"]
        else:
            launch = ["-I", pip_runner(self.interp)]
        if guarded:
            return self.run([*launch, *args], check=check, env=env)
        with unguarded_writes(self.site_packages) as token:
            return self.run([*launch, *args], check=check, env={**(env or {}), **token})

    def pip_install(
        self,
        *args: str | os.PathLike[str],
        check: bool = True,
        env: EnvExtra | None = None,
        guarded: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """``pip install`` + :data:`PIP_COMMON` + ``args`` (wheel paths may be host Paths)."""
        return self.pip("install", *PIP_COMMON, *args, check=check, env=env, guarded=guarded)


@contextlib.contextmanager
def unguarded_writes(site_packages: Path) -> Iterator[dict[str, str]]:
    """A change token for the guarded environment of ``site_packages`` (as ``pthguard
    change`` writes one), as extra environment variables; none when it is not guarded."""
    states = [p.parent for p in site_packages.glob(".pthguard-*/install.json")]
    if not states:
        yield {}
        return
    token = secrets.token_hex(32)
    path = states[0] / "change"
    path.write_text(f"{token}\n{{}}\n")
    try:
        yield {"PTHGUARD_CHANGE": token}
    finally:
        path.unlink(missing_ok=True)


def _wheel_version(path: Path) -> tuple[int, ...]:
    version = path.name.split("-")[1]
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.+]", version))


@functools.cache
def _wheel_dirs(interp: Interpreter) -> tuple[Path, ...]:
    """Where this interpreter's ensurepip looks for wheels (host paths), preferred first."""
    code = (
        "import sysconfig; print(sysconfig.get_config_var('WHEEL_PKG_DIR') or '');"
        "print(sysconfig.get_path('stdlib'))"
    )
    proc = interp.run(["-I", "-S", "-c", code], check=True)
    pkg_dir, stdlib = proc.stdout.splitlines()[:2]
    dirs = [interp.host_path(pkg_dir)] if pkg_dir else []
    dirs.append(interp.host_path(stdlib) / "ensurepip" / "_bundled")
    return tuple(dirs)


def bundled_wheel(interp: Interpreter, project: str) -> Path | None:
    """The newest ``{project}-*.whl`` that the interpreter's ensurepip would use (host path)."""
    for directory in _wheel_dirs(interp):
        found = sorted(directory.glob(f"{project}-*.whl"), key=_wheel_version)
        if found:
            return found[-1]
    return None


@functools.cache
def pip_runner(interp: Interpreter) -> Path:
    """Host path of a per-process ``pip/`` package extracted from the bundled pip wheel.

    Run it as ``<python> -I <this path> ...`` (its ``__main__`` puts its parent on
    ``sys.path``). Only ``pip/`` is extracted, not ``.dist-info``: the venv's pip metadata
    is not shadowed, and installing the pip wheel itself works.
    """
    wheel = bundled_wheel(interp, "pip")
    if wheel is None:
        raise RuntimeError(f"{interp}: no bundled pip wheel in {_wheel_dirs(interp)}")
    target = interp.tmp_dir(f"pip-runner-{interp.label}-")
    with zipfile.ZipFile(wheel) as zf:
        members = [n for n in zf.namelist() if n.startswith("pip/")]
        zf.extractall(target, members=members)
    return target / "pip"


def make_venv(
    interp: Interpreter,
    where: Path,
    *,
    system_site_packages: bool = False,
    with_pip: bool = True,
) -> Venv:
    """Create a venv at ``where`` (a host path the interpreter can see; for a chroot, under
    its root: use :meth:`Interpreter.visible_dir`) and return it."""
    args: list[str | os.PathLike[str]] = ["-I", "-m", "venv", "--without-pip"]
    if system_site_packages:
        args.append("--system-site-packages")
    interp.run([*args, where], check=True)
    tag = interp.stdlib_tag + ("t" if interp.label.endswith("t") else "")
    site_packages = where / "lib" / tag / "site-packages"
    if not site_packages.is_dir():
        raise RuntimeError(f"{interp}: venv {where} has no {site_packages}")
    venv = Venv(
        interp=interp,
        root=where,
        python=interp.inner_path(where / "bin" / "python"),
        site_packages=site_packages,
        has_pip=False,
    )
    if not with_pip:
        return venv
    wheel = bundled_wheel(interp, "pip")
    if wheel is None:
        raise RuntimeError(f"{interp}: no bundled pip wheel in {_wheel_dirs(interp)}")
    # --ignore-installed: with system site-packages the base's own pip would "satisfy" it
    venv.pip_install("--ignore-installed", wheel)
    return Venv(interp, where, venv.python, site_packages, has_pip=True)


_templates: dict[Interpreter, Venv] = {}


def template_venv(interp: Interpreter, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """One pristine venv with pip per interpreter per process (per xdist worker). Read-only
    by convention: run it, inspect it, never install into it."""
    venv = _templates.get(interp)
    if venv is None:
        if interp.is_chroot:
            base = interp.tmp_dir(f"template-{interp.label}-")
        else:
            base = tmp_path_factory.mktemp(f"template-{interp.label}")
        venv = make_venv(interp, base / "venv", with_pip=True)
        _templates[interp] = venv
    return venv
