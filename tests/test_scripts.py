"""``scripts/guard``, the README's set-up command, run for real as a person runs it.

Each test has its own ``HOME`` (so the local signing key, the ``~/.local/bin/pthguard`` link
and ``PATH`` are the test's), one tool venv for the module (``PTHGUARD_TOOL_VENV``, built
by the first run: the hash-pinned dependencies from ``requirements/runtime.lock``, installed
with the machine's pip configuration, then pthguard from this clone), and a real venv to
guard. Every command the script and pthguard print is run as printed, in a shell with the
same ``PATH``: the CLI is on ``PATH`` after the set-up command, or the script says the one
``export PATH=...`` line that puts it there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.interpreters import Interpreter, interpreters_by_label
from tests.support.venvs import Venv, make_venv
from tests.support.wheels import build_wheel

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
GUARD = REPO / "scripts" / "guard"
EXIT_REFUSED = 78
#: ``PATH`` without any user bin directory: where the tests' shells find bash, ls, ...
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module")
def interp() -> Interpreter:
    found = interpreters_by_label().get("3.11") or next(
        (i for i in interpreters_by_label().values() if not i.is_chroot), None
    )
    if found is None:
        pytest.skip("no host interpreter to make venvs with")
    return found


@pytest.fixture(scope="module")
def tool_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where scripts/guard sets pthguard up; the first run in the module builds it."""
    return tmp_path_factory.mktemp("tool") / "venv"


