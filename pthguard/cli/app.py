"""``main()``: the parser built from every command, dispatch, and the one place where errors
become exit codes.

Exit codes: 0 clean; 1 differences or findings; 2 usage (:class:`UsageError`); 3
operational error (any other :class:`PthguardError`: bad manifest, bad key, unreadable
files). An error prints one ``pthguard: error: ...`` line with the remedy on ``err``;
``-v``/``--verbose`` adds the traceback before it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from pthguard import __version__
from pthguard.cli.command import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    HANDLER,
    Command,
    Parser,
    Run,
    register,
)
from pthguard.cli.commands import COMMANDS
from pthguard.cli.context import Clock, Context, this_program, utc_now
from pthguard.errors import PthguardError, UsageError

__all__ = ["build_parser", "main", "run"]


def build_parser(commands: Sequence[Command] = COMMANDS) -> Parser:
    parser = Parser(
        prog="pthguard",
        description="Refuse to start a Python environment that differs from its signed manifest.",
    )
    parser.add_argument("--version", action="version", version=f"pthguard {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in commands:
        register(sub, command)
    return parser


def run(argv: Sequence[str] | None, ctx: Context) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command, return its exit code."""
    args: argparse.Namespace | None = None
    try:
        args = _parse(argv, ctx)
        if args is None:
            return EXIT_OK
        handler: Run = getattr(args, HANDLER)
        return handler(args, ctx)
    except UsageError as exc:
        ctx.diagnose("usage error", exc.diagnostics())
        return EXIT_USAGE
    except PthguardError as exc:
        if args is not None and args.verbose:
            import traceback  # noqa: PLC0415 (-v only)

            traceback.print_exc(file=ctx.err)
        ctx.diagnose("error", exc.diagnostics())
        return EXIT_ERROR
    except KeyboardInterrupt:
        ctx.err.write("pthguard: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `pthguard ... | head`: the reader left; say nothing more
        _discard(ctx.out)
        return EXIT_OK


def _parse(argv: Sequence[str] | None, ctx: Context) -> argparse.Namespace | None:
    """The parsed arguments, or ``None`` once ``--help`` or ``--version`` printed to ``out``."""
    try:
        with contextlib.redirect_stdout(ctx.out):
            return build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits after printing help or the version
        if exc.code not in (0, None):
            raise
        return None


def _discard(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at /dev/null, so that flushing it at exit is quiet."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    os.dup2(os.open(os.devnull, os.O_WRONLY), fd)


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    clock: Clock | None = None,
) -> int:
    """Run the CLI; returns the exit code (tests call this in-process).

    Results go to ``out`` (default: standard output), diagnostics to ``err`` (default:
    standard error); ``clock`` gives the time signatures and expiry are judged at."""
    ctx = Context(
        out=out if out is not None else sys.stdout,
        err=err if err is not None else sys.stderr,
        clock=clock or utc_now,
        program="pthguard" if argv is not None else this_program(),
        argv=tuple(argv if argv is not None else sys.argv[1:]),
    )
    return run(argv, ctx)
