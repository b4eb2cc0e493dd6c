"""Nothing unverified runs before or beside the gate: the import guard and verify-first, as an
attacker who read the README would try them, on every interpreter present, through a normal
start (the gate ``.pth``) and the sealed launcher.

Files arrive the two ways installers write them: real ``pip install`` (which runs no code of
the guarded environment: ``--no-deps`` wheels), and written directly, as an installer that
never runs the guarded interpreter (uv) does.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.machinery
import io
import marshal
import zipfile
from pathlib import Path

import pytest

from pthguard.gate import cold
from tests.support.guard import (
    EXIT_REFUSED,
    Guarded,
    Marker,
    assert_refused,
    line_with,
    make_guarded,
    marker_pth,
)
from tests.support.interpreters import Interpreter, interpreter_params

INTERPRETERS = interpreter_params()
NOT_EXECUTED = "NOT executed"


def _payload(marker: Marker) -> bytes:
    return f"open({marker.inner!r}, 'a').write('ran\\n')\n".encode()


def _starts(g: Guarded):  # type: ignore[no-untyped-def]
    return (("gate", g.start), ("sealed", g.sealed))


def _stored_bytecode(g: Guarded, rel: str) -> Path:
    """The bytecode pthguard compiled for ``rel`` (in its store, not ``__pycache__``)."""
    stem = rel.rpartition(".")[0]
    found = sorted(g.state_dir().glob(f"bytecode/*/{stem}.*.pyc"))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_module_edited_in_place_never_runs(interp: Interpreter, tmp_path: Path) -> None:
    g = make_guarded(interp, tmp_path)
    marker = g.marker("edited")
    init = g.site_packages / "plainpkg" / "__init__.py"
    signed = hashlib.sha256(init.read_bytes()).hexdigest()
    with init.open("ab") as handle:  # same inode, as an installer overwriting it does
        handle.write(_payload(marker))
    for _, start in _starts(g):
        proc = start("-c", "import plainpkg")
        assert proc.returncode == 1, proc.stderr
        assert "UnverifiedModuleError" in proc.stderr
        line = line_with(proc.stderr.splitlines(), "refused to import plainpkg", str(init.name))
        assert "changed module file" in line
        assert f"expected sha256 {signed}" in line
        # a program that catches the ImportError still never runs the module
        proc = start("-c", "try:\n import plainpkg\nexcept ImportError:\n print('caught')")
        assert (proc.returncode, proc.stdout) == (0, "caught\n"), proc.stderr
    assert not marker.exists()


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_poisoned_bytecode_never_runs(interp: Interpreter, tmp_path: Path) -> None:
    """Bytecode with the original 16-byte header (CPython would trust it on mtime and size),
    in ``__pycache__`` and in pthguard's own store: the signed source's code runs."""
    g = make_guarded(interp, tmp_path)
    marker = g.marker("pyc")
    init = g.site_packages / "plainpkg" / "__init__.py"
    evil = compile(_payload(marker) + b"VALUE = 666\n", str(init), "exec")
    tag = g.interp.run(["-c", "import sys; print(sys.implementation.cache_tag)"]).stdout.strip()
    stock_pyc = init.parent / "__pycache__" / f"__init__.{tag}.pyc"
    stored = _stored_bytecode(g, "plainpkg/__init__.py")
    header = stored.read_bytes()[:16]
    for pyc in (stock_pyc, stored):
        pyc.parent.mkdir(exist_ok=True)
        pyc.write_bytes(header + marshal.dumps(evil))
    for _, start in _starts(g):
        proc = start("-c", "import plainpkg; print(plainpkg.VALUE)")
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "1\n", "")
    assert not marker.exists()


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_dropped_module_files_are_unlisted(interp: Interpreter, tmp_path: Path) -> None:
    """A dropped ``extra.py`` and an extension module shadowing a signed ``.py`` (FileFinder
    tries extension suffixes first): refused before the file is executed or dlopen'ed."""
    g = make_guarded(interp, tmp_path)
    marker = g.marker("dropped")
    (g.site_packages / "extra.py").write_bytes(_payload(marker))
    suffix = g.interp.run(
        ["-c", "import importlib.machinery as m; print(m.EXTENSION_SUFFIXES[0])"]
    ).stdout.strip()
    shadow = g.site_packages / "goodpth_extra" / f"extra_mod{suffix}"
    shadow.write_bytes(b"\x7fELF not really")
    for _, start in _starts(g):
        proc = start("-c", "import extra")
        assert proc.returncode == 1
        line = line_with(proc.stderr.splitlines(), "refused to import extra:")
        assert "unlisted module file" in line
        proc = start("-c", "import extra_mod")
        assert proc.returncode == 1
        line = line_with(proc.stderr.splitlines(), "refused to import extra_mod")
        assert f"unlisted module file {g.interp.inner_path(shadow)}" in line
        assert "not signed" in line
    assert not marker.exists()


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_module_an_allowed_pth_imports_is_checked_first(
    interp: Interpreter, tmp_path: Path
) -> None:
    """An allowed ``.pth`` imports a module of its distribution at every start (as
    setuptools' ``distutils-precedence.pth`` imports ``_distutils_hack``). Overwritten in
    place, the start is refused before its code runs."""
    g = make_guarded(interp, tmp_path, install=False)
    g.pip_install(
        g.wheel("hooked", "1.0", {"hooked.pth": b"import hookmod\n", "hookmod.py": b"X = 1\n"})
    )
    g.install()
    assert g.start("-c", "import hookmod; print(hookmod.X)").stdout == "1\n"
    marker = g.marker("hook")
    hookmod = g.site_packages / "hookmod.py"
    hookmod.write_bytes(_payload(marker) + b"X = 2\n")
    for _, start in _starts(g):
        lines = assert_refused(start("-c", "pass"), "changed module file")
        assert NOT_EXECUTED in line_with(lines, "changed module file", "hookmod.py")
    assert not marker.exists()


