"""pthguard.environment.probe on real interpreters: where startup code lives, running none.

Every interpreter present is covered (3.14/3.15 in the sid chroot): :data:`PROBE_SOURCE` is
run exactly as :func:`pthguard.environment.probe.probe` runs it (``-S -I -c``) through the test
support, and its answer is checked against the ``sys.path`` a normal start of the same
interpreter builds. ``test_scan_inside_target`` also runs pthguard's own probe + scan inside
each interpreter (a copy of the package, standard library only), so the chroot interpreters
are scanned by the real code too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import packaging
import pytest

import pthguard
from pthguard.environment.probe import (
    PROBE_SOURCE,
    PendingProbe,
    Probe,
    probe,
    read_answer,
    start,
)
from pthguard.errors import PthguardError, ScanError
from pthguard.guard.verify import verify
from tests.support.interpreters import Interpreter, interpreter_params
from tests.support.venvs import Venv, make_venv
from tests.support.wheels import litellm_like_pth

PY_SYS_PATH = "import sys, json; print(json.dumps(sys.path))"


def run_probe(interp: Interpreter, python: str, home: str | None = None) -> Probe:
    """PROBE_SOURCE run by ``python`` (inner path) the way ``probe()`` runs it."""
    env = {"HOME": home} if home is not None else None
    proc = interp.run_program([python, "-S", "-I", "-c", PROBE_SOURCE], env=env, check=True)
    return read_answer(python, proc.stdout)


def plant_marker(interp: Interpreter, site: Path, name: str = "zz-marker.pth") -> Path:
    """A litellm-shaped ``.pth`` in ``site`` that appends to a marker file when it runs;
    returns the marker's host path (absent until the import line runs)."""
    marker = site.parent / f"{name}.ran"
    (site / name).write_bytes(litellm_like_pth(interp.inner_path(marker)))
    return marker


def user_site_of(interp: Interpreter, home: Path) -> Path:
    """``~/.local/lib/python3.X/site-packages`` under ``home`` (host path), created."""
    path = home / ".local" / "lib" / interp.stdlib_tag / "site-packages"
    path.mkdir(parents=True)
    return path


def site_order(paths: list[str], sys_path: list[str]) -> list[str]:
    """The entries of ``paths`` in the order they appear on ``sys_path``."""
    return [p for p in sys_path if p in set(paths)]


@pytest.mark.parametrize("interp", interpreter_params())
def test_probe_venv(interp: Interpreter, tmp_path: Path) -> None:
    """A venv without system site-packages: one site dir (role venv), no user site, the
    venv's prefix and pyvenv.cfg; its .pth is never run by the probe."""
    where = interp.visible_dir(tmp_path)
    venv = make_venv(interp, where / "venv", with_pip=False)
    marker = plant_marker(interp, venv.site_packages)
    found = run_probe(interp, venv.python)
    assert not marker.exists(), "the probe ran the venv's .pth"

    assert found.version[:2] == interp.version
    assert found.implementation == "cpython"
    assert found.pyvenv_cfg == interp.inner_path(venv.root / "pyvenv.cfg")
    assert found.prefix == interp.inner_path(venv.root)
    assert found.include_system_site_packages is False
    assert found.user_site_enabled is False
    # Debian's site.getsitepackages() adds local/lib/python3.X/dist-packages,
    # lib/python3/dist-packages and lib/python3.X/dist-packages of the venv prefix (absent
    # here); site.main() would process them too, so the probe lists them.
    venv_site = interp.inner_path(venv.site_packages)
    assert {d.role for d in found.site_dirs} == {"venv"}
    assert found.site_dirs[0].path == venv_site
    assert all(d.path.startswith(found.prefix + "/") for d in found.site_dirs)
    assert [d.path for d in found.site_dirs if d.exists] == [venv_site]
    if not interp.is_chroot:
        assert len(found.site_dirs) == 1
    assert found.purelib == interp.inner_path(venv.site_packages)
    # -S: no site directory on sys.path, only the standard library
    assert interp.inner_path(venv.site_packages) not in found.sys_path

    # A normal start processes the same directory (and runs the .pth: the marker proves the
    # marker works, so its absence above means something).
    real = json.loads(venv.run(["-c", PY_SYS_PATH], check=True).stdout)
    assert interp.inner_path(venv.site_packages) in real
    assert marker.exists()


