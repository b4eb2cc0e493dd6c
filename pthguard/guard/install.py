"""Install and remove the startup gate of one environment: verify the manifest, compile the
gate and the seal with the target interpreter, write the files ``environment.layout``
describes (the gate ``.pth`` last on install, first on uninstall)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pthguard._internal.fs import read_bytes, write_atomic
from pthguard.environment import probe as _probe
from pthguard.environment import snapshot as _snapshot
from pthguard.environment.layout import (
    GATE_PREFIX,
    LAUNCHER_MARK,
    STATE_PREFIX,
    Installation,
    find_installations,
    gate_line,
    installations_of,
    launcher_body,
    launcher_stub,
    own_files,
    watchdog_source,
)
from pthguard.errors import InstallError
from pthguard.gate.schema import DATA_NAME, RACY_MARGIN_NS
from pthguard.guard import gatebuild as _gatebuild
from pthguard.guard import modules as _modules
from pthguard.guard import seal as _seal
from pthguard.manifest import compare as _compare
from pthguard.manifest import envelope as _envelope
from pthguard.manifest import keys as _keys
from pthguard.manifest import rotation as _rotation
from pthguard.manifest.model import EventTargets, Manifest

_SOCKET_MODULE = (
    "import sys\n"
    "if '_socket' in sys.builtin_module_names:\n"
    "    print('builtin')\n"
    "else:\n"
    "    import _socket\n"
    "    print('_socket', _socket.__file__)\n"
)
_SHA256_MODULE = (
    "import sys, importlib\n"
    "for n in ('_sha2', '_sha256', '_hashlib'):\n"
    "    if n in sys.builtin_module_names:\n"
    "        print('builtin', n); break\n"
    "    try:\n"
    "        m = importlib.import_module(n)\n"
    "    except ImportError:\n"
    "        continue\n"
    "    print(n, m.__file__); break\n"
)


def _run(python: str, code: str, *args: str) -> bytes:
    try:
        done = subprocess.run(
            [python, "-S", "-I", "-c", code, *args], capture_output=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"cannot run {python}: {exc}") from exc
    if done.returncode != 0:
        raise InstallError(f"{python} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallResult:
    installation: Installation
    replaced_version: int | None
    verification: _envelope.VerificationResult
    notes: list[str]


def install(
    *,
    python: str | None,
    manifest_path: Path,
    trust: list[Path],
    mode: str | None,
    allow_downgrade: bool,
    now: dt.datetime,
    probe: _probe.Probe | None = None,
) -> InstallResult:
    """``probe``: what ``python`` reported, when the caller probed it already (``protect``
    and ``change`` install what they just snapshotted): one probe per command."""
    data = read_bytes(manifest_path, "manifest")
    envelope = _envelope.parse_envelope(data, str(manifest_path))
    anchors = [k for p in trust for k in _keys.load_anchors(p, now)]
    result = _envelope.verify(envelope, anchors, now, str(manifest_path))
    manifest = envelope.manifest
    if probe is None:
        probe = _probe.probe(python)
    python = probe.executable
    existing_sites = [s.path for s in probe.site_dirs if s.exists]
    # Never the user site: -s, PYTHONNOUSERSITE or another user's HOME start without it.
    candidates = [s.path for s in probe.site_dirs if s.exists and s.role != "user"]
    if not candidates:
        raise InstallError(f"{python} has no site directory to guard other than the user site")
    site_dir = candidates[0]
    installs = find_installations(existing_sites)
    previous = next((i for i in installs if i.site_dir == site_dir), None)
    replaced = None
    if previous is not None:
        old = _envelope.parse_envelope(
            read_bytes(previous.manifest_path, "installed manifest"), "installed manifest"
        )
        replaced = old.manifest.version
        same = old.signed == envelope.signed
        if not allow_downgrade and not same and manifest.version <= old.manifest.version:
            raise InstallError(
                f"{manifest_path} is version {manifest.version}, not newer than the installed "
                f"version {old.manifest.version} (rollback refused)",
                remedy="sign a manifest with a higher --version, or pass --allow-downgrade",
            )
        if not same:
            # a manifest that changes who may sign must satisfy the installed policy too
            old_anchors = [
                k
                for p in sorted(Path(previous.state_dir, "trust").glob("*.pub"))
                for k in _keys.load_anchors(p, now)
            ]
            _rotation.require_rotation(old.manifest, envelope, old_anchors, str(manifest_path))
    snap = _snapshot.scan(probe, own=own_files(installs))
    _snapshot.check_runtime_view(snap)  # a distribution the runtime sees must be described
    if snap.errors:
        raise InstallError(
            "; ".join(f"{f.path}: {f.message}" for f in snap.errors[:3]),
            remedy="fix these files and run install again",
        )
    _check_matches(manifest, snap, python)
    token = previous.token if previous is not None else secrets.token_hex(6)
    state_dir = os.path.join(site_dir, STATE_PREFIX + token)
    gate_pth = os.path.join(site_dir, f"{GATE_PREFIX}{token}.pth")
    chosen_mode = mode or manifest.policy.mode
    watchdog, note = _watchdog_place(probe, site_dir, previous)
    try:
        os.makedirs(os.path.join(state_dir, "trust"), exist_ok=True)
        for old_key in Path(state_dir, "trust").glob("*.pub"):
            old_key.unlink()
    except OSError as exc:
        raise InstallError(f"cannot write {state_dir}: {exc.strerror}") from exc
    installed_manifest = Path(state_dir, "manifest.json")
    write_atomic(installed_manifest, data)
    used: set[str] = set()
    for number, anchor in enumerate(trust):
        # the file's own name (display names come from it), made unique and ending in .pub
        name = anchor.name if anchor.name.endswith(".pub") else f"{anchor.name}.pub"
        if name in used or name.startswith("."):
            name = f"{number}-{name.lstrip('.')}"
        used.add(name)
        write_atomic(Path(state_dir, "trust", name), read_bytes(anchor, "key"))
    tables = _modules.build(manifest, probe, python, state_dir)
    # In the state directory, whose name a wheel cannot know: an installer writes bin/
    # (a wheel's .data/scripts), never here.
    launcher = os.path.join(state_dir, "python-guarded")
    body = launcher_body(
        python, state_dir, probe.cache_tag, gate_pth, probe.stdlib, mode=chosen_mode
    )
    gate = _gatebuild.build(python, probe.cache_tag, (launcher, body))
    write_atomic(Path(state_dir, gate.hot_name), gate.hot)
    write_atomic(Path(state_dir, gate.sealed_name), gate.sealed)
    write_atomic(Path(state_dir, gate.launcher_name), gate.launcher)
    write_atomic(Path(state_dir, gate.cold_name), gate.cold)
    sha_module = _sha256_module(python)
    events = manifest.policy.events
    socket_module = _socket_module(python) if events is not None and events.syslog else None
    line = gate_line(state_dir, probe.cache_tag, gate_pth, "gate", chosen_mode)
    watchdog_bytes = watchdog_source(line) if watchdog is not None else None

    def write_seal() -> None:
        seal, data = _seal.build_seal(
            envelope=envelope,
            result=result,
            snap=snap,
            probe=probe,
            manifest_file=installed_manifest,
            mode=chosen_mode,
            watchdog=watchdog,
            watchdog_bytes=watchdog_bytes,
            sha256_module=sha_module,
            cold=(gate.cold_name, gate.cold_checksum),
            imports=tables.index,
            imports_per_distribution=tables.per_distribution,
            socket_module=socket_module,
        )
        write_atomic(Path(state_dir, DATA_NAME), data)  # first: the seal names its checksum
        write_atomic(Path(state_dir, "seal.bin"), _seal.seal_bytes(seal))

    write_seal()  # complete before the gate exists; its directory stamps come next
    if previous is not None and previous.launcher and previous.launcher != launcher:
        _remove_old_launcher(previous.launcher)
    launcher_bytes = launcher_stub(python, state_dir, probe.cache_tag, mode=chosen_mode)
    write_atomic(Path(launcher), launcher_bytes, 0o755)
    if watchdog is not None and watchdog_bytes is not None:
        write_atomic(Path(watchdog), watchdog_bytes)
    installation = Installation(
        site_dir=site_dir,
        token=token,
        mode=chosen_mode,
        manifest_version=manifest.version,
        gate_pth=gate_pth,
        state_dir=state_dir,
        watchdog=watchdog,
        watchdog_note=note,
        launcher=launcher,
        launcher_sha256=hashlib.sha256(launcher_bytes).hexdigest(),
        launcher_body=os.path.join(state_dir, gate.launcher_name),
        launcher_body_sha256=hashlib.sha256(gate.launcher).hexdigest(),
        installed=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        python=python,
    )
    write_atomic(Path(state_dir, "install.json"), installation.to_json())
    write_atomic(Path(gate_pth), line)
    # Writing the gate changed the site directory. Once the clock has moved past that
    # change, seal again: the directory stamps are then trusted from the first start.
    time.sleep(2 * RACY_MARGIN_NS / 1e9)
    write_seal()
    _modules.remove_old(state_dir, tables)
    notes = [note] if note else []
    notes += _events_notes(events)
    return InstallResult(
        installation=installation, replaced_version=replaced, verification=result, notes=notes
    )


def _check_matches(manifest: Manifest, snap: _snapshot.Snapshot, python: str) -> None:
    live = _snapshot.live_manifest(snap, manifest)
    diffs = [d for d in _compare.compare(manifest, live) if d.verdict == "violation"]
    if diffs:
        shown = "; ".join(f"{d.change} {d.category} {d.subject}" for d in diffs[:3])
        more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
        raise InstallError(
            f"the environment does not match the manifest: {shown}{more}; nothing was installed",
            remedy=f"run `pthguard verify --python {python}` for details, then snapshot and "
            "sign again",
        )


def _watchdog_place(
    probe: _probe.Probe, site_dir: str, previous: Installation | None
) -> tuple[str | None, str]:
    if previous is not None and previous.watchdog:
        return previous.watchdog, ""
    mine = os.path.join(site_dir, "sitecustomize.py")
    for entry in probe.sys_path:
        for name in ("sitecustomize.py", "sitecustomize"):
            if os.path.exists(os.path.join(entry, name)):
                return None, (
                    f"watchdog not installed: {os.path.join(entry, name)} is imported before "
                    "any site directory; use the sealed launcher (`pthguard status` shows it) "
                    "to close the window where a suppressed gate goes unnoticed"
                )
    existing = [
        n for n in os.listdir(site_dir) if n == "sitecustomize" or n.startswith("sitecustomize.")
    ]
    if existing:
        return None, (
            f"watchdog not installed: {site_dir} already has {existing[0]} (left untouched); "
            "use the sealed launcher (`pthguard status` shows it) for full coverage"
        )
    return mine, ""


def _remove_old_launcher(path: str) -> None:
    """The launcher an earlier version wrote beside the interpreter, if it is still ours."""
    try:
        current = Path(path).read_bytes()
    except OSError:
        return
    if LAUNCHER_MARK in current.partition(b"\n")[2]:
        Path(path).unlink()


def _sha256_module(python: str) -> tuple[str, str] | None:
    out = _run(python, _SHA256_MODULE).decode().split(maxsplit=1)
    if len(out) != 2 or out[0] == "builtin":
        return None
    return (out[0], out[1].strip())


def _socket_module(python: str) -> tuple[str, str] | None:
    """Where the gate loads ``_socket`` from to send refusal events to syslog: builtin
    (None), or the interpreter's own extension module, by absolute path."""
    try:
        out = _run(python, _SOCKET_MODULE).decode().split(maxsplit=1)
    except InstallError as exc:
        raise InstallError(
            f"policy.events.syslog needs the _socket module, which {python} cannot load ({exc})",
            remedy="sign a manifest without policy.events.syslog (a file path works anywhere)",
        ) from exc
    if len(out) != 2 or out[0] == "builtin":
        return None
    return (out[0], out[1].strip())


