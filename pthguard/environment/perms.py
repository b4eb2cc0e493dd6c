"""Permission checks of what a guarded start trusts (like ssh's StrictModes). Pure: paths
and ``stat`` results in, warnings out; :mod:`pthguard.guard.permissions` does the ``stat`` calls.

pthguard does not protect against code that already runs as a user who can rewrite the
gate, its seal, the installed manifest, the trust store or site-packages itself (README,
threat model). The fix is a layout no such user can write: root-owned, not writable by group
or others, with the interpreter run as a non-root user. A path gets a warning when it is

* writable by others, or by its group (always, whoever owns it);
* owned by a user other than root: its owner can change it (even a read-only mode: the owner
  may ``chmod`` it back), and the owner is typically the user the interpreter runs as.

A root-owned path that only root may write gets none (also when root runs the interpreter:
root can change anything anyway). Parent directories are not checked: site-packages' own
directory and pthguard's state directory are.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["FIX", "Target", "permission_warnings", "targets"]

FIX = (
    "make it root-owned and not writable by group or others (chown root:root; chmod go-w), "
    "and run the interpreter as a non-root user"
)


class StatLike(Protocol):
    @property
    def st_mode(self) -> int: ...
    @property
    def st_uid(self) -> int: ...
    @property
    def st_gid(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Target:
    """One path to check and what it is, for the message."""

    role: str
    path: str


def targets(
    site_dirs: Iterable[str],
    *,
    gate_pth: str | None = None,
    state_dir: str | None = None,
    watchdog: str | None = None,
    launcher: str | None = None,
    state_files: Iterable[str] = (),
) -> list[Target]:
    """What a guarded start trusts: the site directories, and when a guard is installed its
    gate, state directory (seal, compiled gate, installed manifest, trust store; the file
    names in ``state_files``, relative to it), watchdog and sealed launcher."""
    found = [Target("site directory", path) for path in site_dirs]
    if gate_pth:
        found.append(Target("gate", gate_pth))
    if state_dir:
        found.append(Target("state directory", state_dir))
        roles = {"seal.bin": "seal", "manifest.json": "installed manifest", "trust": "trust store"}
        for name in state_files:
            role = roles.get(name) or (
                "trust anchor"
                if name.startswith("trust" + os.sep)
                else "compiled gate"
                if name.startswith("gate.")
                else "state file"
            )
            found.append(Target(role, os.path.join(state_dir, name)))
    if watchdog:
        found.append(Target("watchdog", watchdog))
    if launcher:
        found.append(Target("sealed launcher", launcher))
    return found


def _problems(st: StatLike, euid: int) -> list[str]:
    out = []
    if st.st_mode & stat.S_IWOTH:
        out.append("writable by others")
    if st.st_mode & stat.S_IWGRP:
        out.append(f"writable by its group (gid {st.st_gid})")
    if st.st_uid != 0:
        who = " (the user running this check)" if st.st_uid == euid else ""
        out.append(f"owned by uid {st.st_uid}{who}, not root")
    return out


def permission_warnings(checked: Sequence[tuple[Target, StatLike]], *, euid: int) -> list[str]:
    """One warning per path whose permissions let someone other than root change it."""
    warnings = []
    for target, st in checked:
        problems = _problems(st, euid)
        if problems:
            mode = stat.S_IMODE(st.st_mode)
            warnings.append(
                f"{target.role} {target.path} is {' and '.join(problems)} (mode {mode:04o}): "
                "code running as that user or group can change what a guarded start trusts; " + FIX
            )
    return warnings