@pytest.mark.parametrize("interp", interpreter_params())
def test_probe_venv_with_system_site_packages(interp: Interpreter, tmp_path: Path) -> None:
    """include-system-site-packages = true: venv, then user site (enabled), then the base's
    system site dirs, in the order a normal start puts them on sys.path; no .pth of any of
    them (venv or user site) runs."""
    where = interp.visible_dir(tmp_path)
    venv = make_venv(interp, where / "venv", system_site_packages=True, with_pip=False)
    home = where / "home"
    user_site = user_site_of(interp, home)
    venv_marker = plant_marker(interp, venv.site_packages)
    user_marker = plant_marker(interp, user_site, "user-marker.pth")
    inner_home = interp.inner_path(home)

    found = run_probe(interp, venv.python, home=inner_home)
    assert not venv_marker.exists()
    assert not user_marker.exists()

    assert found.include_system_site_packages is True
    assert found.user_site_enabled is True
    assert found.user_site == interp.inner_path(user_site)
    roles = "".join(d.role[0] for d in found.site_dirs)  # venv, user, system
    assert re.fullmatch(r"v+us+", roles), roles
    user_index = roles.index("u")
    assert found.site_dirs[0].path == interp.inner_path(venv.site_packages)
    assert found.site_dirs[user_index].path == interp.inner_path(user_site)
    assert found.prefix == interp.inner_path(venv.root)

    real = json.loads(venv.run(["-c", PY_SYS_PATH], env={"HOME": inner_home}).stdout)
    existing = [d.path for d in found.site_dirs if d.exists]
    assert site_order(existing, real) == existing
    # the probe's "exists" is true exactly for the dirs a normal start put on sys.path
    missing = [d.path for d in found.site_dirs if not d.exists]
    assert not set(missing) & set(real)
    assert venv_marker.exists()
    assert user_marker.exists()

    # PYTHONNOUSERSITE turns the user site off, as it does for site.py
    off = interp.run_program(
        [venv.python, "-S", "-I", "-c", PROBE_SOURCE],
        env={"HOME": inner_home, "PYTHONNOUSERSITE": "1"},
        check=True,
    )
    no_user = read_answer(venv.python, off.stdout)
    assert no_user.user_site_enabled is False
    assert "user" not in [d.role for d in no_user.site_dirs]


@pytest.mark.parametrize("interp", interpreter_params())
def test_probe_base_interpreter(interp: Interpreter, tmp_path: Path) -> None:
    """No venv: no pyvenv.cfg, the base prefix, user site then system site dirs."""
    home = interp.visible_dir(tmp_path) / "home"
    home.mkdir()
    inner_home = interp.inner_path(home)
    found = run_probe(interp, interp.executable, home=inner_home)
    assert found.pyvenv_cfg is None
    assert found.prefix == found.base_prefix
    assert found.include_system_site_packages is True
    assert found.user_site_enabled is True
    assert found.site_dirs[0].role == "user"
    assert {d.role for d in found.site_dirs[1:]} == {"system"}
    real = json.loads(interp.run(["-c", PY_SYS_PATH], env={"HOME": inner_home}).stdout)
    existing = [d.path for d in found.site_dirs if d.exists]
    assert existing, "a base interpreter has at least one site-packages directory"
    assert site_order(existing, real) == existing


