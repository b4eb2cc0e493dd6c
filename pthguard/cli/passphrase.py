"""The passphrase of a private key: its options, then the first of ``--no-passphrase``,
``--passphrase-file``, ``PTHGUARD_PASSPHRASE`` and a prompt on the terminal."""

from __future__ import annotations

import argparse
from pathlib import Path

from pthguard.cli.context import Context
from pthguard.errors import PthguardError, UsageError

__all__ = ["passphrase", "passphrase_options"]


def passphrase_options(parser: argparse.ArgumentParser, *, creating: bool) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--passphrase-file", type=Path, help="read the passphrase from the first line of a file"
    )
    if creating:
        group.add_argument(
            "--no-passphrase", action="store_true", help="write the private key unencrypted"
        )


def passphrase(args: argparse.Namespace, ctx: Context, *, confirm: bool) -> bytes | None:
    """The passphrase the options ask for; ``confirm``: a new key (asked twice, may be none)."""
    if getattr(args, "no_passphrase", False):
        return None
    if args.passphrase_file is not None:
        from pthguard._internal.fs import read_bytes  # noqa: PLC0415

        lines = read_bytes(args.passphrase_file, "passphrase file").splitlines()
        value = lines[0] if lines else b""
        if not value:
            raise PthguardError(f"passphrase file {args.passphrase_file} is empty")
        return value
    env = ctx.environ.get("PTHGUARD_PASSPHRASE")
    if env:
        return env.encode("utf-8")
    if not ctx.stdin_is_tty():
        raise UsageError(
            "no passphrase: use --passphrase-file, PTHGUARD_PASSPHRASE, a terminal"
            + (", or --no-passphrase" if confirm else "")
        )
    first = ctx.read_secret("passphrase: ")
    if confirm and ctx.read_secret("passphrase again: ") != first:
        raise UsageError("the passphrases differ")
    if not first:
        raise UsageError("empty passphrase" + (" (use --no-passphrase)" if confirm else ""))
    return first.encode("utf-8")
