"""Fixtures of the manifest-core integration tests (test_probe, test_snapshot, test_cli).

Everything is real: venvs made by ``python -m venv``, wheels built by
:mod:`tests.support.wheels` and installed by pip, keys written by ``pthguard keygen``, and
the CLI run as the ``pthguard`` console script of the dev venv (or in-process through
:func:`pthguard.cli.app.main` where only the result matters).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pthguard.cli.app import main
from tests.support.interpreters import Interpreter, host_env, interpreters_by_label
from tests.support.venvs import Venv, make_venv
from tests.support.wheels import build_wheel

#: The ``pthguard`` console script and interpreter of the dev venv running the tests.
PTHGUARD_SCRIPT = Path(sys.executable).with_name("pthguard")
DEV_LABEL = f"{sys.version_info[0]}.{sys.version_info[1]}"

ALPHA_PTH = b"# alpha's startup hook\nimport alpha\n"
BETA_PY = b"def hello():\n    return 'beta'\n"
SITECUSTOMIZE = b"# shipped by the sitecust wheel\nSHIPPED = True\n"
SHARED_INIT = b"# both shared-a and shared-b ship this file\n"


def wheel_specs() -> dict[str, tuple[str, str, dict[str, bytes]]]:
    """Wheels of the tests: key -> (name, version, files)."""
    return {
        "alpha-1.0": (
            "alpha",
            "1.0",
            {"alpha/__init__.py": b"VERSION = '1.0'\n", "alpha.pth": ALPHA_PTH},
        ),
        "alpha-2.0": (
            "alpha",
            "2.0",
            {"alpha/__init__.py": b"VERSION = '2.0'\n", "alpha.pth": ALPHA_PTH},
        ),
        "beta-1.0": ("beta", "1.0", {"beta.py": BETA_PY}),
        "gamma-1.0": ("gamma", "1.0", {"gamma/__init__.py": b"GAMMA = 1\n"}),
        "sitecust-1.0": ("sitecust", "1.0", {"sitecustomize.py": SITECUSTOMIZE}),
        "shared-a-1.0": (
            "shared-a",
            "1.0",
            {"sharedpkg/__init__.py": SHARED_INIT, "shared_a.py": b"A = 1\n"},
        ),
        "shared-b-1.0": (
            "shared-b",
            "1.0",
            {"sharedpkg/__init__.py": SHARED_INIT, "shared_b.py": b"B = 1\n"},
        ),
    }


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every wheel of :func:`wheel_specs`, built once per worker."""
    out: dict[str, Path] = {}
    for key, (name, version, files) in wheel_specs().items():
        out[key] = build_wheel(tmp_path_factory.mktemp(f"wheel-{key}"), name, version, files)
    return out


@pytest.fixture(scope="session")
def dev_interp() -> Interpreter:
    """The interpreter of the dev venv (3.11 here), as a test-support Interpreter."""
    interp = interpreters_by_label().get(DEV_LABEL)
    if interp is None:
        pytest.skip(f"no pyenv Python {DEV_LABEL} to make venvs with")
    return interp


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


def keygen(directory: Path, name: str) -> KeyPair:
    """``pthguard keygen --no-passphrase`` (in-process) into ``directory``."""
    pair = KeyPair(directory / f"{name}.key", directory / f"{name}.pub")
    argv = ["keygen", "--private-key", str(pair.private), "--public-key", str(pair.public)]
    code = main([*argv, "--no-passphrase"], out=io.StringIO())
    assert code == 0
    return pair


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """An unencrypted release key pair (``release.key``/``release.pub``)."""
    return keygen(tmp_path_factory.mktemp("keys"), "release")


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """A second, unrelated key pair (``other.key``/``other.pub``)."""
    return keygen(tmp_path_factory.mktemp("other-keys"), "other")


CliRunner = Callable[..., "subprocess.CompletedProcess[str]"]


