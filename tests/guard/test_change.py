"""Changing a guarded environment: its own processes may not write to it (the write guard),
and ``pthguard change`` runs a command that may, then judges, signs and installs the next
version. Real venvs, real pip (the bundled wheel's), every interpreter present."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.guard import (
    EXIT_REFUSED,
    Guarded,
    assert_refused,
    listing,
    make_guarded,
    marker_pth,
)
from tests.support.interpreters import Interpreter, host_env, interpreter_params
from tests.support.venvs import PIP_COMMON, pip_runner

INTERPRETERS = interpreter_params()


def _pip(g: Guarded) -> list[str | os.PathLike[str]]:
    """The command line of pip in ``g``'s venv, as the interpreter sees it."""
    return [g.venv.python, "-I", pip_runner(g.interp)]


def _config(g: Guarded) -> dict[str, str]:
    """This test's own local key (``change`` signs with the machine's local key)."""
    where = g.work / "config"
    where.mkdir(exist_ok=True)
    return {"PTHGUARD_CONFIG_DIR": g.interp.inner_path(where)}


def _change(g: Guarded, *args: str | os.PathLike[str]):  # type: ignore[no-untyped-def]
    return g.pthguard("change", "--python", g.venv.python, *args, env=_config(g))


def _protected(interp: Interpreter, where: Path) -> Guarded:
    """The base recipe guarded by ``pthguard protect`` with this test's local key (its
    startup code approved after review, as a person would)."""
    return _protected_existing(make_guarded(interp, where, install=False))


def _protected_existing(g: Guarded) -> Guarded:
    review = g.pthguard(
        "snapshot", "--python", g.venv.python, "-o", g.work / "review.json", "--format", "json"
    )
    approvals = [
        arg
        for item in json.loads(review.stdout)["reviews"]
        if item["verdict"] == "needs-approval"
        for arg in ("--approve", item["approve_with"])
    ]
    done = g.pthguard("protect", "--python", g.venv.python, "--yes", *approvals, env=_config(g))
    assert done.returncode == 0, done.stdout + done.stderr
    return g


def _version(g: Guarded) -> int:
    proc = g.pthguard("status", "--python", g.venv.python, "--format", "json")
    return int(json.loads(proc.stdout)["manifest_version"])


def _refusal(stderr: str) -> str:
    """The write guard's one line (pip repeats it in its own error)."""
    (line,) = [ln for ln in stderr.splitlines() if ln.startswith("pthguard: refused to")]
    return line


def _guarded_dirs(g: Guarded) -> dict[str, dict[str, bytes | None]]:
    return {"site": listing(g.site_packages), "bin": listing(g.venv.bin_dir)}


# -- the write guard ---------------------------------------------------------------------------


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_guarded_pip_fails_fast_with_nothing_written(interp: Interpreter, tmp_path: Path) -> None:
    g = _protected(interp, tmp_path)
    wheel = g.wheel("newpkg", "1.0", {"newpkg/__init__.py": b"X = 1\n"})
    before = _guarded_dirs(g)
    proc = g.venv.pip_install(wheel, guarded=True, check=False)
    assert proc.returncode != 0
    line = _refusal(proc.stderr)
    python = g.venv.python
    assert f"change it with `pthguard change --python {python} -- " in line
    assert _guarded_dirs(g) == before
    # the command it printed, run as printed: the change goes through
    printed = re.search(r"`(pthguard change [^`]+)`", line)
    assert printed is not None
    words = shlex.split(printed.group(1))
    assert words[:4] == ["pthguard", "change", "--python", python]
    done = _change(g, "--yes", *words[4:])
    assert done.returncode == 0, done.stdout + done.stderr
    assert g.start("-c", "import newpkg; print(newpkg.X)").stdout == "1\n"


