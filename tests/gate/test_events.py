"""Refusal events (``policy.events``): every refusal, and every warn-mode report, also as one
JSON line in a file or a syslog message, written by the gate of a real guarded interpreter.

Real venvs, real wheels, real starts of ``bin/python`` and the sealed launcher on every
interpreter present (``tests.support.guard``); syslog is a unix socket this test binds and
reads, named in the signed policy as a daemon's socket is. What the README documents: the
fields, one whole line per event (also from concurrent processes), ``refused`` and
``warned``, and that an event that cannot be written never stops a refusal (exit 78, and one
line on stderr says why).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pthguard.gate.events import SYSLOG_MAX, _syslog_message
from tests.support.guard import (
    EXIT_REFUSED,
    Guarded,
    assert_refused,
    line_with,
    make_guarded,
    marker_pth,
)
from tests.support.interpreters import Interpreter, host_env, interpreter_params

pytestmark = pytest.mark.slow
INTERPRETERS = interpreter_params()
DEV = [p for p in INTERPRETERS if p.id == "3.11"]
FIELDS = [
    "event",
    "schema",
    "time",
    "action",
    "stage",
    "mode",
    "headline",
    "host",
    "pid",
    "uid",
    "argv",
    "environment",
    "manifest_version",
    "signers",
    "violations",
]
VIOLATION_FIELDS = ["what", "path", "detail", "executed", "fate"]
TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
SYSLOG_RE = re.compile(
    rb"<(\d+)>(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d "
    rb"pthguard\[(\d+)\]: (\{.*\})\Z",
    re.DOTALL,
)


# -- helpers --------------------------------------------------------------------------------------


class Events:
    """The events file of a guarded venv: its host path and the path its policy names."""

    def __init__(self, interp: Interpreter, host: Path) -> None:
        self.host = host
        self.inner = interp.inner_path(host)

    def lines(self) -> list[bytes]:
        """Every line, each a whole one (the file ends with a newline)."""
        if not self.host.exists():
            return []
        data = self.host.read_bytes()
        assert data.endswith(b"\n"), data[-200:]
        return data[:-1].split(b"\n")

    def read(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


def _guarded(
    interp: Interpreter, tmp_path: Path, *snapshot_args: str, install_args: tuple[str, ...] = ()
) -> tuple[Guarded, Events]:
    """A guarded venv whose policy writes events to ``log/events.jsonl`` beside it."""
    where = interp.visible_dir(tmp_path)
    (where / "log").mkdir()
    events = Events(interp, where / "log" / "events.jsonl")
    g = make_guarded(
        interp,
        where,
        snapshot_args=("--events-path", events.inner, *snapshot_args),
        install_args=install_args,
    )
    return g, events


def _starts(g: Guarded):  # type: ignore[no-untyped-def]
    return (("gate", g.start), ("sealed", g.sealed))


def _check_event(
    event: dict[str, Any], g: Guarded, *, action: str, stage: str, mode: str
) -> list[dict[str, Any]]:
    """The documented fields, in order; returns the violations."""
    assert list(event) == FIELDS, event
    assert event["event"] == "pthguard.refusal"
    assert event["schema"] == "pthguard-event/1"
    assert TIME_RE.match(event["time"]), event["time"]
    when = dt.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert abs((now - when).total_seconds()) < 600
    assert (event["action"], event["stage"], event["mode"]) == (action, stage, mode)
    assert event["host"] == os.uname().nodename
    assert type(event["pid"]) is int
    assert event["uid"] == os.getuid()
    assert all(type(a) is str for a in event["argv"])
    assert event["environment"] == {
        "prefix": g.venv.inner_path(g.venv.root),
        "executable": g.venv.python,
        "python": event["environment"]["python"],
        "manifest": g.interp.inner_path(g.state_dir() / "manifest.json"),
    }
    assert event["environment"]["python"].startswith(
        f"{g.interp.version[0]}.{g.interp.version[1]}."
    )
    assert type(event["manifest_version"]) is int
    assert "(keyid " in event["signers"]
    for violation in event["violations"]:
        assert list(violation) == VIOLATION_FIELDS, violation
    violations: list[dict[str, Any]] = event["violations"]
    return violations


def _one(violations: list[dict[str, Any]], path: str) -> dict[str, Any]:
    found = [v for v in violations if v["path"] == path]
    assert len(found) == 1, violations
    return found[0]


# -- a refused start -------------------------------------------------------------------------------


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_refused_start_writes_one_event(interp: Interpreter, tmp_path: Path) -> None:
    g, events = _guarded(interp, tmp_path)
    for _, start in _starts(g):
        proc = start("-c", "print('ran')")
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    assert not events.host.exists()  # a clean start writes nothing
    marker = g.marker("evil")
    evil = g.site_packages / "zz_evil.pth"
    evil.write_bytes(marker_pth(marker))
    for number, (_, start) in enumerate(_starts(g), 1):
        proc = start("-c", "print('ran')")
        assert_refused(proc, "zz_evil.pth")
        assert "refusal event" not in proc.stderr
        found = events.read()
        assert len(found) == number
        violations = _check_event(found[-1], g, action="refused", stage="startup", mode="enforce")
        assert found[-1]["headline"] == (
            "refusing to start: this environment does not match its signed manifest"
        )
        assert found[-1]["argv"][-2:] == ["-c", "print('ran')"]
        assert found[-1]["manifest_version"] == 1
        unlisted = _one(violations, g.interp.inner_path(evil))
        assert unlisted["what"] == "unlisted startup file"
        assert unlisted["detail"].startswith("sha256 ")
        assert (unlisted["executed"], unlisted["fate"]) == (False, "NOT executed")
    assert not marker.exists()
    assert events.host.stat().st_mode & 0o777 == 0o640 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_refused_import_writes_one_event(interp: Interpreter, tmp_path: Path) -> None:
    """After startup the import guard refuses a module: one event per refused import, with
    stage ``import`` (the program may catch the ImportError and go on)."""
    g, events = _guarded(interp, tmp_path)
    init = g.site_packages / "plainpkg" / "__init__.py"
    with init.open("ab") as handle:
        handle.write(b"EDITED = True\n")
    for number, (_, start) in enumerate(_starts(g), 1):
        proc = start("-c", "try:\n import plainpkg\nexcept ImportError:\n print('caught')")
        assert (proc.returncode, proc.stdout) == (0, "caught\n"), proc.stderr
        found = events.read()
        assert len(found) == number
        violations = _check_event(found[-1], g, action="refused", stage="import", mode="enforce")
        assert found[-1]["headline"] == "refused to import plainpkg"
        (changed,) = violations
        assert changed["what"] == "changed module file"
        assert changed["path"] == g.interp.inner_path(init)
        assert "expected sha256 " in changed["detail"]
        assert (changed["executed"], changed["fate"]) == (False, "NOT executed")


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_warn_mode_writes_warned_events(interp: Interpreter, tmp_path: Path) -> None:
    """Each warn-mode report is an event with action ``warned``; ``executed`` says whether
    the reported code ran (an unlisted module is imported; a changed one runs the bytecode
    compiled from its signed source; an unlisted ``.pth`` never runs)."""
    g, events = _guarded(interp, tmp_path, install_args=("--mode", "warn"))
    evil = g.site_packages / "zz_evil.pth"
    evil.write_bytes(marker_pth(g.marker("evil")))
    init = g.site_packages / "plainpkg" / "__init__.py"
    with init.open("ab") as handle:
        handle.write(b"EDITED = True\n")
    extra = g.site_packages / "extra.py"
    extra.write_bytes(b"X = 1\n")
    program = "import plainpkg, extra; print(hasattr(plainpkg, 'EDITED'), extra.X)"
    for _, start in _starts(g):
        before = len(events.lines())
        proc = start("-c", program)
        assert (proc.returncode, proc.stdout) == (0, "False 1\n"), proc.stderr
        found = events.read()[before:]
        assert [e["stage"] for e in found] == ["startup", "import", "import"], found
        startup = _check_event(found[0], g, action="warned", stage="startup", mode="warn")
        assert found[0]["headline"].startswith("warning: this environment does not match")
        assert _one(startup, g.interp.inner_path(evil))["fate"] == "NOT executed"
        (changed,) = _check_event(found[1], g, action="warned", stage="import", mode="warn")
        assert found[1]["headline"] == "warning: importing plainpkg"
        assert (changed["path"], changed["executed"]) == (g.interp.inner_path(init), False)
        assert changed["fate"] == "NOT executed (the signed bytecode runs)"
        (unlisted,) = _check_event(found[2], g, action="warned", stage="import", mode="warn")
        assert found[2]["headline"] == "warning: importing extra"
        assert (unlisted["path"], unlisted["what"]) == (
            g.interp.inner_path(extra),
            "unlisted module file",
        )
        assert (unlisted["executed"], unlisted["fate"]) == (True, "imported (warn mode)")


@pytest.mark.parametrize("interp", DEV)
def test_concurrent_refusals_write_whole_lines(interp: Interpreter, tmp_path: Path) -> None:
    """Events longer than a pipe's atomic write (PIPE_BUF), from processes refusing at once:
    each is one whole line."""
    g, events = _guarded(interp, tmp_path)
    for number in range(150):
        (g.site_packages / f"zz_evil_{number:03}.pth").write_bytes(b"import os\n" + b"#" * 50)
    procs = [
        subprocess.Popen(
            [g.venv.python, "-c", "pass"],
            env=host_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(8)
    ]
    assert [p.wait(timeout=120) for p in procs] == [EXIT_REFUSED] * 8
    lines = events.lines()
    assert len(lines) == 8
    assert min(len(line) for line in lines) > 4096
    found = [json.loads(line) for line in lines]
    assert sorted(e["pid"] for e in found) == sorted(p.pid for p in procs)
    assert all(len(e["violations"]) == 150 for e in found)


@pytest.mark.parametrize("interp", DEV)
def test_refusals_without_violations_write_events(interp: Interpreter, tmp_path: Path) -> None:
    """The gate failing closed (a manifest replaced after it was sealed: read before any
    state exists) and the watchdog (the gate's line removed): events with the headline and
    no violations."""
    g, events = _guarded(interp, tmp_path)
    manifest = g.state_dir() / "manifest.json"
    manifest.write_bytes(manifest.read_bytes() + b"\n")
    for number, (_, start) in enumerate(_starts(g), 1):
        assert_refused(start("-c", "pass"), "changed after it was sealed")
        found = events.read()
        assert len(found) == number
        assert _check_event(found[-1], g, action="refused", stage="startup", mode="enforce") == []
        assert found[-1]["headline"].startswith("refusing to start: the startup gate failed (")
        assert "changed after it was sealed" in found[-1]["headline"]
    g.install(g.work / "manifest-1.json")  # the signed manifest, installed again
    assert g.start("-c", "pass").returncode == 0
    assert g.installation()["watchdog"], "no watchdog here"
    Path(str(g.installation()["gate_pth"])).unlink()
    assert_refused(g.start("-c", "pass"), "the startup gate did not run")
    found = events.read()
    assert len(found) == 3
    assert _check_event(found[-1], g, action="refused", stage="startup", mode="enforce") == []
    assert found[-1]["headline"].startswith("refusing to start: the startup gate did not run")


# -- targets that cannot be written ------------------------------------------------------------


@pytest.mark.parametrize("interp", DEV)
def test_an_unwritable_target_never_stops_a_refusal(interp: Interpreter, tmp_path: Path) -> None:
    where = interp.visible_dir(tmp_path)
    target = where / "missing" / "events.jsonl"
    socket_path = where / "no-syslog"
    g = make_guarded(
        interp,
        where,
        install=False,
    )
    manifest = g.manifest(
        "--events-path",
        str(target),
        "--events-syslog",
        str(socket_path),
        "--events-facility",
        "user",
    )
    installed = g.install(manifest)
    notes = [line for line in installed.stdout.splitlines() if "refusal events:" in line]
    assert len(notes) == 2, installed.stdout
    status = g.pthguard("status", "--python", g.venv.python)
    assert f"  refusal events to {target} and syslog (user, {socket_path})\n" in status.stdout
    status = g.pthguard("status", "--python", g.venv.python, "--format", "json")
    assert json.loads(status.stdout)["events"] == {
        "path": str(target),
        "syslog": {"socket": str(socket_path), "facility": "user"},
    }
    (g.site_packages / "zz_evil.pth").write_bytes(b"import os\n")
    cannot_write = f"pthguard: could not write the refusal event to {target}: "
    cannot_send = f"pthguard: could not send the refusal event to syslog ({socket_path}): "
    for _, start in _starts(g):
        lines = assert_refused(start("-c", "pass"), "zz_evil.pth")
        assert line_with(lines, cannot_write) == cannot_write + "No such file or directory"
        assert line_with(lines, cannot_send) == cannot_send + "No such file or directory"
    # a symbolic link is never written through; a FIFO (no reader) neither blocks nor is
    # written; a directory is not a file
    target.parent.mkdir()
    elsewhere = where / "elsewhere"
    elsewhere.write_bytes(b"")
    target.symlink_to(elsewhere)
    lines = assert_refused(g.start("-c", "pass"), "zz_evil.pth")
    assert line_with(lines, cannot_write).endswith("a symbolic link (never written through)")
    assert elsewhere.read_bytes() == b""
    target.unlink()
    os.mkfifo(target)
    lines = assert_refused(g.start("-c", "pass"), "zz_evil.pth")
    assert line_with(lines, cannot_write) == cannot_write + "No such device or address"
    target.unlink()
    target.mkdir()
    lines = assert_refused(g.sealed("-c", "pass"), "zz_evil.pth")
    assert line_with(lines, cannot_write) == cannot_write + "Is a directory"
    # the gate's cold half, which writes events, cannot load: refused all the same
    target.rmdir()
    (cold,) = g.state_dir().glob("gate-cold.*.bin")
    data = bytearray(cold.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cold.write_bytes(bytes(data))
    lines = assert_refused(g.start("-c", "pass"), "the startup gate failed")
    assert any(ln.startswith("pthguard: could not write the refusal event (") for ln in lines)
    assert not target.exists()


# -- syslog ------------------------------------------------------------------------------------


@contextmanager
def _syslog_socket(interp: Interpreter, kind: int = socket.SOCK_DGRAM) -> Iterator[Any]:
    """A unix socket bound where ``interp`` sees it (a short path: ``sun_path`` is 108 bytes),
    as a syslog daemon binds ``/dev/log``."""
    where = interp.tmp_dir("log-")
    sock = socket.socket(socket.AF_UNIX, kind)
    sock.bind(str(where / "log"))
    sock.settimeout(30)
    try:
        yield sock, interp.inner_path(where / "log")
    finally:
        sock.close()


def _parse_syslog(message: bytes) -> tuple[int, int, dict[str, Any]]:
    match = SYSLOG_RE.match(message)
    assert match, message
    return int(match[1]), int(match[3]), json.loads(match[4])


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_syslog_gets_one_message_per_event(interp: Interpreter, tmp_path: Path) -> None:
    """``<PRI>TIMESTAMP pthguard[PID]: JSON`` to the socket the policy names; priority
    facility * 8 + severity (err for a refusal, warning in warn mode)."""
    with _syslog_socket(interp) as (sock, address):
        where = interp.visible_dir(tmp_path)
        g = make_guarded(interp, where, install=False)
        manifest = g.manifest("--events-syslog", address, "--events-facility", "local3")
        g.install(manifest)
        (g.site_packages / "zz_evil.pth").write_bytes(b"import os\n")
        for _, start in _starts(g):
            proc = start("-c", "pass")
            assert_refused(proc, "zz_evil.pth")
            assert "refusal event" not in proc.stderr
            priority, pid, event = _parse_syslog(sock.recv(65536))
            assert priority == 19 * 8 + 3  # LOG_LOCAL3, LOG_ERR
            assert pid == event["pid"]
            violations = _check_event(event, g, action="refused", stage="startup", mode="enforce")
            assert _one(violations, g.interp.inner_path(g.site_packages / "zz_evil.pth"))
        evil = g.site_packages / "zz_evil.pth"
        evil.rename(evil.with_name("evil.txt"))
        g.install(manifest, "--mode", "warn")
        evil.with_name("evil.txt").rename(evil)
        proc = g.start("-c", "pass")
        assert proc.returncode == 0, proc.stderr
        priority, _, event = _parse_syslog(sock.recv(65536))
        assert priority == 19 * 8 + 4  # LOG_WARNING
        assert (event["action"], event["mode"]) == ("warned", "warn")


@pytest.mark.parametrize("interp", DEV)
def test_syslog_stream_socket_and_a_daemon_that_is_not_there(
    interp: Interpreter, tmp_path: Path
) -> None:
    """A stream socket (some syslog daemons) gets the message and a NUL; no socket, or a
    socket nobody reads: one line on stderr, and the refusal goes on."""
    with _syslog_socket(interp, socket.SOCK_STREAM) as (server, address):
        server.listen(4)
        g = make_guarded(interp, interp.visible_dir(tmp_path), install=False)
        g.install(g.manifest("--events-syslog", address))
        (g.site_packages / "zz_evil.pth").write_bytes(b"import os\n")
        received: list[bytes] = []

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                received.append(data)

        reader = threading.Thread(target=serve)
        reader.start()
        proc = g.sealed("-c", "pass")
        reader.join(60)
        assert_refused(proc, "zz_evil.pth")
        assert "refusal event" not in proc.stderr
        (data,) = received
        assert data.endswith(b"\0")
        priority, _, event = _parse_syslog(data[:-1])
        assert priority == 4 * 8 + 3  # LOG_AUTH, LOG_ERR (the default facility)
        assert event["action"] == "refused"
    # the socket is gone (a daemon that stopped): the same refusal, and why there is no event
    lines = assert_refused(g.start("-c", "pass"), "zz_evil.pth")
    line = line_with(lines, "could not send the refusal event")
    assert line == (
        f"pthguard: could not send the refusal event to syslog ({address}): Connection refused"
    )


def test_a_long_syslog_message_leaves_out_trailing_violations() -> None:
    violation = {"what": "unlisted startup file", "path": "/x/" + "a" * 200, "detail": "d"}
    doc: dict[str, Any] = {"event": "pthguard.refusal", "pid": 7, "violations": [violation] * 100}
    short = _syslog_message(doc, 35, 0, 7)
    assert len(short) <= SYSLOG_MAX
    _, _, event = _parse_syslog(short)
    kept = len(event["violations"])
    assert 0 < kept < 100
    assert event["violations_omitted"] == 100 - kept
    assert event["violations"] == [violation] * kept
    whole = _syslog_message({**doc, "violations": [violation]}, 35, 0, 7)
    assert "violations_omitted" not in _parse_syslog(whole)[2]