SCAN_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from pthguard.manifest import model as _model
from pthguard.environment import probe as _probe
from pthguard.environment import snapshot as _snapshot
from pthguard.render.findings import environment_word
snap = _snapshot.scan(_probe.probe(sys.argv[2]))
manifest = _snapshot.to_manifest(
    snap, version=1, created="2026-01-01T00:00:00Z", expires="2027-01-01T00:00:00Z",
    policy=_model.Policy(),
)
print(json.dumps({
    "manifest": manifest.to_dict(),
    "findings": [[environment_word(f), f.path, f.message] for f in snap.findings],
}))
"""


def scan_inside(interp: Interpreter, where: Path, venv: Venv) -> dict[str, Any]:
    """pthguard's probe + scan, run by ``interp`` itself (a copy of the package, and of
    ``packaging``, its one pure-Python dependency here) on ``venv``."""
    lib = where / "lib"
    for package in (pthguard, packaging):
        shutil.copytree(
            Path(str(package.__file__)).parent,
            lib / package.__name__,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    proc = interp.run(["-I", "-c", SCAN_SCRIPT, lib, venv.python], check=True)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.parametrize("interp", interpreter_params())
def test_scan_inside_target(interp: Interpreter, tmp_path: Path) -> None:
    """pthguard's probe and scan, on every interpreter (inside the chroot for 3.14/3.15):
    the .pth and the .start file (3.15 reads it, older versions ignore it) are listed with
    their code lines, and neither runs."""
    where = interp.visible_dir(tmp_path)
    venv = make_venv(interp, where / "venv", with_pip=False)
    marker = plant_marker(interp, venv.site_packages)
    (venv.site_packages / "hook.start").write_bytes(b"# entry points\nhookmod:main\n")
    (venv.site_packages / "hookmod.py").write_bytes(
        f"open({interp.inner_path(marker)!r}, 'a').write('start\\n')\ndef main(): pass\n".encode()
    )
    result = scan_inside(interp, where, venv)
    assert not marker.exists(), "scanning ran the venv's startup code"
    assert result["findings"] == []
    (site,) = result["manifest"]["site_dirs"]
    assert site["path"] == interp.inner_path(venv.site_packages)
    assert site["role"] == "venv"
    by_name = {f["name"]: f for f in site["startup_files"]}
    pth_line = litellm_like_pth("x").decode().split("exec(")[0]
    assert by_name["zz-marker.pth"]["code_lines"][0].startswith(pth_line)
    assert by_name["zz-marker.pth"]["owner"] is None
    if interp.version >= (3, 15):
        assert by_name["hook.start"]["code_lines"] == ["hookmod:main"]
    else:
        assert "hook.start" not in by_name
    assert sorted(site["unclaimed"]) == ["hookmod.py"]
    assert result["manifest"]["environment"]["python_version"].startswith(
        "{}.{}.".format(*interp.version)
    )


@pytest.mark.parametrize("interp", [p for p in interpreter_params() if p.id == "3.15"])
def test_scan_inside_target_non_utf8_start_file(interp: Interpreter, tmp_path: Path) -> None:
    """A ``.start`` file (read from 3.15 on) that is not UTF-8 (3.15 ignores it) does not
    crash the scan."""
    where = interp.visible_dir(tmp_path)
    venv = make_venv(interp, where / "venv", with_pip=False)
    data = b"mod:\xff\xfe\n"
    (venv.site_packages / "bad.start").write_bytes(data)
    result = scan_inside(interp, where, venv)
    (site,) = result["manifest"]["site_dirs"]
    (entry,) = site["startup_files"]
    # Observed: it is allowlisted by its exact bytes, with no entry points (3.15 runs none),
    # and a warning says why.
    assert entry["name"] == "bad.start"
    assert entry["size"] == len(data)
    assert entry["code_lines"] == []
    assert [f[0] for f in result["findings"]] == ["warning"]
    assert "not UTF-8" in result["findings"][0][2]


def test_probe_function_host(dev_interp: Interpreter, tmp_path: Path) -> None:
    """pthguard's own ``probe(python)`` for a venv of the dev interpreter."""
    venv = make_venv(dev_interp, tmp_path / "venv", with_pip=False)
    marker = plant_marker(dev_interp, venv.site_packages)
    found = probe(venv.python)
    assert not marker.exists()
    assert found.executable == venv.python
    assert [d.path for d in found.site_dirs] == [str(venv.site_packages)]
    assert found == run_probe(dev_interp, venv.python, home=os.environ.get("HOME"))


def test_probe_missing_interpreter(tmp_path: Path) -> None:
    with pytest.raises(ScanError) as info:
        probe(str(tmp_path / "nope" / "python"))
    assert info.value.diagnostics().endswith("does not exist; check --python")


def test_probe_directory(tmp_path: Path) -> None:
    """A venv's directory for --python: say so and name its interpreter, not EACCES."""
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").write_text("")
    with pytest.raises(ScanError) as info:
        probe(str(tmp_path / "venv"))
    assert info.value.diagnostics() == (
        f"{tmp_path}/venv is a directory, not an interpreter; "
        f"pass --python {tmp_path}/venv/bin/python"
    )
    with pytest.raises(ScanError) as info:
        probe(str(tmp_path / "venv" / "bin"))
    assert info.value.diagnostics().endswith(
        "is a directory, not an interpreter; pass the interpreter of the environment "
        "(e.g. --python VENV/bin/python)"
    )


