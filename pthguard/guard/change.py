"""``pthguard change``: run a command that changes a guarded environment, in the open.

A guarded environment's own processes may not write to it (the gate's write guard). A
change runs its command with a token: ``pthguard change`` writes a random token to the
``change`` file of the state directory (where no process of the environment can write) and
gives it to the command as ``PTHGUARD_CHANGE``. Every process of the environment started
with the token that matches the file (the command and its children, however many steps)
may write; its gate still never runs unlisted startup code, says nothing, and lets the
command import what it has just installed. When the command ends the file is removed, and
the token counts for nothing: the environment enforces again, against its previous signed
manifest, until the next version is signed (:mod:`.protect`) and installed.

An interrupted change (the command killed, ``pthguard`` killed) leaves at most a ``change``
file naming a process that no longer runs; the next change replaces it, and the gate never
honours a token nobody holds.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from pthguard._internal.fs import write_atomic
from pthguard.environment import layout as _layout
from pthguard.environment import probe as _probe
from pthguard.errors import PthguardError
from pthguard.findings import Finding
from pthguard.formats.approvals import ApprovalRequest
from pthguard.guard import snapshot as _snapshot
from pthguard.manifest import compare as _compare
from pthguard.manifest.envelope import Envelope, read_envelope
from pthguard.manifest.model import Mode, format_time, parse_time

__all__ = [
    "CHANGE_FILE",
    "ENV_VAR",
    "Change",
    "Draft",
    "Pending",
    "command_environment",
    "draft_next",
    "open_change",
    "run_command",
]

CHANGE_FILE = "change"
ENV_VAR = "PTHGUARD_CHANGE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """What a ``change`` file says: who started it, when, and to run what."""

    pid: int
    started: str
    command: tuple[str, ...]

    def running(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # another user's process
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """A change in progress: the file that holds its token, and the environment's probe."""

    probe: _probe.Probe
    installation: _layout.Installation
    path: Path
    token: str
    interrupted: Pending | None  # an earlier change that did not finish

    @property
    def python(self) -> str:
        return self.probe.executable


def read_pending(path: Path) -> Pending | None:
    """The change a ``change`` file describes, or None (none, or not readable as one)."""
    try:
        lines = path.read_bytes().split(b"\n", 1)
        doc = json.loads(lines[1]) if len(lines) == 2 else None
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    try:
        return Pending(
            pid=int(doc["pid"]), started=str(doc["started"]), command=tuple(doc["command"])
        )
    except (KeyError, TypeError, ValueError):
        return None


@contextmanager
def open_change(
    python: str | None, command: Sequence[str], *, now: dt.datetime
) -> Iterator[Change]:
    """Write the ``change`` file of ``python``'s guarded environment for the duration of the
    ``with`` block; it is removed on the way out however the block ends (an ``OSError``
    removing it is raised: the token would otherwise stay valid)."""
    probe = _probe.probe(python)
    installs = _layout.installations_of(probe)
    if not installs:
        raise PthguardError(
            f"{probe.executable} is not guarded: there is nothing to change under guard",
            remedy=f"run the command as usual, then `pthguard protect --python {probe.executable}`",
        )
    inst = installs[0]
    path = Path(inst.state_dir) / CHANGE_FILE
    earlier = read_pending(path) if path.exists() else None
    if earlier is not None and earlier.running() and earlier.pid != os.getpid():
        raise PthguardError(
            f"another change of {probe.executable} is running (pid {earlier.pid}, started "
            f"{earlier.started}: {' '.join(earlier.command)})",
            remedy="wait for it to finish, or stop that process",
        )
    token = secrets.token_hex(32)
    doc = {"pid": os.getpid(), "started": format_time(now), "command": list(command)}
    write_atomic(path, token.encode() + b"\n" + json.dumps(doc).encode() + b"\n", 0o600)
    try:
        yield Change(probe=probe, installation=inst, path=path, token=token, interrupted=earlier)
    finally:
        _remove_if_ours(path, token)


