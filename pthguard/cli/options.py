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

__all__ = [
    "approval_options",
    "approval_requests",
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
