"""pthguard.environment.snapshot on a real venv (dev interpreter) filled by pip with real wheels.

One module-scoped venv holds: ``alpha`` (a package + ``alpha.pth``), ``beta`` (a module),
``sitecust`` (ships ``sitecustomize.py``), ``shared-a``/``shared-b`` (both ship
``sharedpkg/__init__.py``), ``editdemo`` (a PEP 660 editable install as pip leaves it:
``__editable__.editdemo-1.0.pth`` and ``direct_url.json`` with ``dir_info.editable``), a
legacy ``setup.py install`` (``.egg-info`` with ``installed-files.txt`` and a ``.pth``),
two unclaimed top-level entries and a litellm-shaped ``.pth`` that no distribution claims.
The tests only read it. A second test does a real ``pip install -e`` with setuptools when
a setuptools wheel that can build editables (>= 70.1, no ``wheel`` needed) is bundled with
any interpreter here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from pathlib import Path

import pytest

from pthguard._internal.statcache import StatCache
from pthguard.environment import distfiles as _distfiles
from pthguard.environment import probe as _probe
from pthguard.environment import snapshot as _snapshot
from pthguard.environment.distfiles import CACHE_FORMAT
from pthguard.environment.layout import scan_environment
from pthguard.environment.snapshot import Snapshot, to_manifest
from pthguard.manifest.envelope import Envelope, parse_envelope
from pthguard.manifest.model import Policy
from pthguard.render.findings import environment_word
from tests.conftest import ALPHA_PTH, SITECUSTOMIZE, run_cli, snapshot_approved
from tests.support.interpreters import Interpreter, discover
from tests.support.venvs import Venv, bundled_wheel, make_venv
from tests.support.wheels import build_wheel, egg_info_install, litellm_like_pth

EDITABLE_PTH_NAME = "__editable__.editdemo-1.0.pth"
LEGACY_PTH = b"import legacy_pkg\n"
LEGACY_INIT = b"LEGACY = True\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Rich:
    """The module's venv, its scan and what the tests compare with."""

    def __init__(self, venv: Venv, snap: Snapshot, marker: Path, src: Path) -> None:
        self.venv = venv
        self.snap = snap
        self.marker = marker
        self.src = src
        self.site = venv.site_packages


@pytest.fixture(scope="module")
def rich(
    dev_interp: Interpreter,
    tmp_path_factory: pytest.TempPathFactory,
    wheelhouse: dict[str, Path],
) -> Rich:
    base = tmp_path_factory.mktemp("rich")
    src = base / "editdemo-src"
    (src / "editdemo").mkdir(parents=True)
    (src / "editdemo" / "__init__.py").write_bytes(b"EDIT = 1\n")
    editable = build_wheel(
        base / "wheels",
        "editdemo",
        "1.0",
        {
            EDITABLE_PTH_NAME: f"{src}\n".encode(),
            "__editable___editdemo_1_0_finder.py": b"# a PEP 660 finder would be here\n",
        },
    )
    venv = make_venv(dev_interp, base / "venv", with_pip=False)
    venv.pip_install(
        *(wheelhouse[k] for k in ("alpha-1.0", "beta-1.0", "sitecust-1.0")),
        wheelhouse["shared-a-1.0"],
        wheelhouse["shared-b-1.0"],
        editable,
    )
    site = venv.site_packages
    # pip wrote archive_info for the local wheel; `pip install -e` writes this instead
    (site / "editdemo-1.0.dist-info" / "direct_url.json").write_text(
        json.dumps({"dir_info": {"editable": True}, "url": src.as_uri()})
    )
    egg_info_install(
        site, "Legacy-Pkg", "0.5", {"legacy_pkg/__init__.py": LEGACY_INIT, "legacy.pth": LEGACY_PTH}
    )
    (site / "stray.py").write_bytes(b"# nobody installed me\n")
    (site / "stray_dir").mkdir()
    (site / "stray_dir" / "x.py").write_bytes(b"")
    marker = base / "marker.ran"
    (site / "zz-evil.pth").write_bytes(litellm_like_pth(str(marker)))
    snap, installs = scan_environment(_probe.probe(venv.python))
    assert installs == []
    return Rich(venv, snap, marker, src)