def _lying_wheel(g: Guarded, name: str, files: dict[str, bytes], swap: dict[str, bytes]) -> Path:
    """A wheel whose RECORD describes ``files`` while it ships ``swap`` in their place."""
    honest = g.wheel(name, "1.0", files)
    out = io.BytesIO()
    with zipfile.ZipFile(honest) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, swap.get(info.filename, src.read(info.filename)))
    lying = g.work / "lying" / honest.name
    lying.parent.mkdir(exist_ok=True)
    lying.write_bytes(out.getvalue())
    return lying


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_same_version_reinstall_with_a_changed_module(interp: Interpreter, tmp_path: Path) -> None:
    """``pip install --force-reinstall`` of the same name and version whose RECORD is the
    signed one (its rows describe the signed files, not the ones shipped): the RECORD's
    bytes match, its fingerprint does not, so the distribution's files are checked before
    anything runs."""
    g = make_guarded(interp, tmp_path)
    marker = g.marker("reinstall")
    original = {"plainpkg/__init__.py": b"VALUE = 1\n"}
    wheel = _lying_wheel(
        g, "plainpkg", original, {"plainpkg/__init__.py": _payload(marker) + b"VALUE = 1\n"}
    )
    meta = g.site_packages / "plainpkg-1.0.dist-info"
    kept = {p.name: p.read_bytes() for p in (meta / "RECORD", meta / "direct_url.json")}
    inode = (meta / "RECORD").stat().st_ino
    g.pip_install("--force-reinstall", "--no-deps", wheel)
    # pip keeps the wheel's RECORD rows; only direct_url.json (the wheel's path and hash)
    # differs here: put back the signed bytes, as an installer that keeps them would
    for name, data in kept.items():
        (meta / f"{name}.tmp").write_bytes(data)
        (meta / f"{name}.tmp").replace(meta / name)
    assert (meta / "RECORD").stat().st_ino != inode
    for _, start in _starts(g):
        lines = assert_refused(start("-c", "pass"), "changed distribution plainpkg 1.0")
        assert "plainpkg/__init__.py sha256" in line_with(lines, "changed distribution plainpkg")
        proc = start("-c", "pass")  # still refused on the next start (no cache vouches)
        assert proc.returncode == EXIT_REFUSED
    assert not marker.exists()


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_pre_gate_code_cannot_forge_the_gates_state(interp: Interpreter, tmp_path: Path) -> None:
    """A ``.pth`` sorting before the gate sets what the gate once took for its own state, and
    stubs ``site.execsitecustomize``: it runs (a normal start cannot stop code before the
    gate), but the start is still refused; the sealed launcher never runs it."""
    g = make_guarded(interp, tmp_path)
    marker = g.marker("forge")
    forge = (
        b"import site, sys; site._pthguard_state = object(); "
        b"site.execsitecustomize = lambda: None; sys.modules['sitecustomize'] = sys; "
        + marker_pth(marker).removeprefix(b"import ")
    )
    name = "!!!forge.pth"
    assert name < Path(str(g.installation()["gate_pth"])).name
    (g.site_packages / name).write_bytes(forge)
    lines = assert_refused(g.start("-c", "print('ran')"), name)
    assert "EXECUTED before the gate ran" in line_with(lines, name)
    assert marker.count() == 1
    lines = assert_refused(g.sealed("-c", "print('ran')"), name)
    assert NOT_EXECUTED in line_with(lines, name)
    assert marker.count() == 1


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_metadata_directory_in_another_case(interp: Interpreter, tmp_path: Path) -> None:
    """``six-9.9.DIST-INFO``: importlib.metadata finds it (the suffix in any case)."""
    g = make_guarded(interp, tmp_path)
    meta = g.site_packages / "six-9.9.DIST-INFO"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: six\nVersion: 9.9\n")
    for _, start in _starts(g):
        assert_refused(start("-c", "pass"), "unlisted distribution", "six-9.9.DIST-INFO")