def _remove_if_ours(path: Path, token: str) -> None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    if data.split(b"\n", 1)[0] == token.encode():
        path.unlink()


def command_environment(change: Change, base: dict[str, str]) -> dict[str, str]:
    """The command's environment: the token, and the environment's scripts directory first
    on ``PATH`` (``pip``, ``uv pip`` and console scripts find this environment, as in an
    activated venv; ``VIRTUAL_ENV`` names it when it is one)."""
    env = dict(base)
    env[ENV_VAR] = change.token
    scripts = change.probe.scripts or os.path.dirname(change.probe.executable)
    env["PATH"] = scripts + os.pathsep + base.get("PATH", os.defpath)
    if change.probe.pyvenv_cfg is not None:
        env["VIRTUAL_ENV"] = change.probe.prefix
        env.pop("PYTHONHOME", None)
    return env


def run_command(change: Change, command: Sequence[str]) -> int:
    """Run ``command`` with the change's token; its exit status (128 + N when a signal N
    ended it; 127 when it cannot be found, as a shell says)."""
    env = command_environment(change, dict(os.environ))
    program = shutil.which(command[0], path=env["PATH"]) or command[0]
    try:
        process = subprocess.Popen([program, *command[1:]], env=env)
    except FileNotFoundError as exc:
        raise PthguardError(
            f"cannot run {command[0]}: not found on PATH ({exc.strerror})",
            remedy="give the command's full path, or the environment's own (bin/pip)",
        ) from exc
    except PermissionError as exc:
        raise PthguardError(f"cannot run {command[0]}: {exc.strerror}") from exc
    # SIGTERM/SIGHUP go on to the command, and the change file is removed when it ends
    forwarded = {
        number: signal.signal(number, lambda signum, _frame: process.send_signal(signum))
        for number in (signal.SIGTERM, signal.SIGHUP)
    }
    try:
        while True:
            try:
                code = process.wait()
                break
            except KeyboardInterrupt:
                # Ctrl-C reached the command too (same process group): let it clean up
                process.send_signal(signal.SIGINT)
    finally:
        for number, previous in forwarded.items():
            signal.signal(number, previous)
    return 128 - code if code < 0 else code


@dataclass(frozen=True, slots=True, kw_only=True)
class Draft:
    """The next version, unsigned, judged against the installed one."""

    taken: _snapshot.Taken
    differences: list[_compare.Difference]


def draft_next(
    python: str,
    installed: Path,
    output: Path,
    *,
    now: dt.datetime,
    expires_days: int | None,
    mode: Mode | None,
    approvals: Sequence[ApprovalRequest],
    on_finding: Callable[[Finding], None],
) -> Draft:
    """The environment as the next version of the ``installed`` manifest, with its policy
    (signers, threshold, project rule) and, unless given, its mode and lifetime; written
    unsigned to ``output`` for an offline signer when its startup code needs no approval
    that was not given."""
    old = read_envelope(installed, "installed manifest").manifest
    if expires_days is None:
        lifetime = old.expires_at - parse_time(old.created)
    else:
        lifetime = dt.timedelta(days=expires_days)
    spec = _snapshot.SnapshotSpec(
        version=old.version + 1,
        created=now,
        expires=now + lifetime,
        mode=mode or old.policy.mode,
        project=old.policy.project.name if old.policy.project is not None else None,
    )
    taken = _snapshot.take(python, spec, on_finding=on_finding, previous=old, approvals=approvals)
    policy = replace(old.policy, mode=spec.mode, project=taken.manifest.policy.project)
    taken = replace(taken, manifest=replace(taken.manifest, policy=policy))
    differences = [
        *_compare.signing_differences(old, taken.manifest, expiry=expires_days is not None),
        *_compare.compare(old, taken.manifest),
    ]
    if taken.ok:
        write_atomic(output, Envelope.from_manifest(taken.manifest).to_bytes())
    return Draft(taken=taken, differences=differences)