def test_nothing_ran(rich: Rich) -> None:
    """Probing and scanning never execute the target's .pth files or sitecustomize."""
    assert not rich.marker.exists()


def test_site_dirs(rich: Rich) -> None:
    assert [(s.path, s.role) for s in rich.snap.site_dirs] == [(str(rich.site), "venv")]
    env = rich.snap.environment
    assert env.prefix == str(rich.venv.root)
    assert env.executable == rich.venv.python
    assert env.implementation == "cpython"
    assert rich.snap.version == rich.venv.interp.version


def test_startup_files(rich: Rich) -> None:
    """Every .pth with its exact hash, size, code lines and owning distribution."""
    (site,) = rich.snap.site_dirs
    names = [f.name for f in site.startup_files]
    assert names == sorted(names)
    assert names == [EDITABLE_PTH_NAME, "alpha.pth", "legacy.pth", "zz-evil.pth"]
    files = {f.name: f for f in site.startup_files}

    alpha = files["alpha.pth"]
    assert alpha.sha256 == sha256(ALPHA_PTH)
    assert alpha.size == len(ALPHA_PTH)
    assert alpha.code_lines == ("import alpha",)
    assert alpha.owner == "alpha"

    editable = files[EDITABLE_PTH_NAME]
    assert editable.code_lines == ()  # a path line only
    assert editable.owner == "editdemo"
    assert editable.size == len(f"{rich.src}\n")

    legacy = files["legacy.pth"]
    assert legacy.owner == "legacy-pkg"  # claimed through installed-files.txt
    assert legacy.code_lines == ("import legacy_pkg",)

    evil_bytes = (rich.site / "zz-evil.pth").read_bytes()
    evil = files["zz-evil.pth"]
    assert evil.owner is None
    assert evil.sha256 == sha256(evil_bytes)
    assert evil.code_lines == (evil_bytes.decode().rstrip("\n"),)
    # the editable's path line is on the module search path used for sitecustomize lookup
    assert str(rich.src) in rich.snap.path_lines


def test_sitecustomize_from_a_wheel(rich: Rich) -> None:
    modules = {m.name: m for m in rich.snap.startup_modules}
    # no user site in a venv without system site-packages: usercustomize is never imported
    assert list(modules) == ["sitecustomize"]
    found = modules["sitecustomize"]
    assert found.path == str(rich.site / "sitecustomize.py")
    assert found.sha256 == sha256(SITECUSTOMIZE)


def test_distributions(rich: Rich) -> None:
    dists = {d.entry.name: d.entry for d in rich.snap.distributions}
    assert sorted(dists) == [
        "alpha",
        "beta",
        "editdemo",
        "legacy-pkg",
        "shared-a",
        "shared-b",
        "sitecust",
    ]
    alpha = dists["alpha"]
    info = rich.site / "alpha-1.0.dist-info"
    assert (alpha.version, alpha.kind, alpha.metadata_dir) == ("1.0", "dist-info", info.name)
    assert alpha.site_dir == str(rich.site)
    assert alpha.installer == "pip"
    assert alpha.record_sha256 == sha256((info / "RECORD").read_bytes())
    assert alpha.metadata_sha256 == sha256((info / "METADATA").read_bytes())
    assert alpha.editable is False
    assert alpha.files == ()  # the RECORD's hash stands for them

    assert dists["editdemo"].editable is True
    assert dists["sitecust"].editable is False

    legacy = dists["legacy-pkg"]
    assert legacy.kind == "egg-info"
    assert legacy.metadata_dir == "Legacy_Pkg-0.5-py{}.{}.egg-info".format(
        *rich.venv.interp.version
    )
    assert legacy.version == "0.5"
    assert legacy.installer is None
    assert legacy.record_sha256 is None
    hashes = {f.path: f.sha256 for f in legacy.files}
    assert hashes["legacy_pkg/__init__.py"] == sha256(LEGACY_INIT)
    assert hashes["legacy.pth"] == sha256(LEGACY_PTH)
    assert f"{legacy.metadata_dir}/PKG-INFO" in hashes

    # the rows deep verification checks: every hashed RECORD row of the wheel
    alpha_scan = next(d for d in rich.snap.distributions if d.entry.name == "alpha")
    rows = {r.path for r in alpha_scan.rows}
    assert {"alpha/__init__.py", "alpha.pth", f"{info.name}/METADATA"} <= rows