WRITES = {
    "create a .pth": "open(SITE + '/evil.pth', 'w').write('import os\\n')",
    "append to a module": "open(SITE + '/plainpkg/__init__.py', 'a').write('X = 2\\n')",
    "os.open for writing": "os.open(SITE + '/evil2.pth', os.O_WRONLY | os.O_CREAT)",
    "remove a module": "os.remove(SITE + '/plainpkg/__init__.py')",
    "replace a module": "os.replace(TMP, SITE + '/plainpkg/__init__.py')",
    "move a module out": "os.rename(SITE + '/plainpkg/__init__.py', TMP + '.x')",
    "make a directory": "os.mkdir(SITE + '/evilpkg')",
    "remove a tree": "shutil.rmtree(SITE + '/plainpkg')",
    "link into bin": "os.symlink('/bin/sh', BIN + '/python-evil')",
    "write a script": "open(BIN + '/pip-evil', 'w')",
    "chmod": "os.chmod(SITE + '/plainpkg/__init__.py', 0o777)",
    "a relative path": "os.chdir(SITE); open('evil3.pth', 'w')",
    "through .. ": "open(SITE + '/plainpkg/../evil4.pth', 'w')",
    "through lib64": "open(SITE.replace('/lib/', '/lib64/', 1) + '/evil5.pth', 'w')",
    "bytes path": "open(os.fsencode(SITE + '/evil6.pth'), 'wb')",
    "pathlib": "pathlib.Path(SITE, 'evil7.pth').write_text('import os')",
}


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_every_kind_of_write_is_refused_before_it_happens(
    interp: Interpreter, tmp_path: Path
) -> None:
    g = make_guarded(interp, tmp_path)
    site, scripts = g.interp.inner_path(g.site_packages), g.interp.inner_path(g.venv.bin_dir)
    tmp = g.interp.inner_path(g.work / "outside.txt")
    (g.work / "outside.txt").write_text("outside\n")
    lib64 = (g.venv.root / "lib64").exists()
    prelude = (
        f"import os, pathlib, shutil\nSITE, BIN, TMP = {site!r}, {scripts!r}, {tmp!r}\n"
        "def attempt(code):\n"
        "    try:\n"
        "        exec(code)\n"
        "    except PermissionError as exc:\n"
        "        print('refused', exc.errno)\n"
        "    else:\n"
        "        print('done')\n"
    )
    before = _guarded_dirs(g)
    for name, code in WRITES.items():
        if name == "through lib64" and not lib64:
            continue
        for start in (g.start, g.sealed):
            proc = start("-c", prelude + f"attempt({code!r})")
            assert proc.stdout == "refused 1\n", (name, proc.stdout, proc.stderr)
            assert "pthguard change --python" in _refusal(proc.stderr), name
    assert _guarded_dirs(g) == before
    # everywhere else, writes work as always
    proc = g.start("-c", prelude + 'attempt(\'open(TMP, "a").write("x")\')')
    assert (proc.stdout, proc.stderr) == ("done\n", "")


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_bytecode_writes_are_refused_silently(interp: Interpreter, tmp_path: Path) -> None:
    """The import system treats a refused ``__pycache__`` write as a cache miss: nothing is
    said (a guarded start prints nothing a stock start does not)."""
    g = make_guarded(interp, tmp_path)
    cache = g.interp.inner_path(g.site_packages / "plainpkg" / "__pycache__" / "x.pyc")
    code = (
        "import py_compile, sys\n"
        f"try:\n open({cache!r}, 'wb')\nexcept PermissionError:\n print('refused')\n"
    )
    proc = g.start("-c", code)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "refused\n", "")


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_token_nobody_holds_counts_for_nothing(interp: Interpreter, tmp_path: Path) -> None:
    """``PTHGUARD_CHANGE`` left in an image or a shell: writes stay refused, and an unlisted
    startup file is refused as ever."""
    g = make_guarded(interp, tmp_path)
    site = g.interp.inner_path(g.site_packages)
    for token in ("1", "x" * 64):
        proc = g.start("-c", f"open({site!r} + '/evil.pth', 'w')", env={"PTHGUARD_CHANGE": token})
        assert proc.returncode == 1
        assert "pthguard: refused to write" in proc.stderr
    change = g.state_dir() / "change"
    change.write_text("y" * 64 + "\n{}\n")  # a change file whose token is not ours
    proc = g.start("-c", f"open({site!r} + '/evil.pth', 'w')", env={"PTHGUARD_CHANGE": "x" * 64})
    assert "pthguard: refused to write" in proc.stderr
    change.unlink()
    marker = g.marker("stale")
    (g.site_packages / "evil.pth").write_bytes(marker_pth(marker))
    assert_refused(g.start("-c", "pass", env={"PTHGUARD_CHANGE": "x" * 64}), "evil.pth")
    assert not marker.exists()


