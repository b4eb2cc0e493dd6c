"""Guarded venvs: pthguard installed into real venvs, run from the side that owns them.

:class:`Guarded` is the one API the gate tests use: ``Guarded.pthguard(*args)`` runs the CLI,
``start()`` the venv's ``bin/python``, ``sealed()`` its sealed launcher (``python-guarded``).

Where pthguard runs:

* pyenv interpreters (host): the dev venv's own pthguard (``sys.executable -m pthguard``,
  the working tree through its editable install) with ``--python <venv python>``;
* chroot interpreters (3.14, 3.15): a *tool venv* inside the chroot,
  ``/tmp/pthguard-tool-3.X``, made with that interpreter, holding the runtime dependencies
  from ``requirements/runtime.lock`` (``pip install --require-hashes``, from PyPI), and
  pthguard itself, ``pip install --no-deps --no-build-isolation`` from a copy of
  ``pyproject.toml`` + ``README.md`` + ``pthguard/``, into a directory named by the sha256
  of those sources (``--target``; put on the tool's ``PYTHONPATH``). An ``fcntl`` lock
  serialises xdist workers and concurrent sessions: the first builds, the others reuse;
  a changed lock rebuilds the venv, a changed source tree installs pthguard again (~1 s)
  without disturbing a session still running the previous one.

Keys are made once per interpreter and process; every manifest is snapshotted and signed by
the CLI, as a release engineer would.

The base *recipe* of a guarded venv (:func:`make_guarded`): ``plainpkg`` (no startup files),
``goodpth`` (an allowlisted ``goodpth.pth``: an import line that appends a line to the
``goodpth`` marker, and a path line adding ``goodpth_extra/``), and on 3.15 ``goodstart``
(an allowlisted ``goodstart.start`` whose entry point appends to the ``goodstart`` marker).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.interpreters import (
    DEFAULT_TIMEOUT,
    CommandFailedError,
    EnvExtra,
    Interpreter,
    host_env,
)
from tests.support.venvs import Venv, make_venv
from tests.support.wheels import build_wheel

__all__ = [
    "EXIT_REFUSED",
    "Guarded",
    "Keys",
    "Marker",
    "Tool",
    "assert_refused",
    "base_wheels",
    "guarded_template",
    "keys_for",
    "line_with",
    "listing",
    "make_guarded",
    "marker_module",
    "marker_pth",
    "stock_template",
    "tool_for",
]

EXIT_REFUSED = 78
REPO = Path(__file__).resolve().parents[2]
TOOL_PREFIX = "/tmp/pthguard-tool-"
_STAMP = ".pthguard-tests-stamp"
#: The trust bundle sid-pythons.sh copies into the chroot (the host's, same path).
_CERT = "/etc/ssl/certs/ca-certificates.crt"


# -- where pthguard runs -------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    """pthguard's CLI for one interpreter: the dev venv's (host) or a chroot tool venv's."""

    interp: Interpreter
    python: str | None  # the tool venv's python inside the chroot; None: this interpreter
    package: str | None  # where pthguard is installed for the tool venv (on its PYTHONPATH)

    def run(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        env: EnvExtra | None = None,
        check: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """``pthguard *args``; ``Path`` arguments are host paths (translated for a chroot)."""
        if self.python is not None:
            return self.interp.run_program(
                [self.python, "-m", "pthguard", *args],
                env={"PYTHONPATH": self.package, **(env or {})},
                check=check,
                timeout=timeout,
            )
        argv = [sys.executable, "-m", "pthguard", *(os.fspath(a) for a in args)]
        proc = subprocess.run(
            argv,
            env=host_env(env),
            text=True,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise CommandFailedError(argv, proc)
        return proc


def _tree_digest(paths: Sequence[Path], base: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _package_sources() -> list[Path]:
    files = [REPO / "pyproject.toml"]
    if (REPO / "README.md").is_file():
        files.append(REPO / "README.md")
    files += [
        p for p in (REPO / "pthguard").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ]
    return files


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_chroot_tool(interp: Interpreter) -> tuple[str, str]:
    """Make (or reuse) the chroot's tool venv and this source tree's pthguard install.

    Returns the tool venv's python and the directory pthguard is installed in (both inner
    paths). The venv holds the locked dependencies only, rebuilt when the lock changes;
    pthguard goes into ``/tmp/pthguard-tool-3.X.pkgs/<sha256 of its sources>`` (``pip
    install --target``), so sessions of different trees never reinstall under each other.
    """
    inner = f"{TOOL_PREFIX}{interp.label}"
    venv_dir = interp.host_path(inner)
    python = f"{inner}/bin/python"
    lock = REPO / "requirements" / "runtime.lock"
    deps = _tree_digest([lock], REPO)
    sources = _package_sources()
    pkgs = interp.host_path(inner + ".pkgs")
    build = pkgs / _tree_digest(sources, REPO)[:16]
    pip = [python, "-m", "pip", "install", "-q", "--root-user-action=ignore"]
    pip_env = {"PIP_DEFAULT_TIMEOUT": "180", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if interp.host_path(_CERT).is_file():
        pip_env["PIP_CERT"] = _CERT
    with _locked(interp.host_path(inner + ".lock")):
        try:
            have = (venv_dir / _STAMP).read_text()
        except OSError:
            have = ""
        # bin/python links to the chroot's /usr/bin: lexists, not exists (host's view)
        if have != deps or not os.path.lexists(interp.host_path(python)):
            shutil.rmtree(venv_dir, ignore_errors=True)
            interp.run(["-m", "venv", venv_dir], check=True)
            (venv_dir / "runtime.lock").write_bytes(lock.read_bytes())
            interp.run_program(
                [*pip, "--require-hashes", "-r", venv_dir / "runtime.lock"],
                env=pip_env,
                check=True,
                timeout=900,
            )
            (venv_dir / _STAMP).write_text(deps)
        if not (build / _STAMP).exists():
            shutil.rmtree(build, ignore_errors=True)
            for path in sources:
                target = build / "src" / path.relative_to(REPO)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            if not (build / "src" / "README.md").exists():  # pyproject names it
                (build / "src" / "README.md").write_text("# pthguard\n")
            interp.run_program(
                [
                    *pip,
                    "--no-deps",
                    "--no-build-isolation",
                    "--target",
                    build / "site",
                    build / "src",
                ],
                env=pip_env,
                check=True,
            )
            (build / _STAMP).write_text("installed\n")
        (build / _STAMP).touch()
        for old in pkgs.iterdir():  # builds of other trees, unused for a day
            stamp = old / _STAMP
            if old != build and (not stamp.exists() or time.time() - stamp.stat().st_mtime > 86400):
                shutil.rmtree(old, ignore_errors=True)
    return python, interp.inner_path(build / "site")


@functools.cache
def tool_for(interp: Interpreter) -> Tool:
    """How to run pthguard for ``interp`` (built once per process, reused across them)."""
    if not interp.is_chroot:
        return Tool(interp, None, None)
    python, site = _build_chroot_tool(interp)
    return Tool(interp, python, site)


@dataclass(frozen=True)
class Keys:
    private: Path
    public: Path


@functools.cache
def keys_for(interp: Interpreter) -> Keys:
    """One signing key pair per interpreter and process, where the interpreter sees it."""
    where = interp.tmp_dir(f"keys-{interp.label}-")
    keys = Keys(where / "release.key", where / "release.pub")
    tool_for(interp).run(
        ["keygen", "--private-key", keys.private, "--public-key", keys.public, "--no-passphrase"],
        check=True,
    )
    return keys


# -- guarded venvs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    """A file that startup code appends a line to when it runs."""

    host: Path
    inner: str

    def count(self) -> int:
        try:
            return len(self.host.read_text().splitlines())
        except FileNotFoundError:
            return 0

    def exists(self) -> bool:
        return self.host.exists()


def marker_pth(marker: Marker, *path_lines: str) -> bytes:
    """A ``.pth`` with one import line that appends a line to ``marker`` (+ path lines)."""
    code = (
        f"import os; f = open({marker.inner!r}, 'a'); f.write(str(os.getpid()) + '\\n'); "
        "f.close()\n"
    )
    return (code + "".join(f"{p}\n" for p in path_lines)).encode()


def marker_module(marker: Marker, function: str = "hook") -> bytes:
    """A module whose body does nothing and whose ``function`` appends to ``marker``."""
    return (
        f"def {function}():\n"
        f"    with open({marker.inner!r}, 'a') as f:\n"
        "        f.write('ran\\n')\n"
    ).encode()


@dataclass
class Guarded:
    """A venv with its work directory (manifests, wheels, markers) and pthguard to guard it."""

    venv: Venv
    work: Path
    tool: Tool
    keys: Keys
    _manifests: list[Path] = field(default_factory=list)
    _launcher: str | None = None  # as the interpreter sees it

    @property
    def interp(self) -> Interpreter:
        return self.venv.interp

    @property
    def site_packages(self) -> Path:
        return self.venv.site_packages

    @property
    def launcher(self) -> Path:
        """The sealed launcher, where ``pthguard install`` said it put it (else where
        ``pthguard status`` says it is)."""
        if self._launcher is None:
            proc = self.pthguard("status", "--python", self.venv.python, "--format", "json")
            self._launcher = str(json.loads(proc.stdout)["launcher"])
        return self.interp.host_path(self._launcher)

    def marker(self, name: str) -> Marker:
        host = self.work / "markers" / name
        host.parent.mkdir(exist_ok=True)
        return Marker(host, self.interp.inner_path(host))

    def wheel(self, name: str, version: str, files: Mapping[str, bytes]) -> Path:
        return build_wheel(self.work / "wheels", name, version, files)

    def pip_install(self, *args: str | os.PathLike[str]) -> None:
        self.venv.pip_install(*args)

    # -- the CLI ---------------------------------------------------------------------------

    def pthguard(
        self, *args: str | os.PathLike[str], env: EnvExtra | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``pthguard *args`` on the interpreter's side (see the module docstring)."""
        return self.tool.run(args, env=env, check=check)

    def snapshot(self, path: Path, *snapshot_args: str, env: EnvExtra | None = None) -> None:
        """``pthguard snapshot`` of the venv to ``path``, approving the startup code its review
        lists (the tests plant startup code of their own on purpose), as a person would after
        reading the review."""
        snapshot: tuple[str | os.PathLike[str], ...] = (
            "snapshot",
            "--python",
            self.venv.python,
            "-o",
            path,
            *snapshot_args,
        )
        review = self.pthguard(*snapshot, "--format", "json", env=env)
        if review.returncode == 1:
            approvals = [
                arg
                for item in json.loads(review.stdout)["reviews"]
                if item["verdict"] == "needs-approval"
                for arg in ("--approve", item["approve_with"])
            ]
            self.pthguard(*snapshot, *approvals, env=env, check=True)
        else:
            assert review.returncode == 0, review.stdout + review.stderr

    def manifest(self, *snapshot_args: str) -> Path:
        """Snapshot the venv now and sign it: ``manifest-N.json`` in the work directory,
        version N (the Nth manifest of this venv) unless ``--version`` is given."""
        number = len(self._manifests) + 1
        path = self.work / f"manifest-{number}.json"
        self._manifests.append(path)
        if "--version" not in snapshot_args:
            snapshot_args = (*snapshot_args, "--version", str(number))
        self.snapshot(path, *snapshot_args)
        self.pthguard("sign", path, "--key", self.keys.private, check=True)
        return path

    def install(
        self, manifest: Path | None = None, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        manifest = manifest if manifest is not None else self.manifest()
        proc = self.pthguard(
            "install",
            "--python",
            self.venv.python,
            "--manifest",
            manifest,
            "--trust",
            self.keys.public,
            *args,
            check=check,
        )
        said = [ln for ln in proc.stdout.splitlines() if ln.startswith("  sealed launcher: ")]
        if proc.returncode == 0 and said:
            self._launcher = said[0].partition(": ")[2]
        return proc

    def uninstall(self, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.pthguard("uninstall", "--python", self.venv.python, check=check)

    # -- starting the guarded interpreter --------------------------------------------------

    def start(
        self, *args: str | os.PathLike[str], env: EnvExtra | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``bin/python *args`` (a normal start: the gate ``.pth`` runs inside ``site``)."""
        return self.venv.run(list(args), env=env, cwd=cwd)

    def sealed(
        self, *args: str | os.PathLike[str], env: EnvExtra | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The sealed launcher with ``*args`` (checks before ``site.main()``)."""
        launcher = self.interp.inner_path(self.launcher)
        return self.interp.run_program([launcher, *args], env=env, cwd=cwd)

    def installation(self) -> dict[str, object]:
        """``install.json`` of the (single) installation."""
        found = sorted(self.site_packages.glob(".pthguard-*/install.json"))
        assert len(found) == 1, found
        doc: dict[str, object] = json.loads(found[0].read_text())
        return doc

    def state_dir(self) -> Path:
        return self.interp.host_path(str(self.installation()["state_dir"]))


def assert_refused(proc: subprocess.CompletedProcess[str], *fragments: str) -> list[str]:
    """A refused start: exit 78, first stderr line ``pthguard:``, each fragment in stderr.
    Returns the stderr lines."""
    detail = f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert proc.returncode == EXIT_REFUSED, detail
    lines = proc.stderr.splitlines()
    assert lines, detail
    assert lines[0].startswith("pthguard:"), detail
    for fragment in fragments:
        assert fragment in proc.stderr, f"{fragment!r} not reported\n{detail}"
    return lines


def line_with(lines: Sequence[str], *fragments: str) -> str:
    """The one report line holding every fragment (a file name and its fate, say)."""
    found = [ln for ln in lines if all(f in ln for f in fragments)]
    assert len(found) == 1, f"{fragments} in {lines}"
    return found[0]


def listing(root: Path) -> dict[str, bytes | None]:
    """Every entry under ``root``: relative path -> bytes (files), None (dirs), link target."""
    out: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = os.readlink(path).encode()
        elif path.is_dir():
            out[rel] = None
        else:
            out[rel] = path.read_bytes()
    return out


def base_wheels(g: Guarded) -> list[Path]:
    """The recipe's wheels, with markers in ``g``'s work directory (module docstring)."""
    wheels = [
        g.wheel("plainpkg", "1.0", {"plainpkg/__init__.py": b"VALUE = 1\n"}),
        g.wheel(
            "goodpth",
            "1.0",
            {
                "goodpth.pth": marker_pth(g.marker("goodpth"), "goodpth_extra"),
                "goodpth_extra/extra_mod.py": b"EXTRA = 1\n",
            },
        ),
    ]
    if g.interp.version >= (3, 15):
        wheels.append(
            g.wheel(
                "goodstart",
                "1.0",
                {
                    "goodstart.start": b"goodstart_mod:hook\n",
                    "goodstart_mod.py": marker_module(g.marker("goodstart")),
                },
            )
        )
    return wheels


def make_guarded(
    interp: Interpreter,
    where: Path,
    *,
    install: bool = True,
    install_args: Sequence[str] = (),
    snapshot_args: Sequence[str] = (),
) -> Guarded:
    """A fresh venv at ``where`` (a host dir; a private one is used if the interpreter
    cannot see it) with the base recipe installed and, unless ``install=False``, guarded."""
    where = interp.visible_dir(where)
    venv = make_venv(interp, where / "venv", with_pip=False)
    g = Guarded(venv=venv, work=where, tool=tool_for(interp), keys=keys_for(interp))
    g.pip_install(*base_wheels(g))
    if install:
        g.install(g.manifest(*snapshot_args), *install_args)
    return g


_templates: dict[tuple[Interpreter, bool], Guarded] = {}


def _template(interp: Interpreter, factory: pytest.TempPathFactory, guarded: bool) -> Guarded:
    key = (interp, guarded)
    if key not in _templates:
        kind = "guarded" if guarded else "stock"
        where = interp.visible_dir(factory.mktemp(f"{kind}-{interp.label}"))
        _templates[key] = make_guarded(interp, where, install=guarded)
    return _templates[key]


def guarded_template(interp: Interpreter, factory: pytest.TempPathFactory) -> Guarded:
    """The base recipe, guarded: one per interpreter and process. Read-only: start it,
    inspect it; never change its files."""
    return _template(interp, factory, guarded=True)


def stock_template(interp: Interpreter, factory: pytest.TempPathFactory) -> Guarded:
    """The same recipe without the guard (its twin for comparisons). Read-only."""
    return _template(interp, factory, guarded=False)