def test_unclaimed_top_level(rich: Rich) -> None:
    (site,) = rich.snap.site_dirs
    assert sorted(site.unclaimed) == ["stray.py", "stray_dir"]


def test_claimed_twice_is_a_warning(rich: Rich) -> None:
    twice = [f for f in rich.snap.findings if "claimed by several" in f.message]
    paths = {f.path for f in twice}
    assert str(rich.site / "sharedpkg" / "__init__.py") in paths
    assert all(environment_word(f) == "warning" for f in twice)
    assert all(f.message.endswith("shared-a, shared-b") for f in twice)
    # nothing else is wrong with this environment
    others = [f for f in rich.snap.findings if f not in twice]
    assert others == []


def _described(snap: Snapshot) -> tuple[object, ...]:
    return (
        snap.site_dirs,
        snap.startup_modules,
        [(d.entry, d.rows) for d in snap.distributions],
        snap.findings,
        snap.path_lines,
    )


def test_a_scan_through_the_records_cache_is_the_same_scan(
    rich: Rich, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scanned without a cache, with an empty one, and with the one that scan wrote: the same
    snapshot (claims, owners, findings included), and the last reads no METADATA or RECORD."""
    probe = _probe.probe(rich.venv.python)
    plain = _described(_snapshot.scan(probe))
    assert plain == _described(rich.snap)
    cache_path = tmp_path / "records.cache"
    cold = _snapshot.scan(probe, cache=StatCache(cache_path, CACHE_FORMAT))
    assert _described(cold) == plain
    read: list[str] = []
    real = _distfiles.read_optional

    def counted(path: str) -> bytes | None:
        read.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr("pthguard.environment.distfiles.read_optional", counted)
    warm = _snapshot.scan(probe, cache=StatCache(cache_path, CACHE_FORMAT))
    assert _described(warm) == plain
    assert not {"METADATA", "RECORD", "PKG-INFO"} & set(read), read


def test_manifest_round_trip(rich: Rich) -> None:
    manifest = to_manifest(
        rich.snap,
        version=3,
        created="2026-01-01T00:00:00Z",
        expires="2030-01-01T00:00:00Z",
        policy=Policy(),
    )
    data = Envelope.from_manifest(manifest).to_bytes()
    assert parse_envelope(data, "m").manifest == manifest


def test_snapshot_command_writes_the_same(rich: Rich, tmp_path: Path) -> None:
    """``pthguard snapshot`` writes what the scan found; a second snapshot over the first
    gets the next version number."""
    out = tmp_path / "m.json"
    text = snapshot_approved("--python", rich.venv.python, "-o", out)
    assert re.search(r"version 1, 1 site dir\(s\), 4 startup file\(s\), 7 distribution", text)
    doc = json.loads(out.read_bytes())
    assert doc["signatures"] == []
    signed = doc["signed"]
    assert signed["_type"] == "pthguard-manifest"
    names = [f["name"] for f in signed["site_dirs"][0]["startup_files"]]
    assert names == [EDITABLE_PTH_NAME, "alpha.pth", "legacy.pth", "zz-evil.pth"]
    assert signed["policy"]["mode"] == "enforce"
    snapshot_approved("--python", rich.venv.python, "-o", out)
    assert json.loads(out.read_bytes())["signed"]["version"] == 2
    assert not rich.marker.exists()


def _editable_setuptools() -> Path | None:
    """A setuptools wheel (>= 70.1: builds PEP 660 editables without ``wheel``) bundled with
    any interpreter here."""
    best: tuple[tuple[int, ...], Path] | None = None
    for interp in discover():
        wheel = bundled_wheel(interp, "setuptools")
        if wheel is None:
            continue
        version = tuple(int(p) for p in re.findall(r"\d+", wheel.name.split("-")[1])[:3])
        if version >= (70, 1) and (best is None or version > best[0]):
            best = (version, wheel)
    return best[1] if best else None


def test_real_editable_install(dev_interp: Interpreter, tmp_path: Path) -> None:
    """``pip install -e`` of a tiny pyproject project (setuptools, offline): editable in the
    manifest, its ``__editable__`` .pth owned by it, setuptools' own
    ``distutils-precedence.pth`` listed with its code line."""
    setuptools = _editable_setuptools()
    if setuptools is None:
        pytest.skip("no bundled setuptools >= 70.1 to build an editable offline")
    project = tmp_path / "proj"
    (project / "src" / "tinyed").mkdir(parents=True)
    (project / "src" / "tinyed" / "__init__.py").write_text("X = 1\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\n'
        'build-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tinyed"\nversion = "1.0"\n'
    )
    venv = make_venv(dev_interp, tmp_path / "venv", with_pip=False)
    venv.pip_install(setuptools)
    venv.pip_install("--no-build-isolation", "-e", str(project))
    snap, _ = scan_environment(_probe.probe(venv.python))
    dists = {d.entry.name: d.entry for d in snap.distributions}
    assert dists["tinyed"].editable is True
    assert dists["setuptools"].editable is False
    (site,) = snap.site_dirs
    files = {f.name: f for f in site.startup_files}
    assert files["__editable__.tinyed-1.0.pth"].owner == "tinyed"
    assert files["distutils-precedence.pth"].owner == "setuptools"
    assert len(files["distutils-precedence.pth"].code_lines) == 1
    assert files["distutils-precedence.pth"].code_lines[0].startswith("import os")
    assert snap.errors == []


def test_wheel_data_files_are_claimed(dev_interp: Interpreter, tmp_path: Path) -> None:
    """Files a wheel installs from ``.data/purelib`` are claimed through RECORD (not
    unclaimed), and the RECORD that pip wrote is pinned by its hash."""
    wheel = build_wheel(
        tmp_path / "w",
        "scripted",
        "1.0",
        {"scripted.py": b"def main(): pass\n"},
        purelib_data={"scripted_data.py": b"D = 1\n"},
    )
    venv = make_venv(dev_interp, tmp_path / "venv", with_pip=False)
    venv.pip_install(wheel)
    snap, _ = scan_environment(_probe.probe(venv.python))
    (site,) = snap.site_dirs
    assert site.unclaimed == ()
    (dist,) = snap.distributions
    record = (venv.site_packages / "scripted-1.0.dist-info" / "RECORD").read_bytes()
    assert dist.entry.record_sha256 == sha256(record)
    rows = list(csv.reader(io.StringIO(record.decode())))
    assert {r.path for r in dist.rows} == {r[0] for r in rows}
    assert "scripted_data.py" in {r.path for r in dist.rows}


def test_system_site_and_user_site(
    dev_interp: Interpreter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """include-system-site-packages = true: the venv, the user site (enabled) and the base's
    site-packages are scanned in site.main() order; the user site's .pth and
    usercustomize are in the manifest, and none of them runs."""
    home = tmp_path / "home"
    user_site = home / ".local" / "lib" / dev_interp.stdlib_tag / "site-packages"
    user_site.mkdir(parents=True)
    marker = tmp_path / "ran"
    (user_site / "user-hook.pth").write_bytes(litellm_like_pth(str(marker)))
    (user_site / "usercustomize.py").write_bytes(b"# user's own\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("PYTHONNOUSERSITE", raising=False)
    venv = make_venv(dev_interp, tmp_path / "venv", system_site_packages=True, with_pip=False)
    snap, _ = scan_environment(_probe.probe(venv.python))
    assert not marker.exists()
    roles = [(s.role, s.path) for s in snap.site_dirs]
    assert roles[:2] == [("venv", str(venv.site_packages)), ("user", str(user_site))]
    assert [r for r, _ in roles[2:]] == ["system"] * (len(roles) - 2)
    assert len(roles) >= 3
    user = snap.site_dirs[1]
    assert [f.name for f in user.startup_files] == ["user-hook.pth"]
    assert user.unclaimed == ("usercustomize.py",)
    modules = {m.name: m for m in snap.startup_modules}
    assert modules["usercustomize"].path == str(user_site / "usercustomize.py")
    assert snap.errors == []
    # PYTHONNOUSERSITE: no user site, no usercustomize
    monkeypatch.setenv("PYTHONNOUSERSITE", "1")
    off, _ = scan_environment(_probe.probe(venv.python))
    assert "user" not in [s.role for s in off.site_dirs]
    assert [m.name for m in off.startup_modules] == ["sitecustomize"]


def test_record_path_with_a_form_feed(dev_interp: Interpreter, tmp_path: Path) -> None:
    """A RECORD row whose path holds ``\\x0c`` (a line break for str.splitlines, not for
    CSV) is one row: snapshot reads RECORD as pip wrote it (formats.record.read_record).
    pip itself reads the wheel's RECORD with splitlines: it writes that file's row without a
    hash, plus rows for ``oddpkg/a`` and ``b.py``; the snapshot shows exactly that."""
    odd = "oddpkg/a\x0cb.py"
    wheel = build_wheel(
        tmp_path / "w", "oddpkg", "1.0", {"oddpkg/__init__.py": b"", odd: b"X = 1\n"}
    )
    venv = make_venv(dev_interp, tmp_path / "venv", with_pip=False)
    venv.pip_install(wheel)
    assert (venv.site_packages / odd).is_file()
    snap, _ = scan_environment(_probe.probe(venv.python))
    assert snap.findings == []
    (site,) = snap.site_dirs
    assert site.unclaimed == ()
    (dist,) = snap.distributions
    record = (venv.site_packages / "oddpkg-1.0.dist-info" / "RECORD").read_bytes()
    rows = list(csv.reader(io.StringIO(record.decode(), newline="")))
    assert {r.path for r in dist.rows} == {r[0] for r in rows}
    assert odd in {r.path for r in dist.rows}


def test_a_distribution_only_the_runtime_sees_blocks_a_manifest(
    dev_interp: Interpreter, tmp_path: Path
) -> None:
    """``six-9.9.DIST-INFO``: importlib.metadata sees it (case-insensitive), pthguard's scan
    does not describe it. Where a manifest is made, that is a blocking finding."""
    venv = make_venv(dev_interp, tmp_path / "venv", with_pip=False)
    odd = venv.site_packages / "six-9.9.DIST-INFO"
    odd.mkdir()
    (odd / "METADATA").write_text("Metadata-Version: 2.1\nName: six\nVersion: 9.9\n")
    plain, _ = scan_environment(_probe.probe(venv.python))
    assert plain.errors == []  # verify's scan does not pay for importlib-metadata
    checked, _ = scan_environment(_probe.probe(venv.python), runtime_view=True)
    (error,) = checked.errors
    assert (error.rule, error.path) == ("unseen-distribution", str(odd))
    out = tmp_path / "m.json"
    proc = run_cli("snapshot", "--python", venv.python, "-o", out)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"pthguard: error: {odd}: importlib.metadata sees six 9.9 here" in proc.stderr
    assert not out.exists()


def test_record_paths_that_leave_the_site_directory(
    dev_interp: Interpreter, tmp_path: Path
) -> None:
    """A wheel's scripts (``../../../bin/x``) and files elsewhere are fine; a RECORD row into
    a directory the interpreter imports from (the standard library) blocks a manifest: in a
    non-venv install ``.data/data/lib/pythonX.Y/...`` overwrites the stdlib."""
    wheel = build_wheel(tmp_path / "w", "escapee", "1.0", {"escapee.py": b""})
    venv = make_venv(dev_interp, tmp_path / "venv", with_pip=False)
    venv.pip_install(wheel)
    snap, _ = scan_environment(_probe.probe(venv.python))
    assert snap.errors == []
    probe = _probe.probe(venv.python)
    record = venv.site_packages / "escapee-1.0.dist-info" / "RECORD"
    up = os.path.relpath(probe.stdlib, venv.site_packages)
    outside = os.path.relpath(tmp_path / "elsewhere.py", venv.site_packages)
    with record.open("a") as handle:
        handle.write(f"../../../bin/escapee,,\n{up}/json/__init__.py,,\n{outside},,\n")
    snap, _ = scan_environment(probe)
    found = {(e.rule, e.message.split(" wrote ")[1].split(" ")[0]) for e in snap.errors}
    assert found == {("record-escapes", f"{up}/json/__init__.py")}
    out = tmp_path / "m.json"
    proc = run_cli("snapshot", "--python", venv.python, "-o", out)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "which the interpreter imports from" in proc.stderr
    assert not out.exists()