def _wheel_with_script(g: Guarded, name: str, script_name: str, script: bytes) -> Path:
    """A wheel whose ``.data/scripts/SCRIPT_NAME`` an installer writes into ``bin/``."""
    wheel = g.wheel(name, "1.0", {f"{name}.py": b""})
    data = io.BytesIO()
    member = f"{name}-1.0.data/scripts/{script_name}"
    digest = base64.urlsafe_b64encode(hashlib.sha256(script).digest()).decode().rstrip("=")
    row = f"{member},sha256={digest},{len(script)}\n"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(data, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.endswith("/RECORD"):
                body = row.encode() + body
            dst.writestr(info, body)
        dst.writestr(member, script)
    wheel.write_bytes(data.getvalue())
    return wheel


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_same_version_reinstall_with_a_changed_console_script(
    interp: Interpreter, tmp_path: Path
) -> None:
    """A console script in ``bin/`` replaced while the distribution's RECORD keeps its signed
    bytes: the reinstall is caught at start with the script named."""
    g = make_guarded(interp, tmp_path, install=False)
    g.pip_install(_wheel_with_script(g, "tooly", "tooly", b"#!/bin/sh\necho tooly\n"))
    g.install(g.manifest())
    marker = g.marker("script")
    tool = g.venv.root / "bin" / "tooly"
    tool.write_bytes(f"#!/bin/sh\necho ran >> {marker.inner}\n".encode())
    meta = g.site_packages / "tooly-1.0.dist-info"
    record = (meta / "RECORD").read_bytes()
    (meta / "RECORD.tmp").write_bytes(record)
    (meta / "RECORD.tmp").replace(meta / "RECORD")  # the signed bytes, a new file
    (g.site_packages / "touched").mkdir()  # the directory changed, as a reinstall changes it
    (g.site_packages / "touched").rmdir()
    for _, start in _starts(g):
        lines = assert_refused(start("-c", "pass"), "changed distribution tooly 1.0")
        assert "bin/tooly sha256" in line_with(lines, "changed distribution tooly")
    assert not marker.exists()


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_wheel_cannot_replace_the_sealed_launcher(interp: Interpreter, tmp_path: Path) -> None:
    """A wheel's ``.data/scripts/python-guarded`` (a ``#!/bin/sh`` polyglot keeps its
    shebang) lands in ``bin/``; the sealed launcher lives in the state directory."""
    g = make_guarded(interp, tmp_path)
    launcher = g.launcher.read_bytes()
    marker = g.marker("launcher")
    script = f"#!/bin/sh\necho ran >> {marker.inner}\n".encode()
    wheel = _wheel_with_script(g, "shim", "python-guarded", script)
    g.pip_install(wheel)
    assert (g.venv.root / "bin" / "python-guarded").exists()
    assert g.launcher.read_bytes() == launcher
    assert_refused(g.sealed("-c", "pass"), "unlisted distribution shim 1.0")
    assert not marker.exists()


def test_project_rule_takes_only_its_own_metadata_directory() -> None:
    rule = ("proj", "proj-", ())
    assert cold._is_project_dir(rule, "proj-1.0.dist-info")
    assert cold._is_project_dir(rule, "Proj-2.0rc1.dist-info")
    assert not cold._is_project_dir(rule, "proj-extra-1.0.dist-info")  # split at the first -
    assert not cold._is_project_dir(rule, "proj-.dist-info")
    assert not cold._is_project_dir(rule, "proj-1.0.DIST-INFO")


def test_record_hash_matches_base64() -> None:
    for data in (b"", b"x", b"VALUE = 1\n" * 100):
        digest = hashlib.sha256(data).digest()
        expected = "sha256=" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
        assert cold._record_hash(digest) == expected


def test_extension_suffixes_cover_so() -> None:
    # the tables keep extension modules by the target interpreter's own suffixes
    assert any(s.endswith(".so") for s in importlib.machinery.EXTENSION_SUFFIXES)


@pytest.mark.parametrize("interp", INTERPRETERS[2:3])
def test_status_and_verify_compare_the_sealed_launcher(interp: Interpreter, tmp_path: Path) -> None:
    g = make_guarded(interp, tmp_path)
    assert g.pthguard("status", "--python", g.venv.python).returncode == 0
    with g.launcher.open("ab") as handle:
        handle.write(b"\nprint('tampered')\n")
    proc = g.pthguard("status", "--python", g.venv.python)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "NOT the file install wrote" in proc.stdout
    proc = g.pthguard("verify", "--python", g.venv.python)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "the sealed launcher: changed since install" in proc.stdout


@pytest.mark.parametrize("interp", INTERPRETERS[2:3])
def test_status_and_verify_compare_the_launchers_compiled_body(
    interp: Interpreter, tmp_path: Path
) -> None:
    """The launcher script is a stub; the body it runs was compiled at install, and is held
    to the same standard: a changed body is reported by name, and a start with a body
    that is not a compiled launcher is refused."""
    g = make_guarded(interp, tmp_path)
    (body,) = g.state_dir().glob("launcher.*.bin")
    assert str(body).encode() in g.launcher.read_bytes()
    good = body.read_bytes()
    body.write_bytes(good + b"\0")  # still loads (marshal reads one object): status tells
    proc = g.pthguard("status", "--python", g.venv.python)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "NOT the file install wrote" in proc.stdout
    proc = g.pthguard("verify", "--python", g.venv.python)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"the sealed launcher: its compiled body {body}: changed since install" in proc.stdout
    body.write_bytes(b"not marshal data")
    proc = g.sealed("-c", "print('ran')")
    lines = assert_refused(proc, "the sealed launcher cannot load its compiled body")
    assert f"run `pthguard status --python {g.venv.python}`" in lines[0]
    body.write_bytes(good)
    proc = g.sealed("-c", "print('ran')")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "ran\n", "")


