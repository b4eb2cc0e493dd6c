"""Permission warnings of ``status`` and ``verify`` (pthguard.environment.perms).

The pure rules on fake ``stat`` results, then the CLI on real guarded venvs: a hardened
layout (root-owned, site-packages and the state directory not writable) gets no warning; each
loosening (``chmod o+w``, ``chmod g+w``, a non-root owner) gets one naming the path, in text
(stderr) and JSON (``permission_warnings``), and the exit code does not change.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from pthguard.environment.perms import FIX, Target, permission_warnings, targets
from tests.support.guard import Guarded, make_guarded
from tests.support.interpreters import Interpreter, interpreter_params

ROOT_DIR = SimpleNamespace(st_mode=stat.S_IFDIR | 0o755, st_uid=0, st_gid=0)
ROOT_FILE = SimpleNamespace(st_mode=stat.S_IFREG | 0o644, st_uid=0, st_gid=0)


def _warn(st: SimpleNamespace, euid: int = 0) -> list[str]:
    return permission_warnings([(Target("seal", "/s/seal.bin"), st)], euid=euid)


def test_root_owned_not_group_or_other_writable_is_fine() -> None:
    assert _warn(ROOT_DIR) == []
    assert _warn(ROOT_FILE) == []
    assert _warn(SimpleNamespace(st_mode=stat.S_IFREG | 0o444, st_uid=0, st_gid=0), euid=1000) == []


@pytest.mark.parametrize(
    ("mode", "uid", "gid", "euid", "says"),
    [
        (0o646, 0, 0, 0, "is writable by others (mode 0646)"),
        (0o664, 0, 50, 0, "is writable by its group (gid 50) (mode 0664)"),
        (0o1777, 0, 0, 0, "is writable by others and writable by its group (gid 0) (mode 1777)"),
        (0o444, 1000, 1000, 0, "is owned by uid 1000, not root (mode 0444)"),
        (0o644, 1000, 1000, 1000, "owned by uid 1000 (the user running this check), not root"),
    ],
)
def test_each_loosening_is_named(mode: int, uid: int, gid: int, euid: int, says: str) -> None:
    (warning,) = _warn(SimpleNamespace(st_mode=stat.S_IFREG | mode, st_uid=uid, st_gid=gid), euid)
    assert warning.startswith("seal /s/seal.bin ")
    assert says in warning
    assert warning.endswith(FIX)


def test_targets_name_what_a_start_trusts() -> None:
    found = targets(
        ["/v/site-packages"],
        gate_pth="/v/site-packages/!!pthguard-t.pth",
        state_dir="/v/site-packages/.pthguard-t",
        watchdog="/v/site-packages/sitecustomize.py",
        launcher="/v/bin/python-guarded",
        state_files=["seal.bin", "manifest.json", "trust", "trust/r.pub", "gate.x.bin", "a.json"],
    )
    roles = [t.role for t in found]
    assert roles == [
        "site directory",
        "gate",
        "state directory",
        "seal",
        "installed manifest",
        "trust store",
        "trust anchor",
        "compiled gate",
        "state file",
        "watchdog",
        "sealed launcher",
    ]
    assert found[6].path == "/v/site-packages/.pthguard-t/trust/r.pub"
    assert [t.role for t in targets(["/a", "/b"])] == ["site directory"] * 2


# -- the CLI on real guarded venvs ---------------------------------------------------------------


def _tree(g: Guarded) -> Iterator[Path]:
    inst = g.installation()
    yield g.site_packages
    state = g.interp.host_path(str(inst["state_dir"]))
    yield state
    yield from sorted(state.rglob("*"))
    for key in ("gate_pth", "watchdog", "launcher"):
        if inst[key] is not None:
            yield g.interp.host_path(str(inst[key]))


def _harden(g: Guarded) -> None:
    """Root-owned, and nothing of site-packages' own directory or the state writable."""
    for path in _tree(g):
        os.chown(path, 0, 0, follow_symlinks=False)
        os.chmod(path, stat.S_IMODE(path.stat().st_mode) & ~0o222)


def _status(g: Guarded, fmt: str) -> tuple[int, list[str], str]:
    proc = g.pthguard("status", "--python", g.venv.python, "--format", fmt)
    if fmt == "json":
        return proc.returncode, json.loads(proc.stdout)["permission_warnings"], proc.stderr
    return proc.returncode, [], proc.stderr


def _verify(g: Guarded, fmt: str) -> tuple[int, list[str], str]:
    proc = g.pthguard("verify", "--python", g.venv.python, "--format", fmt)
    if fmt == "json":
        return proc.returncode, json.loads(proc.stdout)["permission_warnings"], proc.stderr
    return proc.returncode, [], proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="building a root-owned layout needs root")
@pytest.mark.slow
@pytest.mark.parametrize("interp", interpreter_params())
def test_status_and_verify_warn_about_writable_layouts(interp: Interpreter, tmp_path: Path) -> None:
    g = make_guarded(interp, tmp_path)
    inst = g.installation()
    seal = g.interp.host_path(str(inst["state_dir"])) / "seal.bin"
    _harden(g)
    for command in (_status, _verify):
        assert command(g, "json")[:2] == (0, [])
        code, _, stderr = command(g, "text")
        assert (code, stderr) == (0, "")
    inner_seal = f"{inst['state_dir']}/seal.bin"
    loosenings: list[tuple[Path, Callable[[Path], None], str]] = [  # permissive on purpose
        (seal, lambda p: os.chmod(p, 0o446), f"seal {inner_seal} is writable by others"),  # noqa: S103
        (seal, lambda p: os.chmod(p, 0o464), f"seal {inner_seal} is writable by its group"),
        (
            g.site_packages,
            lambda p: os.chown(p, 1000, 1000),
            f"site directory {g.interp.inner_path(g.site_packages)} is owned by uid 1000",
        ),
        (
            seal.parent / "trust",
            lambda p: os.chmod(p, 0o557),  # noqa: S103
            f"trust store {inst['state_dir']}/trust is writable by others",
        ),
    ]
    for path, loosen, says in loosenings:
        before = path.stat()
        loosen(path)
        try:
            for command in (_status, _verify):
                code, warnings, _ = command(g, "json")
                assert code == 0  # a warning never changes the exit code
                assert len(warnings) == 1, warnings
                assert warnings[0].startswith(says), warnings
                code, _, stderr = command(g, "text")
                assert code == 0
                assert stderr.startswith(f"pthguard: warning: {says}"), stderr
                assert stderr.count("pthguard: warning:") == 1
        finally:
            os.chown(path, before.st_uid, before.st_gid)
            os.chmod(path, stat.S_IMODE(before.st_mode))
