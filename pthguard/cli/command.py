"""What a command is (name, help, options, run function, or subcommands), the exit codes a
run returns, and :func:`register`: the one way every command joins the parser."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from pthguard.errors import UsageError

if TYPE_CHECKING:
    from pthguard.cli.context import Context

__all__ = [
    "EXIT_DIFFERENCES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Command",
    "Parser",
    "Run",
    "register",
]

EXIT_OK, EXIT_DIFFERENCES, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3
EXIT_INTERRUPTED = 130

Run = Callable[[argparse.Namespace, "Context"], int]
Configure = Callable[[argparse.ArgumentParser], None]
#: The attribute of the parsed arguments that holds the run function of the command given.
HANDLER = "handler"


def no_options(parser: argparse.ArgumentParser) -> None:
    """The ``configure`` of a command that takes no options of its own."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A command: ``configure`` adds its arguments; ``run`` does it and returns the exit code.

    A command with ``subcommands`` (``key id``, ``key show``) has no ``run`` of its own."""

    name: str
    help: str
    configure: Configure = no_options
    run: Run | None = None
    description: str | None = None
    subcommands: tuple[Command, ...] = ()

    def __post_init__(self) -> None:
        if (self.run is None) == (not self.subcommands):
            raise ValueError(f"command {self.name!r} needs either run or subcommands")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are :class:`UsageError` (exit 2, one line)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def register(subparsers: argparse._SubParsersAction[Parser], command: Command) -> Parser:
    """Add ``command`` (and its subcommands, under ``dest`` ``<name>_command``)."""
    parser = subparsers.add_parser(command.name, help=command.help, description=command.description)
    command.configure(parser)
    if command.run is not None:
        parser.set_defaults(**{HANDLER: command.run})
    if command.subcommands:
        nested = parser.add_subparsers(
            dest=f"{command.name}_command", required=True, parser_class=Parser
        )
        for sub in command.subcommands:
            register(nested, sub)
    return parser