def run_cli(
    *args: str | Path,
    env: Mapping[str, str | None] | None = None,
    prefix: Sequence[str] = (),
    module: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run the ``pthguard`` console script (or ``python -m pthguard``) of the dev venv.

    The environment is the host's minus ``PYTHON*``/``PIP_*`` (and ``PTHGUARD_PASSPHRASE``),
    plus ``env``; ``prefix`` goes before the command (e.g. ``setpriv ...``).
    """
    command = [sys.executable, "-m", "pthguard"] if module else [str(PTHGUARD_SCRIPT)]
    extra: dict[str, str | None] = {"PTHGUARD_PASSPHRASE": None}
    extra.update(env or {})
    return subprocess.run(
        [*prefix, *command, *map(str, args)],
        env=host_env(extra),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def cli() -> CliRunner:
    """:func:`run_cli` as a fixture."""
    return run_cli


def main_ok(*argv: str | Path) -> str:
    """Run the CLI in-process, require exit 0, return its standard output."""
    out = io.StringIO()
    code = main([str(a) for a in argv], out=out)
    assert code == 0, out.getvalue()
    return out.getvalue()


def pending_approvals(review: dict[str, Any]) -> list[str]:
    """``--approve sha256:HEX`` for every file a ``pthguard-review/1`` document lists as
    needing an approval: what a person does after reading the review."""
    args: list[str] = []
    for item in review["reviews"]:
        if item["verdict"] == "needs-approval":
            args += ["--approve", item["approve_with"]]
    return args


def approvals_for(python: str | Path) -> list[str]:
    """The ``--approve`` options a snapshot of ``python``'s environment needs (read from the
    review of a snapshot that writes nothing)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = io.StringIO()
        argv = ["snapshot", "--python", str(python), "-o", f"{tmp}/m.json", "--format", "json"]
        code = main(argv, out=out, err=io.StringIO())
        assert code in (0, 1), out.getvalue()
        return pending_approvals(json.loads(out.getvalue()))


def snapshot_approved(*argv: str | Path) -> str:
    """``pthguard snapshot ARGV``, approving the startup code its review lists (the test
    environments hold startup code of their own on purpose); returns the standard output."""
    out = io.StringIO()
    code = main(
        ["snapshot", *(str(a) for a in argv), "--format", "json"], out=out, err=io.StringIO()
    )
    if code == 1:
        return main_ok("snapshot", *argv, *pending_approvals(json.loads(out.getvalue())))
    assert code == 0, out.getvalue()
    return main_ok("snapshot", *argv)


@dataclass(frozen=True)
class Guarded:
    """A venv (alpha 1.0 + beta 1.0) with a manifest signed by ``keys``."""

    venv: Venv
    manifest: Path
    keys: KeyPair

    @property
    def site(self) -> str:
        return str(self.venv.site_packages)

    def verify(self, *extra: str, fmt: str = "text") -> subprocess.CompletedProcess[str]:
        return run_cli(
            "verify",
            "--python",
            self.venv.python,
            "--manifest",
            self.manifest,
            "--trust",
            self.keys.public,
            "--format",
            fmt,
            *extra,
        )

    def verify_json(self, *extra: str) -> tuple[int, dict[str, Any]]:
        proc = self.verify(*extra, fmt="json")
        assert proc.stderr == "", proc.stderr
        return proc.returncode, json.loads(proc.stdout)


def make_guarded(
    interp: Interpreter, where: Path, wheels: Sequence[Path], keys: KeyPair
) -> Guarded:
    venv = make_venv(interp, where / "venv", with_pip=False)
    if wheels:
        venv.pip_install(*wheels)
    manifest = where / "manifest.json"
    snapshot_approved("--python", venv.python, "-o", manifest)
    main_ok("sign", manifest, "--key", keys.private)
    return Guarded(venv, manifest, keys)


@pytest.fixture
def guarded(
    dev_interp: Interpreter, tmp_path: Path, wheelhouse: dict[str, Path], keys: KeyPair
) -> Guarded:
    """A fresh :class:`Guarded` venv for a test that changes it."""
    return make_guarded(
        dev_interp, tmp_path, [wheelhouse["alpha-1.0"], wheelhouse["beta-1.0"]], keys
    )


def differences(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(category, change, subject)`` of every difference of a verify/diff JSON report."""
    return [(d["category"], d["change"], d["subject"]) for d in doc["differences"]]