# -- pthguard change ---------------------------------------------------------------------------


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_change_runs_a_multi_step_change_and_signs_after_approval(
    interp: Interpreter, tmp_path: Path
) -> None:
    """A bootstrap script that calls pip twice (the first install brings startup code): the
    second pip runs, the new startup code never runs during the change, signing waits for an
    explicit approval (--yes is not one), and the printed command signs it."""
    g = _protected(interp, tmp_path)
    marker = g.marker("newpth")
    first = g.wheel("withpth", "1.0", {"withpth.pth": marker_pth(marker)})
    second = g.wheel("plain2", "1.0", {"plain2/__init__.py": b"Y = 2\n"})
    pip = shlex.join(_inner(g, _pip(g)))
    common = " ".join(PIP_COMMON)
    script = g.work / "bootstrap.sh"
    script.write_text(
        "set -e\n"
        f"{pip} install {common} {shlex.quote(g.interp.inner_path(first))}\n"
        f"{pip} install {common} {shlex.quote(g.interp.inner_path(second))}\n"
    )
    before = _version(g)
    proc = _change(g, "--yes", "--", "sh", script)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert not marker.exists(), "unlisted startup code ran during the change"
    assert "refusing to sign" in proc.stdout
    assert (g.site_packages / "plain2" / "__init__.py").exists()
    assert _version(g) == before
    # until it is signed, the environment refuses to start, and says why
    assert_refused(g.start("-c", "pass"), "withpth.pth")
    (finish,) = re.findall(r"^\s+(\S.* change --python .*--finish.*)$", proc.stdout, re.M)
    words = shlex.split(finish)
    words = words[words.index("change") :]
    assert "--approve" in words
    done = g.pthguard(*words, "--yes", env=_config(g))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _version(g) == before + 1
    run = g.start("-c", "import plain2; print(plain2.Y)")
    assert (run.returncode, run.stdout) == (0, "2\n"), run.stderr
    assert marker.exists()  # approved: it runs now
    # the write guard is back
    again = g.venv.pip_install(second, "--force-reinstall", guarded=True, check=False)
    assert "pthguard: refused to" in again.stderr


LITELLM_SHAPED = (
    "import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', "
    "'import base64; exec(base64.b64decode(\"{payload}\"))'])\n"
)


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_change_never_signs_a_stealer_with_yes(interp: Interpreter, tmp_path: Path) -> None:
    g = _protected(interp, tmp_path)
    marker = g.marker("stolen")
    payload = base64.b64encode(f"open({marker.inner!r}, 'w').write('creds')".encode()).decode()
    wheel = g.wheel(
        "litellm",
        "1.82.8",
        {
            "litellm/__init__.py": b"",
            "litellm_init.pth": LITELLM_SHAPED.format(payload=payload).encode(),
        },
    )
    before = _version(g)
    proc = _change(g, "--yes", "--", *_pip(g), "install", *PIP_COMMON, wheel)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "refusing to sign" in proc.stdout
    assert "litellm_init.pth" in proc.stdout
    assert _version(g) == before
    assert_refused(g.start("-c", "pass"), "litellm_init.pth", "NOT executed")
    assert not marker.exists()


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_failed_change_keeps_the_signed_state_and_says_what_is_left(
    interp: Interpreter, tmp_path: Path
) -> None:
    g = _protected(interp, tmp_path)
    before = _version(g)
    proc = _change(g, "--yes", "--", *_pip(g), "install", *PIP_COMMON, "no-such-package")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "nothing was signed" in proc.stderr
    assert "still matches its signed manifest" in proc.stderr
    assert _version(g) == before
    assert not (g.state_dir() / "change").exists()
    assert g.start("-c", "pass").returncode == 0
    # a command that changed files and then failed: the environment refuses, and the
    # message names the way out
    wheel = g.wheel("half", "1.0", {"half/__init__.py": b""})
    script = f"{shlex.join(map(str, _inner(g, _pip(g))))} install {' '.join(PIP_COMMON)} " + (
        f"{shlex.quote(g.interp.inner_path(wheel))} && exit 3"
    )
    proc = _change(g, "--yes", "--", "sh", "-c", script)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "no longer matches its signed manifest" in proc.stderr
    assert f"pthguard protect --python {g.venv.python}" in proc.stderr
    assert_refused(g.start("-c", "pass"), "unlisted distribution half")


def _inner(g: Guarded, words: list[str | os.PathLike[str]]) -> list[str]:
    return [g.interp.inner_path(w) if isinstance(w, Path) else os.fspath(w) for w in words]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_an_interrupted_change_is_named_and_replaced(interp: Interpreter, tmp_path: Path) -> None:
    g = _protected(interp, tmp_path)
    stale = g.state_dir() / "change"
    stale.write_text(
        "a" * 64
        + "\n"
        + json.dumps(
            {
                "pid": 2**22 + 7,
                "started": "2026-01-01T00:00:00Z",
                "command": ["pip", "install", "x"],
            }
        )
        + "\n"
    )
    proc = _change(g, "--yes", "--", "true")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "an earlier change did not finish" in proc.stderr
    assert "pip install x" in proc.stderr
    assert not stale.exists()


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_change_no_sign_writes_the_next_version_for_the_offline_signer(
    interp: Interpreter, tmp_path: Path
) -> None:
    g = make_guarded(interp, tmp_path)
    before = _version(g)
    wheel = g.wheel("offline", "1.0", {"offline/__init__.py": b"Z = 3\n"})
    out = g.work / "next.json"
    proc = _change(g, "--no-sign", "-o", out, "--", *_pip(g), "install", *PIP_COMMON, wheel)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert doc["signed"]["version"] == before + 1
    assert not doc["signatures"]
    installed = json.loads((g.state_dir() / "manifest.json").read_text())
    assert doc["signed"]["policy"]["keys"] == installed["signed"]["policy"]["keys"]
    assert "unsigned" in proc.stdout
    # until the release engineer signs it, the environment refuses
    assert_refused(g.start("-c", "pass"), "offline")
    g.pthguard("sign", out, "--key", g.keys.private, check=True)
    g.install(out)
    run = g.start("-c", "import offline; print(offline.Z)")
    assert (run.returncode, run.stdout) == (0, "3\n"), run.stderr


