"""Every command joins the parser the same way (a :class:`Command` in its module's
``COMMANDS``), help goes to ``out``, and building the parser imports nothing heavy."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from types import ModuleType

import pytest

from pthguard.cli import commands
from pthguard.cli.app import build_parser, main
from pthguard.cli.command import HANDLER, Command
from pthguard.cli.commands import analysis, change, guard, keys, lock, manifest
from tests.support.interpreters import host_env

MODULES: tuple[ModuleType, ...] = (keys, manifest, guard, change, analysis, lock)
NAMES = {
    "keygen", "key", "snapshot", "sign", "sign-payload", "attach", "diff", "verify",
    "install", "uninstall", "status", "launcher", "protect", "change", "scan", "inspect",
    "audit-lock",
}  # fmt: skip


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_is_in_the_parser() -> None:
    assert set(subparsers(build_parser())) == NAMES
    assert [c.name for c in commands.COMMANDS] == [c.name for m in MODULES for c in m.COMMANDS]
    assert len(commands.COMMANDS) == len(NAMES)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rpartition(".")[2])
def test_each_module_exposes_a_tuple_of_commands(module: ModuleType) -> None:
    assert isinstance(module.COMMANDS, tuple)
    assert module.COMMANDS
    assert all(isinstance(c, Command) for c in module.COMMANDS)


def _leaves(command: Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Command]]:
    path = (*path, command.name)
    if command.subcommands:
        return [leaf for sub in command.subcommands for leaf in _leaves(sub, path)]
    return [(path, command)]


def test_every_leaf_runs_through_its_handler() -> None:
    """Each command (``key id`` and ``key show`` too) parses to the run function it declared."""
    parser = build_parser()
    leaves = [leaf for c in commands.COMMANDS for leaf in _leaves(c)]
    assert {" ".join(p) for p, _ in leaves} == (NAMES - {"key"}) | {"key id", "key show"}
    for path, command in leaves:
        node: argparse.ArgumentParser = parser
        for name in path:
            node = subparsers(node)[name]
        assert command.run is not None
        assert node.get_default(HANDLER) is command.run, path
        assert node.description == command.description


def test_key_has_subcommands_and_no_run_of_its_own() -> None:
    (key,) = [c for c in keys.COMMANDS if c.name == "key"]
    assert key.run is None
    assert [c.name for c in key.subcommands] == ["id", "show"]
    args = build_parser().parse_args(["key", "show", "k.pub", "--format", "json"])
    assert (args.command, args.key_command, args.format) == ("key", "show", "json")


def test_command_needs_run_or_subcommands() -> None:
    with pytest.raises(ValueError, match="needs either run or subcommands"):
        Command(name="nothing", help="")
    with pytest.raises(ValueError, match="needs either run or subcommands"):
        Command(
            name="both",
            help="",
            run=lambda args, ctx: 0,
            subcommands=(Command(name="x", help="", run=lambda args, ctx: 0),),
        )


def test_a_command_in_a_parser_of_its_own() -> None:
    seen: list[argparse.Namespace] = []

    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument("--flag", action="store_true")

    def run(args: argparse.Namespace, ctx: object) -> int:
        seen.append(args)
        return 0

    parser = build_parser((Command(name="demo", help="a demo", configure=configure, run=run),))
    args = parser.parse_args(["demo", "--flag"])
    assert args.flag is True
    assert getattr(args, HANDLER) is run


@pytest.mark.parametrize("argv", [["--help"], ["key", "show", "--help"], ["--version"]])
def test_help_and_version_go_to_out(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(argv, out=out, err=err) == 0
    assert out.getvalue().startswith(("usage: pthguard", "pthguard "))
    assert err.getvalue() == ""
    assert capsys.readouterr() == ("", "")


HEAVY = ("cryptography", "importlib.metadata", "importlib_metadata", "platformdirs")


@pytest.mark.parametrize("argv", [["--help"], ["verify", "--help"], ["key", "show", "--help"]])
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pthguard", *argv],
        env=host_env({}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: pthguard")
    imported = [
        line.rpartition("|")[2].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    assert "pthguard.cli.app" in imported
    heavy = [m for m in imported if m.startswith(HEAVY)]
    assert heavy == []
    domain = [m for m in imported if m.startswith("pthguard.") and m != "pthguard.errors"]
    assert all(m.startswith("pthguard.cli") for m in domain), domain


def test_building_the_parser_loads_no_domain_module() -> None:
    code = (
        "import sys; from pthguard.cli.app import build_parser; build_parser(); "
        "print('\\n'.join(sorted(sys.modules)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=host_env({}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = proc.stdout.split()
    assert not [m for m in modules if m.startswith(HEAVY)]
    assert not [
        m
        for m in modules
        if m.startswith("pthguard.") and not m.startswith(("pthguard.cli", "pthguard.errors"))
    ]
