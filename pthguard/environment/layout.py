"""pthguard's own files in an environment: where they are, what they hold, how to tell them
from look-alikes a wheel may ship.

Layout in the first site directory the interpreter processes (a venv's site-packages):

``!!pthguard-TOKEN.pth``
    The gate: one import line that loads the compiled gate by absolute path. It sorts
    before every plausible name; anything sorting earlier is detected at startup.
``.pthguard-TOKEN/``
    ``manifest.json`` (the signed manifest as given), ``trust/*.pub`` (trust anchors),
    ``seal.bin`` (everything the gate compares, marshalled; what grows with the
    distributions is in ``seal-data.bin``, read only when a start checks them),
    ``gate.CACHE_TAG.bin`` (the gate's hot half compiled by the target interpreter),
    ``gate-cold.CACHE_TAG.bin`` (its cold half), ``gate-sealed.CACHE_TAG.bin`` (the sealed
    launcher's gate), ``launcher.CACHE_TAG.bin`` (the sealed launcher's compiled body),
    ``modules-*/`` and ``bytecode/`` (the import guard's digest tables and verified
    bytecode), ``install.json`` (what was installed).
``sitecustomize.py``
    The watchdog, only when that site directory has no ``sitecustomize`` of its own.
``.pthguard-TOKEN/python-guarded``
    The sealed launcher (``python -S`` + the gate before ``site.main()``), a stub that runs
    its compiled body; in the state directory, where no installer writes (``bin/`` takes a
    wheel's ``.data/scripts``).

TOKEN is random per environment (kept on reinstall): a wheel built in advance cannot
overwrite the gate or the seal by name. Used by ``guard`` (writes them), and by
``snapshot``, ``scan`` and ``audit-lock`` (leave them out of what they describe).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pthguard.environment import launcher as _launcher
from pthguard.environment import probe as _probe
from pthguard.environment import snapshot as _snapshot
from pthguard.environment.distfiles import records_cache
from pthguard.errors import InstallError
from pthguard.gate.schema import EXIT_REFUSED

GATE_PREFIX = "!!pthguard-"
STATE_PREFIX = ".pthguard-"
WATCHDOG_MARK = b"# pthguard watchdog"
LAUNCHER_MARK = b"# pthguard sealed launcher:"


@dataclass(frozen=True, slots=True, kw_only=True)
class Installation:
    """What ``install.json`` records, and where the pieces are."""

    site_dir: str
    token: str
    mode: str
    manifest_version: int
    gate_pth: str
    state_dir: str
    watchdog: str | None
    watchdog_note: str
    launcher: str | None
    installed: str
    python: str
    launcher_sha256: str | None = None  # what install wrote (status compares)
    launcher_body: str | None = None  # its compiled body (None: an older, one-file launcher)
    launcher_body_sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        doc = {
            "site_dir": self.site_dir,
            "token": self.token,
            "mode": self.mode,
            "manifest_version": self.manifest_version,
            "gate_pth": self.gate_pth,
            "state_dir": self.state_dir,
            "watchdog": self.watchdog,
            "watchdog_note": self.watchdog_note,
            "launcher": self.launcher,
            "installed": self.installed,
            "python": self.python,
            "launcher_sha256": self.launcher_sha256,
            "launcher_body": self.launcher_body,
            "launcher_body_sha256": self.launcher_body_sha256,
        }
        return (json.dumps(doc, indent=2) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> Installation:
        doc = json.loads(data)
        return cls(**doc)

    @property
    def manifest_path(self) -> Path:
        return Path(self.state_dir) / "manifest.json"

    @property
    def seal_path(self) -> Path:
        return Path(self.state_dir) / "seal.bin"


def launcher_problem(inst: Installation) -> str | None:
    """Why the sealed launcher, or its compiled body, is not the file install wrote, or None."""
    if inst.launcher is None:
        return None
    problem = _file_problem(inst.launcher, inst.launcher_sha256)
    body = inst.launcher_body
    if problem is None and body is not None:
        problem = _file_problem(body, inst.launcher_body_sha256)
        return None if problem is None else f"its compiled body {body}: {problem}"
    return problem


def _file_problem(path: str, expected: str | None) -> str | None:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return f"cannot read it ({exc.strerror})"
    found = hashlib.sha256(data).hexdigest()
    if expected is not None and found != expected:
        return f"changed since install: sha256 {found}, expected {expected}"
    return None


def gate_bin_name(cache_tag: str) -> str:
    """The gate's hot half compiled for one interpreter (``guard.gatebuild``)."""
    return f"gate.{cache_tag}.bin"


