"""Lock command: ``audit-lock`` checks that requirements files and ``pylock.toml`` pin every
package by exact version and sha256 hash, and, with ``--python``, that they match what is
installed."""

from __future__ import annotations

import argparse
from pathlib import Path

from pthguard.cli.command import EXIT_DIFFERENCES, EXIT_OK, Command
from pthguard.cli.context import Context
from pthguard.cli.options import format_option

__all__ = ["COMMANDS"]


def _audit_lock_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "locks",
        nargs="+",
        type=Path,
        metavar="LOCK",
        help="requirements.txt, *.lock or pylock.toml (several: each is audited)",
    )
    p.add_argument(
        "--python", help="also compare the distributions this interpreter has (one LOCK only)"
    )
    format_option(p)


def _audit_lock(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.lock import audit as _audit  # noqa: PLC0415
    from pthguard.render import lock as _render  # noqa: PLC0415

    locks, python = _audit.audit(list(args.locks), args.python)
    render = _render.render_json if args.format == "json" else _render.render_text
    ctx.out.write(render(locks, python))
    return EXIT_DIFFERENCES if any(lock.findings for lock in locks) else EXIT_OK


COMMANDS = (
    Command(
        name="audit-lock",
        help="check that a lock pins every package by version and sha256 hash",
        description=(
            "Check requirements files (pip-compile --generate-hashes) and PEP 751 pylock.toml: "
            "every requirement an exact pin with a sha256 hash; with --python, compare the "
            "installed distributions with the lock. Exit 1 on any finding, 3 on a lock that "
            "cannot be read."
        ),
        configure=_audit_lock_options,
        run=_audit_lock,
    ),
)