def _events_notes(events: EventTargets | None) -> list[str]:
    """What will keep a refusal event from being written, as far as this process can see
    (the guarded interpreter may run as another user)."""
    if events is None:
        return []
    notes = []
    if events.path is not None:
        directory = os.path.dirname(events.path)
        if not os.path.isdir(directory):
            notes.append(
                f"refusal events: {directory} does not exist; create it (writable by the users "
                "who run this interpreter), or a refused start says it could not write its event"
            )
        elif os.path.lexists(events.path) and (
            os.path.islink(events.path) or not os.path.isfile(events.path)
        ):
            notes.append(
                f"refusal events: {events.path} is not a regular file; the guard appends only "
                "to a regular file (never through a symbolic link)"
            )
    if events.syslog is not None and not os.path.exists(events.syslog.socket):
        notes.append(
            f"refusal events: no syslog socket at {events.syslog.socket} here; a refused start "
            "says it could not send its event"
        )
    return notes


def uninstall(python: str | None) -> list[str]:
    """Remove every pthguard file from the environment; returns what was removed."""
    probe = _probe.probe(python)
    installs = installations_of(probe)
    removed: list[str] = []
    for inst in installs:
        own = own_files([inst])
        for path in (inst.gate_pth, inst.watchdog, inst.launcher):
            if path is None or not os.path.lexists(path):
                continue
            expected = own.get(path)
            if path == inst.launcher or expected is not None:
                try:
                    current = Path(path).read_bytes()
                except OSError:
                    current = None
                if path == inst.launcher:
                    ours = current is not None and LAUNCHER_MARK in current.partition(b"\n")[2]
                else:
                    ours = current == expected
                if not ours:
                    raise InstallError(
                        f"{path} is not the file pthguard wrote; not removing it",
                        remedy="inspect it, remove it by hand, then run uninstall again",
                    )
            Path(path).unlink()
            removed.append(path)
        if inst.watchdog:
            removed += _remove_bytecode(inst.watchdog)
        shutil.rmtree(inst.state_dir)
        removed.append(inst.state_dir)
    return removed


def _remove_bytecode(source: str) -> list[str]:
    """The bytecode Python cached for ``source`` (the watchdog, imported when the gate did
    not run), and ``__pycache__`` if nothing else is in it."""
    cache = os.path.join(os.path.dirname(source), "__pycache__")
    stem = os.path.splitext(os.path.basename(source))[0] + "."
    try:
        names = sorted(os.listdir(cache))
    except OSError:
        return []
    removed = []
    for name in names:
        if name.startswith(stem) and name.endswith(".pyc"):
            os.unlink(os.path.join(cache, name))
            removed.append(os.path.join(cache, name))
    if removed and len(removed) == len(names):
        os.rmdir(cache)
        removed.append(cache)
    return removed


def guarded_start(python: str) -> tuple[int, str]:
    """Start the interpreter for real (the gate runs) and return (exit code, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.pop("PTHGUARD_MODE", None)
    try:
        done = subprocess.run(
            [python, "-c", "pass"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return (-1, str(exc))
    return (done.returncode, done.stderr)
