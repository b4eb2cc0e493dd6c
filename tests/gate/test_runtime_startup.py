"""Startup files that well-known tools write at run time, in a guarded environment.

* coverage 7.10-7.12 with ``[run] patch = subprocess`` writes ``subcover_<pid>.pth`` into the
  site directory while it runs: allowed by the exact template of the signed coverage's
  ``patch.py`` (real coverage 7.11.0 from the registry); any other bytes under that name are
  refused.
* ``uv run --with`` makes an ephemeral environment whose ``_uv_ephemeral_overlay.pth`` adds the
  guarded site directory with ``site.addsitedir``: refused, naming uv and the fix, and the
  report says the overlay line was EXECUTED (it was).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.guard import (
    assert_refused,
    line_with,
    make_guarded,
    marker_pth,
)
from tests.support.interpreters import Interpreter, interpreter_params
from tests.support.venvs import make_venv
from tests.support.wheelhouse import published_wheels

INTERPRETERS = interpreter_params()

MAIN = """\
import subprocess, sys
subprocess.run([sys.executable, "child.py"], check=True)
print("main done")
"""
CHILD = """\
def measured():
    return "child ran"
print(measured())
"""
RC = "[run]\npatch = subprocess\nparallel = true\nsource = .\n"


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_coverage_measures_subprocesses_of_a_guarded_environment(
    interp: Interpreter, tmp_path: Path
) -> None:
    g = make_guarded(interp, tmp_path, install=False)
    wheels = published_wheels(interp, "coverage==7.11.0")
    g.venv.pip_install("--find-links", wheels, "coverage==7.11.0")
    g.install()
    project = g.work / "project"
    project.mkdir()
    (project / "main.py").write_text(MAIN)
    (project / "child.py").write_text(CHILD)
    (project / ".coveragerc").write_text(RC)
    run = g.start("-m", "coverage", "run", "main.py", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == "child ran\nmain done\n"
    assert "pthguard" not in run.stderr, run.stderr
    assert not list(g.site_packages.glob("subcover_*.pth"))  # removed at exit, as coverage does
    combine = g.start("-m", "coverage", "combine", cwd=project)
    assert combine.returncode == 0, combine.stderr
    report = g.start("-m", "coverage", "report", "--include", "child.py", cwd=project)
    assert report.returncode == 0, report.stdout + report.stderr
    (row,) = [ln for ln in report.stdout.splitlines() if ln.startswith("child.py")]
    assert row.split()[-1] == "100%", report.stdout  # the subprocess was measured
    # the same name with other bytes is unlisted startup code: never run
    marker = g.marker("forged")
    (g.site_packages / "subcover_4242.pth").write_bytes(marker_pth(marker))
    assert_refused(g.start("-c", "pass"), "subcover_4242.pth", "NOT executed")
    assert not marker.exists()
    (g.site_packages / "subcover_4242.pth").unlink()
    # and the write guard lets only that name pattern through
    site = g.interp.inner_path(g.site_packages)
    proc = g.start("-c", f"open({site!r} + '/subcover_x.pth', 'w')")
    assert "pthguard: refused to write" in proc.stderr


OVERLAY = 'import site; site.addsitedir("{site}")'


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_uv_run_with_overlay_is_refused_naming_uv(interp: Interpreter, tmp_path: Path) -> None:
    """uv's ephemeral environment, as ``uv run --with`` writes it: another venv of the same
    base interpreter, whose overlay ``.pth`` adds the guarded site-packages."""
    g = make_guarded(interp, tmp_path)
    other = make_venv(interp, g.work / "ephemeral", with_pip=False)
    overlay = other.site_packages / "_uv_ephemeral_overlay.pth"
    overlay.write_text(OVERLAY.format(site=g.interp.inner_path(g.site_packages)))
    allowed_runs = g.marker("goodpth").count()
    proc = other.run(["-c", "print('ran')"])
    lines = assert_refused(
        proc,
        "was added to another environment",
        "(uv run --with)",
        f"pthguard change --python {g.venv.python} -- uv pip install PKG",
        f"run `pthguard verify --python {g.venv.python}`",
    )
    line = line_with(lines, "_uv_ephemeral_overlay.pth")
    assert line.endswith(" - EXECUTED"), line
    assert "NOT executed" not in proc.stderr
    assert g.marker("goodpth").count() == allowed_runs  # nothing of the guarded dir ran
    assert proc.stdout == ""
    # the guarded environment itself is untouched and starts as before
    assert g.start("-c", "pass").returncode == 0
