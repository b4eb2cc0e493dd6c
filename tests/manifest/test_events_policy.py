"""``policy.events``: where a guarded interpreter also writes each refusal as one JSON line.

The model and its strict parsing, the options that write it (``snapshot``, and ``protect``,
which keeps the previous targets), and what the seal carries to the gate. The gate writing
events is ``tests/gate/test_events.py``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from pthguard.cli.app import main
from pthguard.errors import ManifestError
from pthguard.guard.seal import events_rule
from pthguard.manifest.model import EventTargets, Manifest, SyslogTarget
from tests.factories import manifest_dict

EVENTS_PATH = "/var/log/pthguard/events.jsonl"
BOTH: dict[str, Any] = {
    "path": EVENTS_PATH,
    "syslog": {"socket": "/dev/log", "facility": "local3"},
}


def _with_events(events: object) -> dict[str, Any]:
    data = manifest_dict()
    data["policy"]["events"] = events
    return data


def test_missing_events_are_null_and_not_written() -> None:
    data = manifest_dict()
    assert "events" not in data["policy"]
    manifest = Manifest.from_dict(data)
    assert manifest.policy.events is None
    assert manifest.to_dict() == data  # unchanged bytes (and signatures) without events
    assert Manifest.from_dict(_with_events(None)).policy.events is None


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (BOTH, EventTargets(path=EVENTS_PATH, syslog=SyslogTarget(facility="local3"))),
        ({"path": "/srv/ev.jsonl", "syslog": None}, EventTargets(path="/srv/ev.jsonl")),
        (
            {"path": None, "syslog": {"socket": "/run/log", "facility": "auth"}},
            EventTargets(syslog=SyslogTarget(socket="/run/log")),
        ),
    ],
)
def test_events_round_trip(events: dict[str, Any], expected: EventTargets) -> None:
    data = _with_events(events)
    manifest = Manifest.from_dict(data)
    assert manifest.policy.events == expected
    assert manifest.to_dict() == data
    assert Manifest.from_dict(manifest.to_dict()) == manifest


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ("/var/log/x", "signed.policy.events: expected an object, found a string"),
        ({"syslog": None}, "signed.policy.events.path: missing (use null for none)"),
        ({"path": "/a"}, "signed.policy.events.syslog: missing (use null for none)"),
        (
            {"path": None, "syslog": None},
            "signed.policy.events: names no target (path and syslog are null): leave it out",
        ),
        ({"path": "/a", "syslog": None, "x": 1}, "signed.policy.events.x: unknown field"),
        ({"path": "ev.jsonl", "syslog": None}, "events.path: must be an absolute path"),
        ({"path": "/var/log/../ev", "syslog": None}, "events.path: must be a normalised path"),
        ({"path": "/var/log/", "syslog": None}, "events.path: must be a normalised path"),
        ({"path": "/var//ev", "syslog": None}, "events.path: must be a normalised path"),
        ({"path": "/", "syslog": None}, "events.path: must be a normalised path"),
        ({"path": "/a\nb", "syslog": None}, "events.path: must not contain control characters"),
        ({"path": "/a/zz.pth", "syslog": None}, "must not name a startup file (.pth, .start)"),
        ({"path": 1, "syslog": None}, "events.path: expected a string or null, found an integer"),
        ({"path": None, "syslog": True}, "events.syslog: expected an object, found a boolean"),
        (
            {"path": None, "syslog": {"socket": "/dev/log"}},
            "signed.policy.events.syslog.facility: missing",
        ),
        (
            {"path": None, "syslog": {"socket": "/dev/log", "facility": "kern"}},
            "events.syslog.facility: must be one of auth, authpriv, daemon, user, local0",
        ),
        (
            {"path": None, "syslog": {"socket": "dev/log", "facility": "auth"}},
            "events.syslog.socket: must be an absolute path",
        ),
        (
            {"path": None, "syslog": {"socket": "/" + "s" * 107, "facility": "auth"}},
            "events.syslog.socket: longer than 107 bytes (a unix socket address)",
        ),
        (
            {"path": None, "syslog": {"socket": "/dev/log", "facility": "auth", "ident": "x"}},
            "events.syslog.ident: unknown field",
        ),
    ],
)
def test_events_strict_parsing(events: object, problem: str) -> None:
    with pytest.raises(ManifestError) as info:
        Manifest.from_dict(_with_events(events))
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_seal_carries_what_the_gate_reads() -> None:
    assert events_rule(None, ("_socket", "/x/_socket.so"), "/srv/venv") is None
    only_file = EventTargets(path="/srv/ev.jsonl")
    assert events_rule(only_file, ("_socket", "/x/_socket.so"), "/srv/venv") == {
        "path": "/srv/ev.jsonl",
        "syslog": None,
        "socket_module": None,
        "prefix": "/srv/venv",
    }
    both = EventTargets(path="/srv/ev.jsonl", syslog=SyslogTarget(facility="local3"))
    assert events_rule(both, None, "/srv/venv") == {
        "path": "/srv/ev.jsonl",
        "syslog": ("/dev/log", 19),  # LOG_LOCAL3
        "socket_module": None,  # builtin
        "prefix": "/srv/venv",
    }
    loaded = events_rule(both, ("_socket", "/x/_socket.so"), "/srv/venv")
    assert loaded is not None
    assert loaded["socket_module"] == ("_socket", "/x/_socket.so")


# -- the options --------------------------------------------------------------------------------


def _snapshot(tmp_path: Path, *options: str) -> tuple[int, str, dict[str, Any] | None]:
    """``snapshot`` of the dev interpreter's own environment, which may need approvals:
    only the policy matters here (written, or the usage error)."""
    output = tmp_path / "m.json"
    out, err = io.StringIO(), io.StringIO()
    argv = ["snapshot", "-o", str(output), "--format", "json", *options]
    code = main(argv, out=out, err=err)
    if code == 1:  # startup code to approve: approve what the review lists
        review = json.loads(out.getvalue())
        approve = [
            arg
            for item in review["reviews"]
            if item["verdict"] == "needs-approval"
            for arg in ("--approve", item["approve_with"])
        ]
        out, err = io.StringIO(), io.StringIO()
        code = main([*argv, *approve], out=out, err=err)
    policy = json.loads(output.read_text())["signed"]["policy"] if code == 0 else None
    return code, err.getvalue(), policy


def test_snapshot_options_write_policy_events(tmp_path: Path) -> None:
    code, err, policy = _snapshot(
        tmp_path,
        "--events-path",
        "/var/log/pthguard/events.jsonl",
        "--events-syslog",
        "--events-facility",
        "local3",
    )
    assert code == 0, err
    assert policy is not None
    assert policy["events"] == {
        "path": "/var/log/pthguard/events.jsonl",
        "syslog": {"socket": "/dev/log", "facility": "local3"},
    }
    code, err, policy = _snapshot(tmp_path, "--events-syslog=/run/syslog.sock")
    assert code == 0, err
    assert policy is not None
    assert policy["events"] == {
        "path": None,
        "syslog": {"socket": "/run/syslog.sock", "facility": "auth"},
    }
    code, err, policy = _snapshot(tmp_path)
    assert code == 0, err
    assert policy is not None
    assert "events" not in policy


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--events-path", "events.jsonl"],
            "--events-path 'events.jsonl': must be an absolute path",
        ),
        (
            ["--events-syslog=log"],
            "--events-syslog 'log': must be an absolute path",
        ),
        (["--events-facility", "auth"], "--events-facility needs --events-syslog"),
    ],
)
def test_snapshot_options_are_checked(tmp_path: Path, options: list[str], message: str) -> None:
    code, err, _ = _snapshot(tmp_path, *options)
    assert code == 2
    assert err == f"pthguard: usage error: {message}\n"
    assert not (tmp_path / "m.json").exists()