def sealed_bin_name(cache_tag: str) -> str:
    """The sealed launcher's gate: the hot half with ``gate/sealed.py`` (``guard.gatebuild``)."""
    return f"gate-sealed.{cache_tag}.bin"


def launcher_bin_name(cache_tag: str) -> str:
    """The sealed launcher's body compiled for one interpreter (the script is a stub)."""
    return f"launcher.{cache_tag}.bin"


def cold_bin_name(cache_tag: str) -> str:
    """The gate's cold half compiled for one interpreter; the seal carries its checksum."""
    return f"gate-cold.{cache_tag}.bin"


def _loader(state_dir: str, blob_name: str, names: dict[str, str], indent: str) -> str:
    """Statements that run the compiled gate ``blob_name`` in a fresh namespace holding
    ``names`` and ``_T0`` (the clock when loading began, so ``PTHGUARD_DEBUG=timing`` counts
    the load)."""
    gate_bin = os.path.join(state_dir, blob_name)
    return (
        f"{indent}import marshal, time\n"
        f"{indent}g = dict({names!r}, _T0=time.perf_counter_ns())\n"
        f"{indent}with open({gate_bin!r}, 'rb') as f:\n"
        f"{indent}    codes = marshal.loads(f.read())\n"
        f"{indent}for c in codes:\n"
        f"{indent}    exec(c, g)\n"
    )


def gate_line(state_dir: str, cache_tag: str, gate_pth: str, role: str, mode: str) -> bytes:
    """The single import line of the gate ``.pth`` (also the watchdog's body).

    It loads the compiled gate by absolute path (nothing on ``sys.path`` is consulted) and,
    in enforce mode, refuses to start if even that fails.
    """
    names = {
        "__name__": "__pthguard_gate__",
        "_ROLE": role,
        "_SEAL": os.path.join(state_dir, "seal.bin"),
        "_GATE": gate_pth,
        "_STDLIB": "",
    }
    code = (
        "try:\n"
        + _loader(state_dir, gate_bin_name(cache_tag), names, "    ")
        + "except BaseException as e:\n"
        + _on_load_error(mode, in_site=True)
    )
    return f"import sys; exec({code!r})\n".encode()


def _on_load_error(mode: str, *, in_site: bool) -> str:
    """What the gate line and the launcher do when the gate cannot even load: refuse to
    start (enforce), or warn and leave site to run unchecked (warn); never a traceback."""
    if mode == "enforce":
        return (
            "    sys.stderr.write('pthguard: refusing to start: the startup gate cannot load "
            "(%s: %s); run `pthguard status --python %s`\\n' "
            "% (type(e).__name__, e, sys.executable))\n"
            "    sys.stderr.flush()\n"
            f"    __import__('os')._exit({EXIT_REFUSED})\n"
        )
    return (
        "    sys.stderr.write('pthguard: warning: the startup gate cannot load "
        "(%s: %s)\\n' % (type(e).__name__, e))\n"
    ) + ("" if in_site else "    __import__('site').main()\n")


def watchdog_source(line: bytes) -> bytes:
    return (
        WATCHDOG_MARK
        + b": refuses to start when the gate did not run (pthguard status)\n"
        + line.replace(b"'_ROLE': 'gate'", b"'_ROLE': 'watchdog'", 1)
    )


def launcher_stub(python: str, state_dir: str, cache_tag: str, *, mode: str) -> bytes:
    """``python-guarded`` itself: it runs the body compiled at install."""
    body = os.path.join(state_dir, launcher_bin_name(cache_tag))
    return _launcher.launcher_stub(python=python, body=body, mode=mode)


def launcher_body(
    python: str, state_dir: str, cache_tag: str, gate_pth: str, stdlib: str, *, mode: str
) -> str:
    """The source of ``python-guarded``'s body: the gate before ``site.main()``, then the
    program, with python's own command line (:mod:`pthguard.environment.launcher`)."""
    names = {
        "__name__": "__pthguard_gate__",
        "_ROLE": "sealed",
        "_SEAL": os.path.join(state_dir, "seal.bin"),
        "_GATE": gate_pth,
        "_STDLIB": stdlib,
    }
    return _launcher.launcher_text(
        python=python,
        load=_loader(state_dir, sealed_bin_name(cache_tag), names, " " * 12),
        mode=mode,
    )