def test_change_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pthguard.cli.app import main

    for argv, fragment in (
        (["change"], "give the command after --"),
        (["change", "--finish", "--", "true"], "--finish runs no command"),
        (["change", "--no-sign", "--", "true"], "give -o FILE"),
        (["change", "-o", str(tmp_path / "x.json"), "--", "true"], "-o is for --no-sign"),
    ):
        assert main(argv) == 2, argv
        assert fragment in capsys.readouterr().err, argv


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_change_of_an_unguarded_environment_says_what_to_do(
    interp: Interpreter, tmp_path: Path
) -> None:
    g = make_guarded(interp, tmp_path, install=False)
    proc = _change(g, "--", "true")
    assert proc.returncode != 0
    assert "is not guarded" in proc.stderr
    assert "pthguard protect --python" in proc.stderr
    assert proc.returncode != EXIT_REFUSED


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_change_that_could_not_be_signed_here_runs_nothing(
    interp: Interpreter, tmp_path: Path
) -> None:
    """The installed manifest is a release engineer's: the local key may not sign its next
    version, so the command does not run (no unsigned window), and the message says how."""
    g = make_guarded(interp, tmp_path)
    marker = g.marker("ran")
    proc = _change(g, "--yes", "--", "touch", g.interp.inner_path(marker.host))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "not by this machine's local key" in proc.stderr
    assert "--no-sign -o next.json" in proc.stderr
    assert not marker.exists()
    assert not (g.state_dir() / "change").exists()


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_signed_line_never_runs_a_module_the_change_modified(
    interp: Interpreter, tmp_path: Path
) -> None:
    """Inside a change, an allowed ``.pth`` line whose module the command changed does not
    run (site reports the line's error); the command itself goes on."""
    g = make_guarded(interp, tmp_path, install=False)
    before, after = g.marker("hook-signed"), g.marker("hook-changed")
    g.venv.pip_install(
        g.wheel(
            "hookpth",
            "1.0",
            {
                "hookpth.pth": b"import hookmod\n",
                "hookmod.py": f"open({before.inner!r}, 'a').write('x')\n".encode(),
            },
        )
    )
    g = _protected_existing(g)
    runs = before.count()
    module = g.interp.inner_path(g.site_packages / "hookmod.py")
    edit = f"open({after.inner!r}, 'a').write('x')"
    script = (
        f"printf '%s\\n' {shlex.quote(edit)} >> {shlex.quote(module)}; "
        f"{shlex.quote(g.venv.python)} -c 'print(\"inner ran\")'; exit 5"
    )
    proc = _change(g, "--yes", "--", "sh", "-c", script)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "inner ran" in proc.stdout
    assert "pthguard change: not running changed module file" in proc.stderr
    assert "hookpth.pth" in proc.stderr  # site: Error processing line 1 of .../hookpth.pth
    assert not after.exists()
    assert before.count() == runs


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_change_signs_nothing_and_leaves_no_token(
    dev_interp: Interpreter, tmp_path: Path, signum: int
) -> None:
    """``pthguard change`` stopped while its command runs (Ctrl-C, a service manager's
    SIGTERM): the command gets the signal, nothing is signed, the change file is gone, and
    the environment says where it stands."""
    g = _protected(dev_interp, tmp_path)
    change = g.state_dir() / "change"
    argv = [sys.executable, "-m", "pthguard", "change", "--python", g.venv.python, "--yes"]
    proc = subprocess.Popen(
        [*argv, "--", "sleep", "60"],
        env=host_env(_config(g)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not change.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert change.exists()
    time.sleep(0.3)  # the command has started
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, out + err
    assert f"exited with status {128 + signum}; nothing was signed" in err
    assert "still matches its signed manifest" in err
    assert not change.exists()
    assert g.start("-c", "pass").returncode == 0