@dataclass
class Person:
    """A person with their own home, PATH and shell, and a venv to guard."""

    home: Path
    path: str
    tool_venv: Path
    tool_python: str
    venv: Venv

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PTHGUARD_")}
        env.update(
            HOME=str(self.home),
            PATH=self.path,
            PTHGUARD_TOOL_VENV=str(self.tool_venv),
            PTHGUARD_TOOL_PYTHON=self.tool_python,
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def guard(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        """``scripts/guard ARGS``."""
        return self.shell(f"{GUARD} " + " ".join(f"'{a}'" for a in args))

    def shell(self, line: str) -> subprocess.CompletedProcess[str]:
        """``line`` as a person types it (bash, this person's environment)."""
        return subprocess.run(
            ["bash", "-c", line],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=900,
            check=False,
        )

    def wheel(self, name: str, version: str, files: dict[str, bytes]) -> Path:
        return build_wheel(self.home / "wheels", name, version, files)


def _person(interp: Interpreter, tmp_path: Path, tool_venv: Path, *, on_path: bool) -> Person:
    home = tmp_path / "home"
    home.mkdir()
    venv = make_venv(interp, tmp_path / "app" / ".venv", with_pip=False)
    path = f"{home}/.local/bin:{SYSTEM_PATH}" if on_path else SYSTEM_PATH
    person = Person(home, path, tool_venv, interp.executable, venv)
    venv.pip_install(person.wheel("plainpkg", "1.0", {"plainpkg/__init__.py": b"V = 1\n"}))
    return person


def _printed(text: str, prefix: str) -> list[str]:
    """The commands printed after ``prefix`` on a line of ``text``."""
    return [m.strip() for m in re.findall(rf"^\s*{re.escape(prefix)}(.+)$", text, re.M)]


def test_guard_puts_pthguard_on_path_and_every_printed_command_works(
    interp: Interpreter, tmp_path: Path, tool_venv: Path
) -> None:
    me = _person(interp, tmp_path, tool_venv, on_path=True)
    python = me.venv.python
    proc = me.guard(python)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    link = me.home / ".local" / "bin" / "pthguard"
    assert link.is_symlink()
    assert link.resolve() == (tool_venv / "bin" / "pthguard").resolve()
    assert f"linked {link} -> " in proc.stderr
    assert "not on PATH" not in proc.stderr
    assert me.shell("command -v pthguard").stdout.strip() == str(link)
    # what it printed, run as printed: status passes, protect finds nothing to do
    (status,) = _printed(proc.stdout, "check it:")
    (protect,) = _printed(proc.stdout, "after an intended change:")
    (undo,) = _printed(proc.stdout, "undo it:")
    assert status == f"pthguard status --python {python}"
    run = me.shell(status)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "a start of the interpreter now: passes" in run.stdout
    run = me.shell(protect)
    assert (run.returncode, run.stderr) == (0, ""), run.stdout
    assert "nothing changed" in run.stdout
    # a dropped .pth: the guarded interpreter refuses and names the command to investigate
    marker = me.home / "ran"
    code = f"import os; open({str(marker)!r}, 'a').close()\n".encode()
    me.venv.pip_install(me.wheel("evil", "1.0", {"evil_init.pth": code}))
    start = me.shell(f"{python} -c pass")
    assert start.returncode == EXIT_REFUSED
    assert not marker.exists()
    (verify,) = re.findall(r"run `(pthguard verify [^`]+)`", start.stderr)
    run = me.shell(verify)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "evil_init.pth" in run.stdout
    # signing it needs an approval by hash: the refusal prints the command that gives it
    proc = me.guard("--yes", me.venv.root)  # the flag first, the venv's directory
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "needs an explicit approval" in proc.stdout
    lines = proc.stdout.splitlines()
    (at,) = [i for i, ln in enumerate(lines) if ln.endswith("(those approved already included):")]
    again = lines[at + 1].strip()
    assert again.startswith(f"pthguard protect --python {python} --yes --approve sha256:")
    run = me.shell(again)
    assert run.returncode == 0, run.stdout + run.stderr
    assert me.shell(f"{python} -c pass").returncode == 0
    run = me.shell(undo)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "removed" in run.stdout


def test_guard_says_how_to_put_pthguard_on_path(
    interp: Interpreter, tmp_path: Path, tool_venv: Path
) -> None:
    me = _person(interp, tmp_path, tool_venv, on_path=False)
    proc = me.guard(me.venv.python)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bindir = me.home / ".local" / "bin"
    assert f'export PATH="{bindir}:$PATH"' in proc.stderr
    (export,) = re.findall(r"(export PATH=\S+)", proc.stderr)
    # pthguard's own messages name the program by its path while it is not on PATH
    (status,) = _printed(proc.stdout, "check it:")
    assert status == f"{tool_venv}/bin/pthguard status --python {me.venv.python}"
    run = me.shell(status)
    assert run.returncode == 0, run.stdout + run.stderr
    # the gate's messages say `pthguard ...`: with the line the script printed, that works
    plain = f"pthguard status --python {me.venv.python}"
    assert me.shell(plain).returncode == 127  # command not found
    run = me.shell(f"{export}; {plain}")
    assert run.returncode == 0, run.stdout + run.stderr
    # the link is never put over a pthguard that scripts/guard did not make
    (bindir / "pthguard").unlink()
    (bindir / "pthguard").write_text("#!/bin/sh\necho mine\n")
    proc = me.guard(me.venv.python)
    assert "is not a link made by scripts/guard: left as it is" in proc.stderr
    assert (bindir / "pthguard").read_text() == "#!/bin/sh\necho mine\n"


def test_guard_arguments(interp: Interpreter, tmp_path: Path, tool_venv: Path) -> None:
    me = _person(interp, tmp_path, tool_venv, on_path=True)
    python = me.venv.python
    assert me.guard(python).returncode == 0
    upgrade = me.wheel("plainpkg", "2.0", {"plainpkg/__init__.py": b"V = 2\n"})
    me.venv.pip_install(upgrade)
    proc = me.guard(python)  # a change, no terminal to ask, no --yes
    assert proc.returncode == 2
    assert "changes need confirmation" in proc.stderr
    proc = me.guard("--yes", python)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    me.venv.pip_install(me.wheel("plainpkg", "3.0", {"plainpkg/__init__.py": b"V = 3\n"}))
    proc = me.guard(python, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    me.venv.pip_install(me.wheel("plainpkg", "4.0", {"plainpkg/__init__.py": b"V = 4\n"}))
    proc = me.guard("--mode", "enforce", "--yes", "--", me.venv.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"guarded {python} in enforce mode" in proc.stdout
    # protect's options with values are passed on (the policy changes: a change to sign)
    events = me.home / "events.jsonl"
    proc = me.guard("--events-path", events, "--events-syslog", "--yes", python)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (installed,) = me.venv.site_packages.glob(".pthguard-*/manifest.json")
    assert json.loads(installed.read_text())["signed"]["policy"]["events"] == {
        "path": str(events),
        "syslog": {"socket": "/dev/log", "facility": "auth"},
    }
    # what is not an environment: a clear word, exit 2, nothing run
    (me.home / "notes").mkdir()
    for args, says in [
        ((me.home / "notes",), "is a directory without bin/python"),
        ((me.home / "missing",), "does not exist"),
        ((me.home / "notes", python), "one environment at a time"),
        (("--mode",), "--mode needs a value"),
        (("--events-path",), "--events-path needs a value"),
        ((), "usage: scripts/guard"),
    ]:
        proc = me.guard(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert says in proc.stderr, (args, proc.stderr)
        assert proc.stdout == ""
