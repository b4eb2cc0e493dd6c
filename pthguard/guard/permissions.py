"""The ``stat`` side of the permission check: the files a guarded start trusts, as they are
on disk now, judged by the pure rules of :mod:`pthguard.environment.perms`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pthguard.environment import perms as _perms
from pthguard.environment.layout import Installation

__all__ = ["permission_warnings"]


def permission_warnings(site_dirs: list[str], installs: Sequence[Installation]) -> list[str]:
    """Who besides root can change what a guarded start trusts: the site directories and,
    when a guard is installed, its gate, state directory and files, watchdog and launcher."""
    found = _perms.targets(site_dirs)
    if installs:
        inst = installs[0]
        found = _perms.targets(
            site_dirs,
            gate_pth=inst.gate_pth,
            state_dir=inst.state_dir,
            watchdog=inst.watchdog,
            launcher=inst.launcher,
            state_files=_state_files(inst.state_dir),
        )
    checked = []
    for target in found:
        try:
            checked.append((target, os.stat(target.path)))
        except OSError:
            continue
    return _perms.permission_warnings(checked, euid=os.geteuid())


def _state_files(state_dir: str) -> list[str]:
    """The names in the state directory and its trust store, relative to the state directory."""
    names: list[str] = []
    for sub in ("", "trust"):
        try:
            names += sorted(os.path.join(sub, n) for n in os.listdir(Path(state_dir, sub)))
        except OSError:
            continue
    return names
