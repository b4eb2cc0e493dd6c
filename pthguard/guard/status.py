"""``status``: is a guard installed in an environment, what does it enforce, and does a
start of the interpreter pass it now."""

from __future__ import annotations

from dataclasses import dataclass, field

from pthguard._internal.fs import read_bytes
from pthguard.environment import layout as _layout
from pthguard.environment import probe as _probe
from pthguard.guard import install as _install
from pthguard.guard.permissions import permission_warnings
from pthguard.manifest import envelope as _envelope
from pthguard.manifest.envelope import Envelope

__all__ = ["Installed", "Status", "status"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Installed:
    """An installed guard, its manifest, and the outcome of a real start of the interpreter."""

    installation: _layout.Installation
    envelope: Envelope
    start_exit_code: int
    start_stderr: str
    permission_warnings: list[str] = field(default_factory=list)
    #: Why the sealed launcher is not the file install wrote, or None.
    launcher_problem: str | None = None

    @property
    def passes(self) -> bool:
        return self.start_exit_code == 0 and self.launcher_problem is None


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    python: str
    #: ``None`` when no guard is installed.
    installed: Installed | None


def status(python: str | None) -> Status:
    """The status of the guard of ``python``'s environment (default: this interpreter)."""
    probe = _probe.probe(python)
    site_dirs = [s.path for s in probe.site_dirs if s.exists]
    installs = _layout.find_installations(site_dirs)
    if not installs:
        return Status(python=probe.executable, installed=None)
    inst = installs[0]
    envelope = _envelope.parse_envelope(read_bytes(inst.manifest_path, "manifest"), "manifest")
    code, stderr = _install.guarded_start(probe.executable)
    return Status(
        python=probe.executable,
        installed=Installed(
            installation=inst,
            envelope=envelope,
            start_exit_code=code,
            start_stderr=stderr,
            permission_warnings=permission_warnings(site_dirs, installs),
            launcher_problem=_layout.launcher_problem(inst),
        ),
    )
