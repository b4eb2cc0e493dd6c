"""The I/O a command may use: results go to ``out``, diagnostics to ``err``; the clock, the
environment variables, and the terminal (is there one, how a secret or an answer is read).

Commands reach these through the context, so tests can replace each piece.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["Clock", "Context", "utc_now"]

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _environ() -> Mapping[str, str]:
    return os.environ


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    out: TextIO
    err: TextIO
    clock: Clock = utc_now
    environ: Mapping[str, str] = field(default_factory=_environ)
    #: Whether a person can answer: standard input is a terminal.
    stdin_is_tty: Callable[[], bool] = _stdin_is_tty
    #: Read a secret after showing the prompt, without echo.
    read_secret: Callable[[str], str] = getpass.getpass
    #: Read a line of answer after showing the prompt.
    read_answer: Callable[[str], str] = input

    def diagnose(self, kind: str, message: str) -> None:
        """Write one ``pthguard: KIND: MESSAGE`` line to ``err``."""
        self.err.write(f"pthguard: {kind}: {message}\n")

    def warn(self, message: str) -> None:
        self.diagnose("warning", message)
