"""Options several commands share, and the parsing of option values."""

from __future__ import annotations

import argparse
import datetime as dt
import re

from pthguard.errors import UsageError

__all__ = ["format_option", "parse_expires", "python_option"]


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
