"""Approvals of startup code, as a person writes them: ``--approve`` and an approvals file.

An approval names exactly one file by the sha256 of its bytes; it never widens anything but
that hash. The file (by convention ``pthguard-approvals.txt`` in the repository, reviewed like
a lock file) holds one approval per line::

    # startup code this environment may run, reviewed
    sha256:71e35aef03099cd1f2d6446734273025a163597de93912df321ef118bf135238 litellm_init.pth # why

A line is ``sha256:HEX``, then optionally the file's name (checked against the file the
hash belongs to: a copy-paste slip is an error, not a silent approval), then optionally
``# reason``. Blank lines and lines starting with ``#`` are ignored. Anything else is an
error naming the file and line. Pure: the caller reads the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from pthguard.errors import ApprovalError

__all__ = ["ApprovalRequest", "parse_approval", "parse_approvals_file"]

_HASH: Final = re.compile(r"sha256:([0-9a-fA-F]{64})\Z")
_NAME: Final = re.compile(r"[^\s#]+\Z")
REASON_MAX: Final = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRequest:
    sha256: str  # lower-case hex
    name: str | None
    reason: str | None
    source: str  # where it was given: "--approve" or "FILE:LINE"


def parse_approval(text: str, source: str = "--approve") -> ApprovalRequest:
    """One approval: ``sha256:HEX [name] [# reason]``."""
    body, hash_mark, comment = text.partition("#")
    reason = comment.strip() if hash_mark else None
    words = body.split()
    if not words:
        raise ApprovalError(f"{source}: empty approval (expected sha256:HEX)")
    match = _HASH.match(words[0])
    if match is None:
        raise ApprovalError(
            f"{source}: {words[0]!r} is not an approval: expected sha256: and 64 hex digits"
        )
    if len(words) > 2 or (len(words) == 2 and not _NAME.match(words[1])):
        raise ApprovalError(f"{source}: expected sha256:HEX, a file name and '# reason' at most")
    if reason is not None and len(reason) > REASON_MAX:
        raise ApprovalError(f"{source}: the reason is longer than {REASON_MAX} characters")
    return ApprovalRequest(
        sha256=match.group(1).lower(),
        name=words[1] if len(words) == 2 else None,
        reason=reason or None,
        source=source,
    )


def parse_approvals_file(data: bytes, path: str) -> list[ApprovalRequest]:
    """Every approval of a file; the first malformed line is an error with its number."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApprovalError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        found.append(parse_approval(stripped, f"{path}:{number}"))
    return found
