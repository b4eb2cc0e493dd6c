"""Tests of the shared test infrastructure (tests/support) itself.

The fast tests check wheels and path translation without running other interpreters; the
slow ones build real venvs and run real ``pip install --no-index`` on every interpreter
present (absent ones are skipped).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.interpreters import (
    SUPPORTED_VERSIONS,
    CommandFailedError,
    Interpreter,
    chroot_env,
    discover,
    host_env,
    interpreter_params,
)
from tests.support.venvs import Venv, bundled_wheel, make_venv, template_venv
from tests.support.wheels import (
    build_wheel,
    egg_info_install,
    litellm_like_pth,
    read_record,
    record_hash,
    verify_record,
)

INTERPRETERS = interpreter_params()
MODULE = b"VALUE = 42\n"


def _wheel_record(wheel: Path) -> tuple[dict[str, bytes], list[list[str]]]:
    with zipfile.ZipFile(wheel) as zf:
        contents = {name: zf.read(name) for name in zf.namelist()}
    record_name = next(n for n in contents if n.endswith(".dist-info/RECORD"))
    rows = list(csv.reader(io.StringIO(contents[record_name].decode())))
    return contents, rows


def _fake_chroot(root: Path) -> Interpreter:
    return Interpreter(
        (3, 15), "3.15", ("/usr/sbin/chroot", str(root), "/usr/bin/python3.15"), root
    )


# -- wheels (no interpreter needed) -------------------------------------------------------


def test_record_hash_is_urlsafe_b64_nopad_sha256() -> None:
    data = b"import os\n"
    expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert record_hash(data) == "sha256=" + expected
    assert "=" not in record_hash(data).removeprefix("sha256=")


def test_build_wheel_layout_and_record(tmp_path: Path) -> None:
    wheel = build_wheel(
        tmp_path,
        "Demo.Pkg",
        "1.0",
        {"demo_pkg/__init__.py": MODULE, "demo.pth": b"import demo_pkg\n"},
        purelib_data={"pure_extra.py": b"P = 1\n"},
        platlib_data={"plat_extra.py": b"Q = 1\n"},
    )
    assert wheel.name == "demo_pkg-1.0-py3-none-any.whl"
    contents, rows = _wheel_record(wheel)
    assert set(contents) == {
        "demo_pkg/__init__.py",
        "demo.pth",
        "demo_pkg-1.0.data/purelib/pure_extra.py",
        "demo_pkg-1.0.data/platlib/plat_extra.py",
        "demo_pkg-1.0.dist-info/METADATA",
        "demo_pkg-1.0.dist-info/WHEEL",
        "demo_pkg-1.0.dist-info/RECORD",
    }
    assert "Root-Is-Purelib: true" in contents["demo_pkg-1.0.dist-info/WHEEL"].decode()
    metadata = contents["demo_pkg-1.0.dist-info/METADATA"].decode()
    assert "Name: Demo.Pkg\n" in metadata
    assert "Version: 1.0\n" in metadata
    assert list(contents)[-1] == "demo_pkg-1.0.dist-info/RECORD"
    by_path = {row[0]: row for row in rows}
    assert set(by_path) == set(contents)
    assert by_path["demo_pkg-1.0.dist-info/RECORD"] == ["demo_pkg-1.0.dist-info/RECORD", "", ""]
    for path, data in contents.items():
        if not path.endswith("RECORD"):
            assert by_path[path] == [path, record_hash(data), str(len(data))]


def test_build_wheel_is_deterministic(tmp_path: Path) -> None:
    files = {"a/__init__.py": MODULE, "x.pth": b"./a\n"}
    first = build_wheel(tmp_path / "1", "a", "2", files).read_bytes()
    second = build_wheel(tmp_path / "2", "a", "2", files).read_bytes()
    assert first == second


def test_build_wheel_corrupt_missing_and_extra_record(tmp_path: Path) -> None:
    files = {"m.py": MODULE}
    corrupt = build_wheel(tmp_path / "c", "m", "1", files, corrupt_record=True)
    contents, rows = _wheel_record(corrupt)
    row = next(r for r in rows if r[0] == "m.py")
    assert row[1] != record_hash(contents["m.py"])
    assert row[2] == str(len(MODULE))

    extra = build_wheel(tmp_path / "e", "m", "1", files, extra_record_rows=[("ghost.py", "", "")])
    assert ["ghost.py", "", ""] in _wheel_record(extra)[1]

    missing = build_wheel(tmp_path / "n", "m", "1", files, record=False)
    with zipfile.ZipFile(missing) as zf:
        assert "m-1.dist-info/RECORD" not in zf.namelist()


@pytest.mark.parametrize("bad", ["../escape.py", "/abs.py", "a\\b.py", ""])
def test_build_wheel_rejects_bad_paths(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="not a relative wheel path"):
        build_wheel(tmp_path, "m", "1", {bad: b""})


def test_build_wheel_rejects_writes_into_dist_info(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dist-info"):
        build_wheel(tmp_path, "m", "1", {"m-1.dist-info/entry_points.txt": b""})


names = st.text(st.sampled_from("abcxyz_"), min_size=1, max_size=8).map(lambda s: "p" + s)


@settings(max_examples=30, deadline=None)
@given(files=st.dictionaries(names.map(lambda n: f"{n}.py"), st.binary(max_size=200), max_size=5))
def test_build_wheel_record_matches_any_payload(
    tmp_path_factory: pytest.TempPathFactory, files: dict[str, bytes]
) -> None:
    wheel = build_wheel(tmp_path_factory.mktemp("h"), "h", "0.1", files)
    contents, rows = _wheel_record(wheel)
    for path, digest, size in rows:
        if digest:
            assert digest == record_hash(contents[path])
            assert size == str(len(contents[path]))
    assert {r[0] for r in rows} == set(contents) | {"h-0.1.dist-info/RECORD"}


def test_litellm_like_pth_shape_and_effect(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    pth = litellm_like_pth(str(marker))
    assert pth.count(b"\n") == 1
    assert pth.startswith(b"import os, base64; exec(base64.b64decode('")
    # what site.addpackage does with an import line: exec it
    exec(pth.decode())  # noqa: S102 -- the payload only writes the marker
    assert marker.read_text() == f"{os.getpid()}\n"


def test_egg_info_install_layout(tmp_path: Path) -> None:
    site_packages = tmp_path / "lib" / "python3.11" / "site-packages"
    site_packages.mkdir(parents=True)
    egg = egg_info_install(site_packages, "Old-Dist", "0.9", {"olddist/__init__.py": MODULE})
    assert egg.name == "Old_Dist-0.9-py3.11.egg-info"
    assert (site_packages / "olddist" / "__init__.py").read_bytes() == MODULE
    assert "Name: Old-Dist\nVersion: 0.9\n" in (egg / "PKG-INFO").read_text()
    listed = (egg / "installed-files.txt").read_text().splitlines()
    assert "../olddist/__init__.py" in listed
    assert "PKG-INFO" in listed
    for entry in listed:
        assert (egg / entry).is_file()


# -- interpreters (no interpreter needed) -------------------------------------------------


def test_interpreter_params_cover_every_supported_version() -> None:
    ids = [p.id for p in INTERPRETERS]
    assert ids == [f"{a}.{b}" for a, b in SUPPORTED_VERSIONS]
    for param in INTERPRETERS:
        (interp,) = param.values
        if interp is None:
            assert [m.name for m in param.marks] == ["skip"]
        else:
            assert isinstance(interp, Interpreter)
            assert interp.label == param.id
            assert not param.marks


def test_discover_is_cached() -> None:
    assert discover() is discover()


def test_chroot_path_translation(tmp_path: Path) -> None:
    interp = _fake_chroot(tmp_path)
    assert interp.host_path("/tmp/x/bin/python") == tmp_path / "tmp/x/bin/python"
    assert interp.inner_path(tmp_path / "tmp" / "v") == "/tmp/v"
    assert interp.inner_path(tmp_path) == "/"
    assert interp.launcher == ("/usr/sbin/chroot", str(tmp_path))
    assert interp.executable == "/usr/bin/python3.15"
    with pytest.raises(ValueError, match="outside the chroot"):
        interp.inner_path(tmp_path.parent / "elsewhere")
    with pytest.raises(ValueError, match="absolute"):
        interp.host_path("relative/path")
    assert interp.visible_dir(tmp_path / "tmp") == tmp_path / "tmp"


def test_host_path_translation_is_identity() -> None:
    interp = Interpreter((3, 11), "3.11", (sys.executable,), None)
    assert interp.inner_path(Path("/a/b")) == "/a/b"
    assert interp.host_path("/a/b") == Path("/a/b")


def test_environments_are_hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/evil")
    monkeypatch.setenv("PIP_FIND_LINKS", "/wheels")
    monkeypatch.setenv("KEEP_ME", "1")
    env = host_env({"EXTRA": "x", "KEEP_ME": None})
    assert "PYTHONPATH" not in env
    assert "PIP_FIND_LINKS" not in env
    assert "KEEP_ME" not in env
    assert env["EXTRA"] == "x"
    inner = chroot_env({"PYTHONSAFEPATH": "1"})
    assert set(inner) == {"PATH", "LANG", "HOME", "TMPDIR", "PYTHONSAFEPATH"}


# -- every interpreter present (slow) -----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("interp", INTERPRETERS)
def test_interpreter_runs_hermetically(
    interp: Interpreter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    work = interp.visible_dir(tmp_path)
    code = (
        "import os, sys; print(sys.version_info[0], sys.version_info[1]);"
        "print(sys.flags.dont_write_bytecode); print(os.environ.get('EXTRA'));"
        "print(os.getcwd())"
    )
    proc = interp.run(["-c", code], env={"EXTRA": "yes"}, cwd=work, check=True)
    version, dont_write, extra, cwd = proc.stdout.splitlines()
    assert tuple(map(int, version.split())) == interp.version
    assert dont_write == "0"
    assert extra == "yes"
    assert cwd == interp.inner_path(work)
    # a file the interpreter writes in its tmp_dir is visible on the host
    target = interp.tmp_dir() / "written"
    interp.run(["-c", f"open({interp.inner_path(target)!r}, 'w').write('hi')"], check=True)
    assert target.read_text() == "hi"
    with pytest.raises(CommandFailedError, match="exit code 3"):
        interp.run(["-c", "import sys; print('boom'); sys.exit(3)"], check=True)


def _installed_dist_info(venv: Venv, name: str, version: str) -> Path:
    dist_info = venv.site_packages / f"{name}-{version}.dist-info"
    assert dist_info.is_dir(), sorted(os.listdir(venv.site_packages))
    return dist_info


@pytest.mark.slow
@pytest.mark.parametrize("interp", INTERPRETERS)
def test_wheel_with_pth_installs_and_runs(interp: Interpreter, tmp_path: Path) -> None:
    work = interp.visible_dir(tmp_path)
    marker = work / "marker"
    wheel = build_wheel(
        work / "wheels",
        "evil-init",
        "1.82.8",
        {
            "evil_init/__init__.py": MODULE,
            "evil_init.pth": litellm_like_pth(interp.inner_path(marker)),
        },
        purelib_data={"evil_pure.py": b"PURE = 1\n"},
        platlib_data={"evil_plat.py": b"PLAT = 1\n"},
    )
    venv = make_venv(interp, work / "venv", with_pip=False)
    assert not venv.has_pip
    assert not list(venv.site_packages.glob("*.pth")), "a fresh venv holds no .pth"
    # the site-packages computed from the venv root is the one the venv's python uses
    purelib = venv.run(["-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    assert purelib.stdout.strip() == interp.inner_path(venv.site_packages)

    venv.pip_install(wheel)
    marker.unlink(missing_ok=True)  # pip's own start ran no .pth of ours; start clean
    assert (venv.site_packages / "evil_init.pth").is_file()
    assert (venv.site_packages / "evil_pure.py").is_file()
    assert (venv.site_packages / "evil_plat.py").is_file()

    proc = venv.run(["-c", "import evil_init, evil_pure, evil_plat; print(evil_init.VALUE)"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "42"
    ran = marker.read_text().split()
    assert ran, "the .pth import line did not run"
    assert len(set(ran)) == 1  # all from the one process (a venv may process it twice)

    # -S: no site, so no .pth import line runs
    marker.unlink()
    venv.run(["-S", "-I", "-c", "pass"], check=True)
    assert not marker.exists()

    dist_info = _installed_dist_info(venv, "evil_init", "1.82.8")
    assert verify_record(venv.site_packages, dist_info) == []
    rows = {row.path: row for row in read_record(dist_info)}
    pth_bytes = (venv.site_packages / "evil_init.pth").read_bytes()
    assert rows["evil_init.pth"].hash == record_hash(pth_bytes)
    assert rows["evil_plat.py"].hash == record_hash(b"PLAT = 1\n")


@pytest.mark.slow
@pytest.mark.parametrize("interp", INTERPRETERS)
def test_corrupt_and_missing_record(interp: Interpreter, tmp_path: Path) -> None:
    work = interp.visible_dir(tmp_path)
    venv = make_venv(interp, work / "venv", with_pip=False)
    corrupt = build_wheel(
        work / "c", "tampered", "1.0", {"tampered.py": MODULE}, corrupt_record=True
    )
    venv.pip_install(corrupt)  # pip does not check RECORD hashes on install
    problems = verify_record(venv.site_packages, _installed_dist_info(venv, "tampered", "1.0"))
    assert len(problems) == 1
    assert problems[0].startswith("tampered.py: hash")

    no_record = build_wheel(work / "n", "norecord", "1.0", {"norecord.py": MODULE}, record=False)
    proc = venv.pip_install(no_record, check=False)
    assert proc.returncode != 0
    assert "RECORD" in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("interp", INTERPRETERS)
def test_make_venv_with_pip(interp: Interpreter, tmp_path: Path) -> None:
    work = interp.visible_dir(tmp_path)
    venv = make_venv(interp, work / "venv", system_site_packages=True)
    assert venv.has_pip
    assert "include-system-site-packages = true" in (venv.root / "pyvenv.cfg").read_text()
    assert (venv.bin_dir / "pip").is_file()
    assert not list(venv.site_packages.glob("*.pth"))
    pip_wheel = bundled_wheel(interp, "pip")
    assert pip_wheel is not None
    pip_version = pip_wheel.name.split("-")[1]
    version = venv.run(["-m", "pip", "--version"], check=True).stdout
    assert version.startswith(f"pip {pip_version} from {venv.inner_path(venv.site_packages)}")
    # pip's own RECORD (including ../../../bin/pip scripts) matches what is installed
    assert verify_record(venv.site_packages, _installed_dist_info(venv, "pip", pip_version)) == []

    # the venv's own pip installs, too
    wheel = build_wheel(work / "w", "plain", "3", {"plain.py": MODULE})
    venv.pip_install(wheel)
    assert venv.run(["-c", "import plain"]).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("interp", INTERPRETERS)
def test_egg_info_install_is_a_distribution(interp: Interpreter, tmp_path: Path) -> None:
    venv = make_venv(interp, interp.visible_dir(tmp_path) / "venv", with_pip=False)
    egg_info_install(venv.site_packages, "Old-Dist", "0.9", {"olddist/__init__.py": MODULE})
    code = (
        "import importlib.metadata as m, olddist;"
        "print(m.distribution('old-dist').version, olddist.VALUE)"
    )
    assert venv.run(["-c", code], check=True).stdout.split() == ["0.9", "42"]
    shown = venv.pip("show", "--isolated", "-f", "old-dist").stdout
    assert "olddist/__init__.py" in shown
    assert "Version: 0.9" in shown


@pytest.mark.slow
@pytest.mark.parametrize("interp", INTERPRETERS)
def test_template_venv_is_cached(
    interp: Interpreter, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = template_venv(interp, tmp_path_factory)
    assert template_venv(interp, tmp_path_factory) is first
    assert first.has_pip
    assert first.run(["-c", "import pip"]).returncode == 0


def test_run_timeout_is_enforced() -> None:
    interp = Interpreter((3, 11), "3.11", (sys.executable,), None)
    with pytest.raises(subprocess.TimeoutExpired):
        interp.run(["-c", "import time; time.sleep(10)"], timeout=0.5)
