"""The I/O a command may use: results go to ``out``, diagnostics to ``err``; the clock, the
environment variables, and the terminal (is there one, how a secret or an answer is read).

Commands reach these through the context, so tests can replace each piece.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import shlex
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["Clock", "Context", "invoked_as", "this_program", "utc_now"]

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _environ() -> Mapping[str, str]:
    return os.environ


def invoked_as(argv0: str, executable: str, on_path: str | None) -> str:
    """How a person runs this same pthguard again (the commands that messages print):
    ``pthguard`` when that name on ``PATH`` (``on_path``) is this program, else the path of
    the program that runs (``argv0``), or ``PYTHON -m pthguard`` when it runs as a module."""
    if on_path is not None:
        here = os.path.realpath(on_path)
        if here == os.path.realpath(argv0) or (
            os.path.basename(argv0) == "__main__.py"
            and os.path.dirname(here) == os.path.dirname(os.path.realpath(executable))
        ):
            return "pthguard"
    if not argv0 or os.path.basename(argv0) == "__main__.py":
        return f"{shlex.quote(executable)} -m pthguard"
    return shlex.quote(os.path.abspath(argv0))


def which(name: str) -> str | None:
    """``shutil.which(name)`` for a command name without a directory, as it searches on
    POSIX (every start runs this; shutil's import costs more than the search)."""
    if os.name != "posix" or os.sep in name:
        import shutil  # noqa: PLC0415

        return shutil.which(name)
    path = os.environ.get("PATH")
    if path is None:
        try:
            path = os.confstr("CS_PATH")
        except (AttributeError, ValueError):
            path = os.defpath
    if not path:
        return None
    seen: set[str] = set()
    for directory in path.split(os.pathsep):
        if directory in seen:
            continue
        seen.add(directory)
        candidate = os.path.join(directory, name)
        if (
            os.path.exists(candidate)
            and os.access(candidate, os.F_OK | os.X_OK)
            and not os.path.isdir(candidate)
        ):
            return candidate
    return None


def this_program() -> str:
    """:func:`invoked_as` for this process."""
    argv0 = sys.argv[0] if sys.argv else ""
    return invoked_as(argv0, sys.executable, which("pthguard"))


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
    #: The command that runs this pthguard (:func:`invoked_as`) and the arguments it was
    #: given: what the commands that messages print start with.
    program: str = "pthguard"
    argv: tuple[str, ...] = ()

    def command_line(self, *, drop: Collection[str] = ()) -> str:
        """The command the person ran, as they can run it again, without the options named
        in ``drop`` (each with its value, ``--opt V`` or ``--opt=V``)."""
        words: list[str] = []
        skip = False
        for word in self.argv:
            if skip:
                skip = False
            elif word in drop:
                skip = True
            elif word.partition("=")[0] not in drop:
                words.append(word)
        return " ".join([self.program, *map(shlex.quote, words)])

    def diagnose(self, kind: str, message: str) -> None:
        """Write one ``pthguard: KIND: MESSAGE`` line to ``err``."""
        self.err.write(f"pthguard: {kind}: {message}\n")

    def warn(self, message: str) -> None:
        self.diagnose("warning", message)
