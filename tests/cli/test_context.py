"""The I/O context: commands write results to ``out`` and diagnostics to ``err`` (never to
``sys.stdout``/``sys.stderr`` directly), and read passphrases and answers through it."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from pthguard.cli.app import run
from pthguard.cli.context import Context, invoked_as, which
from tests.conftest import Guarded, approvals_for


class Terminal:
    """A person at a terminal who gives ``answers`` in turn, and the prompts they saw."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.answers.pop(0)


def context(
    *,
    secret: Callable[[str], str] | None = None,
    answer: Callable[[str], str] | None = None,
    tty: bool = False,
    environ: dict[str, str] | None = None,
) -> Context:
    def refuse(prompt: str) -> str:
        raise AssertionError(f"unexpected prompt {prompt!r}")

    return Context(
        out=io.StringIO(),
        err=io.StringIO(),
        environ=environ or {},
        stdin_is_tty=lambda: tty,
        read_secret=secret or refuse,
        read_answer=answer or refuse,
    )


def text(stream: object) -> str:
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


def keygen_argv(where: Path, name: str = "k") -> list[str]:
    return ["keygen", "--private-key", str(where / f"{name}.key"), "--public-key",
            str(where / f"{name}.pub")]  # fmt: skip


# -- passphrases ------------------------------------------------------------------------------


def test_keygen_asks_the_terminal_twice(tmp_path: Path) -> None:
    person = Terminal("s3cret", "s3cret")
    ctx = context(secret=person, tty=True)
    assert run(keygen_argv(tmp_path), ctx) == 0
    assert person.prompts == ["passphrase: ", "passphrase again: "]
    assert "(mode 0600, encrypted)" in text(ctx.out)
    assert text(ctx.err) == ""
    assert (tmp_path / "k.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")


def test_keygen_passphrases_differ(tmp_path: Path) -> None:
    ctx = context(secret=Terminal("one", "two"), tty=True)
    assert run(keygen_argv(tmp_path), ctx) == 2
    assert text(ctx.err) == "pthguard: usage error: the passphrases differ\n"
    assert text(ctx.out) == ""
    assert not (tmp_path / "k.key").exists()


def test_keygen_without_a_terminal_or_passphrase(tmp_path: Path) -> None:
    ctx = context(tty=False)
    assert run(keygen_argv(tmp_path), ctx) == 2
    assert text(ctx.err).startswith("pthguard: usage error: no passphrase: use --passphrase-file")


def test_keygen_passphrase_from_the_context_environment(tmp_path: Path) -> None:
    ctx = context(environ={"PTHGUARD_PASSPHRASE": "from env"})
    assert run(keygen_argv(tmp_path), ctx) == 0
    assert "(mode 0600, encrypted)" in text(ctx.out)


# -- warnings go to err -------------------------------------------------------------------------


