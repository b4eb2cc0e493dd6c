"""Signing judges what it signs, end to end: real wheels installed by pip, then ``protect
--yes`` (what ``scripts/guard PY --yes`` runs) as the README's next step after a change.

* real setuptools, coverage and pytest-cov ``.pth`` files (wheels from PyPI) are signed with
  no approval;
* each litellm-shaped stealer (base64 + exec, zlib + base64, a plain ``os.system`` line, an
  ``open`` line, a ``.pth`` that only imports a module shipped beside it, a wheel overwriting
  the ``_distutils_hack`` that setuptools' allowed ``.pth`` imports) arrives with an
  "upgrade": ``protect --yes`` exits 1 and signs nothing, the guarded interpreter keeps
  refusing to start and the payload never runs; with the approval the file is signed and the
  approval is recorded in the signed manifest;
* an ``uninstall`` loses neither the version sequence nor the review.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import zlib
from pathlib import Path

import pytest

from pthguard.cli.app import main
from pthguard.guard.protect import local_manifest_path
from tests.conftest import run_cli
from tests.support.guard import EXIT_REFUSED
from tests.support.interpreters import Interpreter
from tests.support.realfiles import real_files
from tests.support.venvs import Venv, make_venv
from tests.support.wheels import build_wheel, litellm_like_pth

pytestmark = pytest.mark.slow

REAL = ("setuptools-80.9.0", "coverage-7.14.0", "pytest_cov-4.1.0")


def protect(python: str, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["protect", "--python", python, "--yes", *extra], out=out)
    return code, out.getvalue()


def stealers(marker: str) -> dict[str, dict[str, bytes]]:
    """Files of a poisoned ``litellm 1.82.8`` wheel: each writes ``marker`` when it runs."""
    payload = f"open({marker!r}, 'a').write('ran\\n')\n".encode()
    zb64 = base64.b64encode(zlib.compress(payload)).decode()
    return {
        "base64+exec": {"litellm_init.pth": litellm_like_pth(marker)},
        "zlib+base64": {
            "litellm_init.pth": (
                f"import zlib, base64; exec(zlib.decompress(base64.b64decode('{zb64}')))\n"
            ).encode()
        },
        "os.system": {
            "litellm_init.pth": f"import os; os.system('echo ran >> {marker}')\n".encode()
        },
        "open": {"litellm_init.pth": f"import os; open({marker!r}, 'a').write('ran')\n".encode()},
        "imports a module beside it": {
            "litellm_init.pth": b"import litellm_helper\n",
            "litellm_helper.py": payload,
        },
        # pip overwrites setuptools' file without a word; the allowed distutils-precedence.pth
        # imports it at every start
        "overwrites _distutils_hack": {"_distutils_hack/__init__.py": payload},
    }


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "config"
    monkeypatch.setenv("PTHGUARD_CONFIG_DIR", str(directory))
    return directory


def real_venv(interp: Interpreter, where: Path) -> Venv:
    wheels = real_files().wheel_dir
    venv = make_venv(interp, where, with_pip=False)
    venv.pip_install("--no-deps", *(next(wheels.glob(f"{name}-*.whl")) for name in REAL))
    return venv


def start(python: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-c", "pass"], capture_output=True, text=True, check=False, timeout=120
    )


def test_real_startup_files_are_signed_without_approval(
    dev_interp: Interpreter, tmp_path: Path, config: Path
) -> None:
    venv = real_venv(dev_interp, tmp_path / "venv")
    python = venv.python
    names = sorted(p.name for p in venv.site_packages.glob("*.pth"))
    assert names == ["a1_coverage.pth", "distutils-precedence.pth", "pytest-cov.pth"]
    code, out = protect(python)
    assert code == 0, out
    signed = json.loads(local_manifest_path(python).read_bytes())["signed"]
    assert "approvals" not in signed
    assert run_cli("uninstall", "--python", python).returncode == 0


@pytest.mark.parametrize("shape", sorted(stealers("x")))
def test_an_upgrade_bringing_a_stealer_is_not_signed_by_yes(
    dev_interp: Interpreter, tmp_path: Path, config: Path, shape: str
) -> None:
    venv = real_venv(dev_interp, tmp_path / "venv")
    python = venv.python
    assert protect(python)[0] == 0
    copy = local_manifest_path(python)
    before = copy.read_bytes()
    marker = tmp_path / "ran"
    files = stealers(str(marker))[shape]
    wheel = build_wheel(tmp_path / "w", "litellm", "1.82.8", {"litellm/__init__.py": b"", **files})
    venv.pip_install(wheel)  # pip writes without running the guarded interpreter's code

    code, out = protect(python)
    assert code == 1, out
    assert "refusing to sign" in out
    assert "nothing was signed" in out
    assert "distribution litellm 1.82.8" in out
    hashes = [hashlib.sha256(data).hexdigest() for data in files.values()]
    for digest in hashes:
        assert f"--approve sha256:{digest}" in out
    assert copy.read_bytes() == before  # nothing signed, nothing installed
    assert run_cli("verify", "--python", python).returncode == 1
    guarded = start(python)
    assert guarded.returncode == EXIT_REFUSED, guarded.stderr
    # verify first, then run: refused before any allowed import line (the overwritten
    # _distutils_hack that setuptools' .pth imports included) runs
    if shape == "overwrites _distutils_hack":
        assert "unlisted distribution litellm 1.82.8" in guarded.stderr
    else:
        assert "NOT executed" in guarded.stderr
    assert not marker.exists(), "the payload ran"

    approvals = [arg for digest in hashes for arg in ("--approve", f"sha256:{digest}")]
    code, out = protect(python, *approvals)
    assert code == 0, out
    signed = json.loads(copy.read_bytes())["signed"]
    assert signed["version"] == 2
    assert sorted(a["sha256"] for a in signed["approvals"]) == sorted(hashes)
    assert {a["name"] for a in signed["approvals"]} == set(files)
    # the next protect keeps the approval while the file is unchanged
    code, out = protect(python)
    assert (code, out.splitlines()[0]) == (0, "nothing changed since manifest version 2; "
                                              "the guard stays as it is")  # fmt: skip
    assert run_cli("uninstall", "--python", python).returncode == 0


def test_history_survives_uninstall(dev_interp: Interpreter, tmp_path: Path, config: Path) -> None:
    venv = real_venv(dev_interp, tmp_path / "venv")
    python = venv.python
    assert protect(python)[0] == 0
    assert run_cli("uninstall", "--python", python).returncode == 0
    (venv.site_packages / "zz.pth").write_bytes(b"import os\n")
    code, out = protect(python)
    assert code == 1, out  # still reviewed against version 1
    assert "unlisted startup file" in out
    code, out = protect(python, "--approve", "sha256:" + hashlib.sha256(b"import os\n").hexdigest())
    assert code == 0, out
    assert "(version 2)" in out
    assert run_cli("uninstall", "--python", python).returncode == 0


def test_protect_after_uninstall_guards_again(
    dev_interp: Interpreter, tmp_path: Path, config: Path
) -> None:
    """Nothing changed, but the guard was uninstalled: protect installs it again (as the
    next version), never "stays as it is" on an unguarded environment."""
    venv = real_venv(dev_interp, tmp_path / "venv")
    python = venv.python
    assert protect(python)[0] == 0
    assert run_cli("uninstall", "--python", python).returncode == 0
    code, out = protect(python)
    assert code == 0, out
    assert out.startswith("not installed; nothing changed since manifest version 1")
    assert "(version 2)" in out
    assert run_cli("status", "--python", python).returncode == 0
    assert run_cli("uninstall", "--python", python).returncode == 0


def test_local_copies_never_collide(config: Path) -> None:
    assert local_manifest_path("/a_b/bin/python") != local_manifest_path("/a/b/bin/python")