@pytest.mark.parametrize("interp", INTERPRETERS[2:3])
def test_launcher_command_prints_the_sealed_launcher(interp: Interpreter, tmp_path: Path) -> None:
    g = make_guarded(interp, tmp_path, install=False)
    proc = g.pthguard("launcher", "--python", g.venv.python)
    assert proc.returncode == 1
    assert "no guard is installed" in proc.stderr
    g.install(g.manifest())
    proc = g.pthguard("launcher", "--python", g.venv.python)
    assert proc.returncode == 0, proc.stderr
    assert g.interp.host_path(proc.stdout.strip()) == g.launcher
    assert ".pthguard-" in proc.stdout
    ran = g.interp.run_program([proc.stdout.strip(), "-c", "print('sealed')"])
    assert (ran.returncode, ran.stdout) == (0, "sealed\n"), ran.stderr


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_pyvenv_cfg_and_bin_python_are_compared_first(interp: Interpreter, tmp_path: Path) -> None:
    """A wheel's ``.data/data/pyvenv.cfg`` or ``.data/scripts/python`` runs before any Python
    code (out of reach in-process); what it leaves changed is refused at the next start."""
    g = make_guarded(interp, tmp_path)
    cfg = g.venv.root / "pyvenv.cfg"
    original = cfg.read_bytes()
    cfg.write_bytes(original + b"# rewritten\n")
    for _, start in _starts(g):
        lines = assert_refused(start("-c", "pass"), "changed interpreter file")
        assert "pyvenv.cfg" in line_with(lines, "changed interpreter file")
    cfg.write_bytes(original)
    assert g.start("-c", "pass").returncode == 0


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_broken_digest_table_fails_closed(interp: Interpreter, tmp_path: Path) -> None:
    """A digest table that is not the one sealed (one byte changed): the import it would
    serve fails with a clear error; nothing is imported unchecked."""
    g = make_guarded(interp, tmp_path)
    tables = [p for p in g.state_dir().glob("modules-*/*.bin") if b"plainpkg/" in p.read_bytes()]
    assert len(tables) == 1
    data = bytearray(tables[0].read_bytes())
    data[-1] ^= 1
    tables[0].write_bytes(bytes(data))
    for _, start in _starts(g):
        proc = start("-c", "import plainpkg")
        assert proc.returncode == 1
        assert "UnverifiedModuleError: the import guard cannot check plainpkg" in proc.stderr
        assert "is not the file this seal was installed with" in proc.stderr
