"""Every command, grouped by module, in the order ``pthguard --help`` lists them.

Each module exposes ``COMMANDS``, a tuple of :class:`~pthguard.cli.command.Command`; a
command imports the domain modules it needs inside its run function, so that building the
parser imports nothing heavy.
"""

from __future__ import annotations

from pthguard.cli.command import Command
from pthguard.cli.commands import analysis, change, guard, keys, lock, manifest

__all__ = ["COMMANDS"]

COMMANDS: tuple[Command, ...] = (
    *keys.COMMANDS,
    *manifest.COMMANDS,
    *guard.COMMANDS,
    *change.COMMANDS,
    *analysis.COMMANDS,
    *lock.COMMANDS,
)
