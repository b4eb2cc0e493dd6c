"""The audit: pins against installed versions, markers for an interpreter, and a real venv
installed with ``pip install --require-hashes`` from the very lock it then audits."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker

from pthguard.errors import LockError
from pthguard.lock.audit import applies
from pthguard.lock.model import LockedPackage
from pthguard.lock.requirements import parse_requirements
from tests.conftest import run_cli
from tests.lock.common import H1, audit, findings, write
from tests.support.interpreters import Interpreter, interpreters_by_label
from tests.support.venvs import make_venv
from tests.support.wheels import build_wheel


def locked(version: str | None, marker: str | None = None, **fields: Any) -> LockedPackage:
    """A pin as a requirements file gives it."""
    made: dict[str, Any] = {
        "name": "a",
        "version": version,
        "arbitrary": False,
        "marker": marker,
        "parsed_marker": Marker(marker) if marker else None,
        "source": "pin",
        "file": "r.txt",
        "line": 1,
    }
    return LockedPackage(**{**made, **fields})


def test_several_locks_and_usage(tmp_path: Path) -> None:
    good = write(tmp_path / "good.txt", f"a==1 --hash=sha256:{H1}\n")
    bad = write(tmp_path / "bad.txt", "b>=1\n")
    code, doc = audit(good, bad)
    assert code == 1
    assert [lock["path"] for lock in doc["locks"]] == [str(good), str(bad)]
    assert findings(doc, 0) == []
    assert len(findings(doc, 1)) == 2
    proc = run_cli("audit-lock", good, bad, "--python", sys.executable)
    assert proc.returncode == 2
    assert "--python compares one lock file" in proc.stderr


# -- versions and markers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locked_version", "installed", "same"),
    [
        ("1.0", "1.0", True),
        ("1.0", "1.0.0", True),
        ("1.0", "1.0+cpu", True),  # ==1.0 accepts any local version
        ("1.0+cpu", "1.0", False),
        ("1.0+CPU-1", "1.0+cpu.1", True),
        ("1.0a1", "1.0alpha1", True),
        ("1.0.post1", "1.0-1", True),
        ("1.0", "1.1", False),
        ("1.0.dev1", "1.0", False),
        ("1!1.0", "1.0", False),
    ],
)
def test_versions_match(locked_version: str, installed: str, same: bool) -> None:
    assert locked(locked_version).accepts(installed) is same


def test_arbitrary_equality_compares_strings() -> None:
    assert locked("2024.1-weird", arbitrary=True).accepts("2024.1-WEIRD")
    assert not locked("1.0", arbitrary=True).accepts("1.0.0")


def test_canonical_version(tmp_path: Path) -> None:
    # pins and installed versions are compared in their PEP 440 normal form
    assert locked("1rc1.post2.dev3+ubuntu.1").accepts("V1.0.0-RC1.post2.dev3+Ubuntu-1")
    # and what is not a PEP 440 version is no == pin
    lock = write(tmp_path / "r.txt", "a==not.a.version\n")
    with pytest.raises(LockError, match=r"r\.txt:1: 'not\.a\.version' is not a PEP 440 version"):
        parse_requirements(lock)


ENV = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "implementation_name": "cpython",
    "os_name": "posix",
    "extra": "",
}


@pytest.mark.parametrize(
    ("marker", "holds"),
    [
        ("python_version >= '3.8'", True),
        ("python_version < '3.10'", False),  # versions, not strings: '3.11' < '3.10' is False
        ('python_full_version == "3.11.7"', True),
        ("python_version ~= '3.9'", True),
        ("python_version ~= '3.12'", False),
        ("sys_platform == 'win32' or (os_name == 'posix' and platform_system == 'Linux')", True),
        ("sys_platform != 'linux' and python_version > '2'", False),
        ("'linux' in sys_platform", True),
        ("'win' not in sys_platform", True),
        ("os.name == 'posix'", True),  # legacy spelling
        ("extra == 'test'", False),
    ],
)
def test_markers(marker: str, holds: bool) -> None:
    assert applies(locked("1", marker), ENV, kind="requirements", python="py") is holds


def test_marker_that_cannot_be_evaluated() -> None:
    # PEP 508: === is a version comparison; on a value that is not one it is an error
    with pytest.raises(LockError) as caught:
        applies(
            locked("1", "implementation_name === 'cpython'"), ENV, kind="requirements", python="py"
        )
    assert str(caught.value).startswith(
        "r.txt:1: cannot evaluate marker \"implementation_name === 'cpython'\" for py: "
    )


def test_pylock_markers_see_extras_and_groups() -> None:
    # PEP 751 lock-file markers: nothing selected by default
    package = locked("1", "'dev' in dependency_groups or python_version >= '3'", line=None)
    assert applies(package, ENV, kind="pylock", python="py")
    assert not applies(
        locked("1", "'dev' in dependency_groups", line=None), ENV, kind="pylock", python="py"
    )


# -- an environment against its lock -----------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def locked_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, dict[str, Path]]:
    interp: Interpreter | None = interpreters_by_label().get(
        f"{sys.version_info[0]}.{sys.version_info[1]}"
    )
    if interp is None:
        pytest.skip("no pyenv interpreter like the dev one")
    where = tmp_path_factory.mktemp("locked")
    wheels = {
        key: build_wheel(where / "wheels", name, version, files)
        for key, (name, version, files) in {
            "alpha-1.0": ("Alpha", "1.0", {"alpha/__init__.py": b""}),
            "alpha-2.0": ("Alpha", "2.0", {"alpha/__init__.py": b""}),
            "beta-1.0": ("beta.pkg", "1.0.0", {"beta_pkg.py": b""}),
            "gamma-1.0": ("gamma", "1.0", {"gamma.py": b""}),
            "hook-1.0": ("hook", "1.0", {"hook.pth": b"import os; open(os.environ['M'], 'w')\n"}),
        }.items()
    }
    lock = write(
        where / "requirements.txt",
        "# a lock as pip-compile writes it\n"
        f"alpha==1.0 \\\n    --hash=sha256:{_sha256(wheels['alpha-1.0'])}\n"
        f"beta-pkg==1.0 \\\n    --hash=sha256:{_sha256(wheels['beta-1.0'])}\n"
        f"hook==1.0 --hash=sha256:{_sha256(wheels['hook-1.0'])}\n"
        f"py2only==1.0 ; python_version < '3' --hash=sha256:{H1}\n",
    )
    venv = make_venv(interp, where / "venv", with_pip=False)
    venv.pip_install("--require-hashes", "--find-links", where / "wheels", "-r", lock)
    return venv, lock, wheels


def test_environment_installed_from_the_lock_passes(
    locked_venv: tuple[Any, Path, dict[str, Path]], tmp_path: Path
) -> None:
    venv, lock, _ = locked_venv
    marker = tmp_path / "ran"
    proc = run_cli("audit-lock", lock, "--python", venv.python, env={"M": str(marker)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == f"{lock}: 4 package(s), compared with {venv.python}: ok\n"
    assert not marker.exists()  # hook.pth's import line never ran: the target ran -S -I


def test_environment_drift(locked_venv: tuple[Any, Path, dict[str, Path]], tmp_path: Path) -> None:
    venv, lock, wheels = locked_venv
    drifted = write(
        tmp_path / "requirements.txt",
        lock.read_text().replace("beta-pkg==1.0", "beta-pkg==1.1")
        + f"delta==1.0 --hash=sha256:{H1}\n",
    )
    # same venv, a lock that says otherwise, plus a stray wheel installed (undone below)
    venv.pip_install("--no-deps", wheels["gamma-1.0"])
    try:
        code, doc = audit(drifted, "--python", venv.python)
    finally:
        venv.pip("uninstall", "-y", "-q", "gamma")
    assert code == 1
    assert doc["python"] == venv.python
    got = {(f["kind"], f["name"]): f for f in doc["locks"][0]["findings"]}
    assert set(got) == {
        ("not-locked", "gamma"),
        ("not-installed", "delta"),
        ("version-mismatch", "beta-pkg"),
    }
    assert got[("not-locked", "gamma")]["file"] == f"environment {venv.python}"
    assert got[("version-mismatch", "beta-pkg")]["message"].startswith(
        "locked 1.1, installed 1.0.0 ("
    )
    assert got[("version-mismatch", "beta-pkg")]["line"] == 4
    assert got[("not-installed", "delta")]["line"] == 8