def installations_of(probe: _probe.Probe) -> list[Installation]:
    """pthguard's installations in the existing site directories of ``probe``."""
    return find_installations([s.path for s in probe.site_dirs if s.exists])


def find_installations(site_dirs: list[str]) -> list[Installation]:
    found = []
    for site in site_dirs:
        try:
            names = os.listdir(site)
        except OSError:
            continue
        for name in sorted(names):
            if name.startswith(STATE_PREFIX):
                token = name[len(STATE_PREFIX) :]
                try:
                    inst = Installation.from_json(Path(site, name, "install.json").read_bytes())
                except (OSError, ValueError, TypeError) as exc:
                    if not os.path.lexists(os.path.join(site, f"{GATE_PREFIX}{token}.pth")):
                        continue  # no gate of that token: not ours (a wheel can ship one)
                    raise InstallError(
                        f"{os.path.join(site, name)} holds a broken installation ({exc})",
                        remedy=_broken_remedy(site, name, token),
                    ) from exc
                if _describes_itself(inst, site, name, token):
                    found.append(inst)
    return found


def _broken_remedy(site: str, name: str, token: str) -> str:
    """What to do by hand: without its ``install.json`` no command can tell pthguard's files
    from look-alikes, so ``uninstall`` refuses too."""
    gate = os.path.join(site, f"{GATE_PREFIX}{token}.pth")
    watchdog = os.path.join(site, "sitecustomize.py")
    return (
        f"remove {os.path.join(site, name)} and {gate} (and {watchdog} if its first line "
        f"starts with {WATCHDOG_MARK.decode()!r}), then install again"
    )


def _describes_itself(inst: Installation, site: str, name: str, token: str) -> bool:
    """Only an ``install.json`` that names its own directory, gate and watchdog is ours: one
    shipped by a wheel must never steer ``uninstall`` to other paths."""

    def same(path: str | None, expected: str) -> bool:
        return path is not None and (
            os.path.basename(path) == os.path.basename(expected)
            and os.path.realpath(os.path.dirname(path))
            == os.path.realpath(os.path.dirname(expected))
        )

    return (
        inst.token == token
        and os.path.realpath(inst.site_dir) == os.path.realpath(site)
        and same(inst.state_dir, os.path.join(site, name))
        and same(inst.gate_pth, os.path.join(site, f"{GATE_PREFIX}{token}.pth"))
        and (inst.watchdog is None or same(inst.watchdog, os.path.join(site, "sitecustomize.py")))
        and (inst.launcher is None or os.path.basename(inst.launcher) == "python-guarded")
    )


def own_files(installations: list[Installation]) -> dict[str, bytes | None]:
    """Files pthguard wrote, with their expected bytes (None: a directory of ours)."""
    own: dict[str, bytes | None] = {}
    for inst in installations:
        line = _expected_line(inst)
        own[inst.gate_pth] = line
        own[inst.state_dir] = None
        if inst.watchdog:
            own[inst.watchdog] = watchdog_source(line)
    return own


def _expected_line(inst: Installation) -> bytes:
    tag = inst.extra.get("cache_tag") or _tag_from_state(inst.state_dir)
    return gate_line(inst.state_dir, tag, inst.gate_pth, "gate", inst.mode)


def _tag_from_state(state_dir: str) -> str:
    for name in sorted(os.listdir(state_dir)) if os.path.isdir(state_dir) else []:
        if name.startswith("gate.") and name.endswith(".bin"):
            return name[len("gate.") : -len(".bin")]
    return ""


def scan_environment(
    probe: _probe.Probe, *, runtime_view: bool = False
) -> tuple[_snapshot.Snapshot, list[Installation]]:
    """Scan the environment, leaving out pthguard's own files, its METADATA and RECORD files
    read through the environment's stat-keyed cache
    (:func:`~pthguard.environment.distfiles.records_cache`); with ``runtime_view`` (where
    a manifest is made or installed), also cross-check the distributions with the runtime's
    own view (:func:`~pthguard.environment.snapshot.check_runtime_view`)."""
    installs = installations_of(probe)
    snap = _snapshot.scan(probe, own=own_files(installs), cache=records_cache(probe.prefix))
    if runtime_view:
        _snapshot.check_runtime_view(snap)
    return snap, installs