def test_probe_failing_interpreter(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'it broke' >&2\nexit 4\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(ScanError, match=r"failed to report its paths: it broke"):
        probe(str(fake))


def test_probe_unreadable_answer(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho \'{"implementation": "cpython"}\'\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(ScanError, match=r"gave an unreadable answer"):
        probe(str(fake))


@pytest.mark.parametrize(
    "answer",
    [
        "__import__('os').system('true')",  # not a literal: never evaluated
        "[" * 100_000,
        "-" * 100_000 + "1",
        "['a list']",
        "{'implementation': 'cpython', 'version': 'x'}",
    ],
)
def test_probe_answer_that_is_not_a_probe(answer: str) -> None:
    with pytest.raises(ScanError, match=r"gave an unreadable answer"):
        read_answer("python", answer)


LOCALE_OF = "import locale; print(locale.getpreferredencoding(False))"


@pytest.mark.parametrize("interp", interpreter_params())
@pytest.mark.parametrize(
    ("environ", "flags"),
    [
        ({"LC_ALL": "C"}, ()),
        ({"LC_ALL": "C.UTF-8"}, ()),
        ({"LC_ALL": "POSIX"}, ("-X", "utf8")),
        ({"LC_ALL": "C"}, ("-X", "utf8=0")),
    ],
)
def test_probe_locale_encoding_is_locales(
    interp: Interpreter, environ: dict[str, str], flags: tuple[str, ...]
) -> None:
    """The probe reads the locale encoding without importing ``locale``: what
    ``locale.getpreferredencoding(False)`` says under the same locale and flags."""
    found = interp.run(["-S", "-I", *flags, "-c", PROBE_SOURCE], env=environ)
    expected = interp.run(["-S", "-I", *flags, "-c", LOCALE_OF], env=environ)
    assert found.returncode == expected.returncode == 0, found.stderr + expected.stderr
    answer = read_answer(interp.executable, found.stdout)
    assert answer.locale_encoding == expected.stdout.strip()


def test_probe_not_executable(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("not a program\n")
    fake.chmod(0o644)
    with pytest.raises(ScanError) as info:
        probe(str(fake))
    assert re.fullmatch(
        r"cannot run interpreter .*Permission denied.*; check --python", info.value.diagnostics()
    )


def _sleeper(tmp_path: Path) -> tuple[Path, Path]:
    """A fake interpreter that writes its pid and then sleeps (a probe that never answers)."""
    pid_file = tmp_path / "pid"
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    fake.chmod(0o755)
    return fake, pid_file


def _wait_for(path: Path) -> int:
    for _ in range(500):
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.01)
    raise AssertionError(f"{path} was never written")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_started_probe_raises_when_its_answer_is_collected(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "python"
    pending = start(str(missing))  # nothing raised yet
    with pytest.raises(ScanError, match="does not exist") as later:
        pending.result()
    with pytest.raises(ScanError) as now:
        probe(str(missing))
    assert later.value.diagnostics() == now.value.diagnostics()
    with pytest.raises(ScanError, match="is a directory"):
        start(str(tmp_path)).result()


def test_an_uncollected_probe_is_stopped(tmp_path: Path) -> None:
    fake, pid_file = _sleeper(tmp_path)
    with start(str(fake)):
        pid = _wait_for(pid_file)
        assert not _gone(pid)
    assert _gone(pid)


def test_verify_reports_the_manifest_error_first_and_stops_the_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --manifest and --trust given, a missing manifest is reported as it always was
    (before anything the interpreter says), and the probe started meanwhile does not outlive
    the command (it was stopped and reaped)."""
    fake, _ = _sleeper(tmp_path)
    started: list[PendingProbe] = []

    def recorded(python: str | None) -> PendingProbe:
        started.append(PendingProbe(python))
        return started[-1]

    monkeypatch.setattr("pthguard.guard.verify._probe.start", recorded)
    key = tmp_path / "k.pub"
    key.write_bytes(b"")
    with pytest.raises(PthguardError, match="does not exist") as info:
        verify(str(fake), tmp_path / "missing.json", [key], now=dt.datetime.now(dt.timezone.utc))
    assert "missing.json" in str(info.value)
    (pending,) = started
    assert pending._process is not None
    assert pending._process.returncode is not None