def test_warnings_go_to_err(
    guarded: Guarded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = guarded.venv.site_packages
    site.chmod(stat.S_IMODE(site.stat().st_mode) | stat.S_IWOTH)
    ctx = context()
    argv = ["verify", "--python", guarded.venv.python, "--manifest", str(guarded.manifest),
            "--trust", str(guarded.keys.public)]  # fmt: skip
    assert run(argv, ctx) == 0
    assert text(ctx.out).splitlines()[0].startswith(f"{guarded.venv.python}: environment matches")
    warnings = text(ctx.err).splitlines()
    assert warnings
    assert all(w.startswith("pthguard: warning: ") for w in warnings)
    assert any(
        w.startswith(f"pthguard: warning: site directory {site} is writable by others")
        for w in warnings
    ), warnings
    # JSON: the same warnings in the report, nothing on err
    ctx = context()
    assert run([*argv, "--format", "json"], ctx) == 0
    doc = json.loads(text(ctx.out))
    assert [f"pthguard: warning: {w}" for w in doc["permission_warnings"]] == warnings
    assert text(ctx.err) == ""

    info = site / "beta-1.0.dist-info"
    (info / "RECORD").unlink()
    output = tmp_path / "m.json"
    ctx = context()
    argv = ["snapshot", "--python", guarded.venv.python, "-o", str(output)]
    assert run([*argv, *approvals_for(guarded.venv.python)], ctx) == 0
    assert text(ctx.err) == (
        f"pthguard: warning: {info}: no RECORD: its files cannot be checked "
        "(reinstall it with pip)\n"
    )
    assert text(ctx.out).startswith(f"wrote {output}: version 1")
    assert capsys.readouterr() == ("", "")


# -- protect asks before it re-signs ----------------------------------------------------------


def test_protect_asks_before_signing_changes(
    guarded: Guarded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTHGUARD_CONFIG_DIR", str(tmp_path / "config"))
    python = guarded.venv.python
    ctx = context()
    assert run(["protect", "--python", python, *approvals_for(python)], ctx) == 0, text(ctx.err)
    assert text(ctx.out).startswith("created a local signing key: ")
    (guarded.venv.site_packages / "zz-new.pth").write_text("import os\n")
    approve = ["--approve", "sha256:" + hashlib.sha256(b"import os\n").hexdigest()]

    ctx = context(tty=False)
    assert run(["protect", "--python", python, *approve], ctx) == 2
    assert "unlisted startup file" in text(ctx.out)
    assert text(ctx.err) == (
        "pthguard: usage error: changes need confirmation: review them above, then add --yes\n"
    )
    person = Terminal("n")
    ctx = context(tty=True, answer=person)
    assert run(["protect", "--python", python, *approve], ctx) == 1
    assert person.prompts == ["sign these changes and install them? [y/N] "]
    assert text(ctx.out).endswith("nothing was changed\n")
    ctx = context(tty=True, answer=Terminal("yes"))
    assert run(["protect", "--python", python, *approve], ctx) == 0
    assert "(version 2)" in text(ctx.out)
    ctx = context()
    assert run(["protect", "--python", python], ctx) == 0
    assert text(ctx.out).startswith("nothing changed since manifest version 2")
    assert run(["uninstall", "--python", python], context()) == 0


def test_protect_signs_a_new_mode_or_expiry_of_an_unchanged_environment(
    guarded: Guarded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The policy and the expiry are part of what is signed: ``protect --mode warn`` or a new
    ``--expires-days`` re-signs even when no file changed; left out, the installed mode stays."""
    monkeypatch.setenv("PTHGUARD_CONFIG_DIR", str(tmp_path / "config"))
    python = guarded.venv.python
    assert run(["protect", "--python", python, *approvals_for(python)], context()) == 0
    ctx = context()
    assert run(["protect", "--python", python, "--mode", "warn", "--yes"], ctx) == 0, text(ctx.err)
    assert "changed environment policy" in text(ctx.out)
    assert " in warn mode" in text(ctx.out)
    assert "(version 2)" in text(ctx.out)
    ctx = context()
    assert run(["protect", "--python", python], ctx) == 0
    assert text(ctx.out).startswith("nothing changed since manifest version 2")
    ctx = context()
    assert run(["protect", "--python", python, "--expires-days", "30", "--yes"], ctx) == 0
    assert "changed environment expires" in text(ctx.out)
    assert "(version 3)" in text(ctx.out)
    assert " in warn mode" in text(ctx.out)
    assert run(["uninstall", "--python", python], context()) == 0


def test_protect_keeps_the_refusal_events_until_told(
    guarded: Guarded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``policy.events`` is signed like the mode: given, a change to sign; left out, the last
    manifest's targets stay; ``--no-events`` removes them."""
    monkeypatch.setenv("PTHGUARD_CONFIG_DIR", str(tmp_path / "config"))
    python = guarded.venv.python
    events = str(tmp_path / "events.jsonl")

    def policy() -> dict[str, object]:
        (installed,) = guarded.venv.site_packages.glob(".pthguard-*/manifest.json")
        doc: dict[str, object] = json.loads(installed.read_text())["signed"]["policy"]
        return doc

    argv = ["protect", "--python", python, "--events-path", events, *approvals_for(python)]
    ctx = context()
    assert run(argv, ctx) == 0, text(ctx.err)
    assert policy()["events"] == {"path": events, "syslog": None}
    ctx = context()
    assert run(["protect", "--python", python], ctx) == 0
    assert text(ctx.out).startswith("nothing changed since manifest version 1")
    ctx = context()
    argv = ["protect", "--python", python, "--events-syslog", "--yes"]
    assert run(argv, ctx) == 0, text(ctx.err)
    assert "changed environment policy" in text(ctx.out)
    assert policy()["events"] == {
        "path": None,
        "syslog": {"socket": "/dev/log", "facility": "auth"},
    }
    ctx = context()
    assert run(["protect", "--python", python, "--no-events", "--yes"], ctx) == 0, text(ctx.err)
    assert "(version 3)" in text(ctx.out)
    assert "events" not in policy()
    ctx = context()
    assert run(["protect", "--python", python, "--no-events", "--events-path", events], ctx) == 2
    assert "--no-events cannot be combined" in text(ctx.err)
    assert run(["uninstall", "--python", python], context()) == 0


def test_protect_keeps_the_rest_of_the_signed_policy(
    guarded: Guarded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest signed with the local key by a release workflow (``snapshot`` options
    ``protect`` has not): the next version ``protect`` (and so ``change``) signs keeps them."""
    config = tmp_path / "config"
    monkeypatch.setenv("PTHGUARD_CONFIG_DIR", str(config))
    python = guarded.venv.python
    assert run(["protect", "--python", python, *approvals_for(python)], context()) == 0
    manifest = tmp_path / "m.json"
    argv = ["snapshot", "--python", python, "-o", str(manifest), "--version", "2",
            "--allow-env-override", "--unlisted-distributions", "report",
            "--unclaimed-files", "ignore", "--project", "alpha"]  # fmt: skip
    argv += approvals_for(python)
    assert run(argv, context()) == 0
    assert run(["sign", str(manifest), "--key", str(config / "local.key")], context()) == 0
    argv = ["install", "--python", python, "--manifest", str(manifest),
            "--trust", str(config / "local.pub")]  # fmt: skip
    ctx = context()
    assert run(argv, ctx) == 0, text(ctx.err)
    ctx = context()
    assert run(["protect", "--python", python, "--mode", "warn", "--yes"], ctx) == 0, text(ctx.err)
    assert "(version 3)" in text(ctx.out)
    (installed,) = guarded.venv.site_packages.glob(".pthguard-*/manifest.json")
    policy = json.loads(installed.read_text())["signed"]["policy"]
    assert (policy["mode"], policy["allow_env_override"]) == ("warn", True)
    assert (policy["unlisted_distributions"], policy["unclaimed_files"]) == ("report", "ignore")
    assert policy["project"]["name"] == "alpha"
    assert run(["uninstall", "--python", python], context()) == 0


# -- the commands messages print ------------------------------------------------------------


def test_invoked_as_names_the_program_a_person_can_run_again(tmp_path: Path) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    script = venv_bin / "pthguard"
    script.write_text("#!/bin/sh\n")
    link = tmp_path / "local-bin" / "pthguard"
    link.parent.mkdir()
    link.symlink_to(script)
    python = str(venv_bin / "python")
    main_py = "/src/pthguard/__main__.py"
    other = tmp_path / "other-pthguard"
    other.write_text("#!/bin/sh\n")
    # the console script, found on PATH directly or through a link: its name
    assert invoked_as(str(script), python, str(script)) == "pthguard"
    assert invoked_as(str(script), python, str(link)) == "pthguard"
    # another pthguard on PATH, or none: this one's path
    assert invoked_as(str(script), python, str(other)) == str(script)
    assert invoked_as(str(script), python, None) == str(script)
    # python -m pthguard: its interpreter, unless the same environment's pthguard is on PATH
    assert invoked_as(main_py, python, None) == f"{python} -m pthguard"
    assert invoked_as(main_py, python, str(other)) == f"{python} -m pthguard"
    assert invoked_as(main_py, python, str(link)) == "pthguard"
    assert invoked_as(main_py, "/a b/python", None) == "'/a b/python' -m pthguard"


def test_command_line_is_what_was_run_without_the_dropped_options() -> None:
    ctx = Context(
        out=io.StringIO(),
        err=io.StringIO(),
        program="/x/pthguard",
        argv=("protect", "--python", "/v/bin/py", "--approve", "sha256:a", "--yes",
              "--approve=sha256:b", "--mode", "warn", "--approvals", "my file"),
    )  # fmt: skip
    assert ctx.command_line(drop=["--approve"]) == (
        "/x/pthguard protect --python /v/bin/py --yes --mode warn --approvals 'my file'"
    )
    assert ctx.command_line() == (
        "/x/pthguard protect --python /v/bin/py --approve sha256:a --yes --approve=sha256:b "
        "--mode warn --approvals 'my file'"
    )


@pytest.mark.parametrize("path", [None, "", ":", "A:B", "B:A:B", "NOEXEC:A", "DIR:A", "missing:A"])
def test_which_is_shutils(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str | None
) -> None:
    """``which`` (no shutil import on every start) finds what ``shutil.which`` finds."""
    for name in ("A", "B", "NOEXEC", "DIR"):
        (tmp_path / name).mkdir()
    for name in ("A", "B"):
        (tmp_path / name / "pthguard").write_text("#!/bin/sh\n")
        (tmp_path / name / "pthguard").chmod(0o755)
    (tmp_path / "NOEXEC" / "pthguard").write_text("")
    (tmp_path / "DIR" / "pthguard").mkdir()
    monkeypatch.chdir(tmp_path)
    if path is None:
        monkeypatch.delenv("PATH", raising=False)
    else:
        dirs = [str(tmp_path / d) if d and d != "missing" else d for d in path.split(":")]
        monkeypatch.setenv("PATH", ":".join(dirs))
    for command in ("pthguard", "sh", "no-such-command"):
        assert which(command) == shutil.which(command), (path, command)
