"""Options several commands share, and the parsing of option values."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pthguard.errors import PthguardError, UsageError

if TYPE_CHECKING:
    from pthguard.formats.approvals import ApprovalRequest
    from pthguard.manifest.model import EventTargets

__all__ = [
    "approval_options",
    "approval_requests",
    "event_targets",
    "events_options",
    "format_option",
    "parse_expires",
    "python_option",
]


def python_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--python", help="interpreter of the environment (default: this one)")


def format_option(
    parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json")
) -> None:
    parser.add_argument("--format", choices=choices, default="text")


def parse_expires(text: str, now: dt.datetime) -> dt.datetime:
    """``--expires``: a lifetime (``90d``, ``12h``) from ``now``, or a UTC time."""
    match = re.fullmatch(r"(\d+)([dh])", text)
    if match:
        amount = int(match.group(1))
        delta = dt.timedelta(days=amount) if match.group(2) == "d" else dt.timedelta(hours=amount)
        return now + delta
    for form in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, form).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    raise UsageError(f"--expires {text!r}: use 90d, 12h, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")


def _approval(text: str) -> str:
    from pthguard.formats.approvals import parse_approval  # noqa: PLC0415

    try:
        parse_approval(text)
    except PthguardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def approval_options(parser: argparse.ArgumentParser) -> None:
    """``--approve sha256:HEX`` and ``--approvals FILE``: startup code a person reviewed."""
    parser.add_argument(
        "--approve",
        action="append",
        default=[],
        type=_approval,
        metavar="sha256:HEX",
        help="approve the startup file with this sha256 after reviewing it (repeatable; "
        "--yes never approves startup code)",
    )
    parser.add_argument(
        "--approvals",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a reviewed file of approvals, one 'sha256:HEX [name] [# reason]' per line "
        "(by convention pthguard-approvals.txt; repeatable)",
    )


def approval_requests(args: argparse.Namespace) -> list[ApprovalRequest]:
    from pthguard.guard.review import ApprovalInput  # noqa: PLC0415

    return ApprovalInput(approve=tuple(args.approve), files=tuple(args.approvals)).requests()


_FACILITIES = ("auth", "authpriv", "daemon", "user", *(f"local{n}" for n in range(8)))


def events_options(parser: argparse.ArgumentParser, *, keep: bool = False) -> None:
    """Where a guarded interpreter also writes each refusal as one JSON line
    (``policy.events``); ``keep``: left out, the previous manifest's targets stay."""
    kept = " (default: as in the last manifest)" if keep else ""
    parser.add_argument(
        "--events-path",
        metavar="PATH",
        help=f"append each refusal as one JSON line to PATH, an absolute path{kept}",
    )
    parser.add_argument(
        "--events-syslog",
        nargs="?",
        const="/dev/log",
        metavar="SOCKET",
        help=f"send each refusal to syslog at SOCKET (default: /dev/log){kept}",
    )
    parser.add_argument(
        "--events-facility",
        choices=_FACILITIES,
        help="the syslog facility of --events-syslog (default: auth)",
    )
    if keep:
        parser.add_argument(
            "--no-events", action="store_true", help="write no refusal events from now on"
        )


def event_targets(args: argparse.Namespace) -> EventTargets | None:
    """``policy.events`` from :func:`events_options`, checked as the manifest is; None when
    no target is given."""
    from pthguard._internal.fields import Problems  # noqa: PLC0415
    from pthguard.manifest.model import DEFAULT_SYSLOG_FACILITY, EventTargets  # noqa: PLC0415

    path, syslog, facility = args.events_path, args.events_syslog, args.events_facility
    if facility is not None and syslog is None:
        raise UsageError("--events-facility needs --events-syslog")
    if getattr(args, "no_events", False) and (path is not None or syslog is not None):
        raise UsageError("--no-events cannot be combined with --events-path or --events-syslog")
    if path is None and syslog is None:
        return None
    doc = {
        "path": path,
        "syslog": None
        if syslog is None
        else {"socket": syslog, "facility": facility or DEFAULT_SYSLOG_FACILITY},
    }
    problems = Problems()
    made = EventTargets.parse(doc, "events", problems)
    if problems.items or made is None:
        options = {
            "events.path:": ("--events-path", path),
            "events.syslog.socket:": ("--events-syslog", syslog),
        }
        shown = []
        for problem in problems.items:
            text = problem
            for prefix, (option, value) in options.items():
                if problem.startswith(prefix):
                    text = f"{option} {value!r}:{problem[len(prefix) :]}"
            shown.append(text)
        raise UsageError("; ".join(shown))
    return made
