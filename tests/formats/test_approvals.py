"""formats.approvals: ``--approve`` values and approvals files."""

from __future__ import annotations

import pytest

from pthguard.errors import ApprovalError, PthguardError
from pthguard.formats.approvals import parse_approval, parse_approvals_file

HEX = "71e35aef03099cd1f2d6446734273025a163597de93912df321ef118bf135238"


def test_a_bare_hash() -> None:
    made = parse_approval(f"sha256:{HEX}")
    assert (made.sha256, made.name, made.reason, made.source) == (HEX, None, None, "--approve")


def test_name_and_reason_and_upper_case_hex() -> None:
    made = parse_approval(f"sha256:{HEX.upper()}  litellm_init.pth  # reviewed by ann, ticket 42")
    assert made.sha256 == HEX
    assert made.name == "litellm_init.pth"
    assert made.reason == "reviewed by ann, ticket 42"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty approval"),
        ("# only a comment", "empty approval"),
        (HEX, "expected sha256: and 64 hex digits"),
        (f"md5:{HEX[:32]}", "expected sha256: and 64 hex digits"),
        (f"sha256:{HEX[:63]}", "expected sha256: and 64 hex digits"),
        (f"sha256:{HEX} a.pth b.pth", "a file name and '# reason' at most"),
        (f"sha256:{HEX} a.pth # " + "x" * 501, "longer than 500 characters"),
    ],
)
def test_malformed(text: str, needle: str) -> None:
    with pytest.raises(ApprovalError) as info:
        parse_approval(text)
    assert isinstance(info.value, PthguardError)
    assert needle in str(info.value)


def test_a_file_skips_blank_lines_and_comments_and_names_the_bad_line() -> None:
    data = f"# reviewed startup code\n\nsha256:{HEX} x.pth\n   # indented comment\n".encode()
    (made,) = parse_approvals_file(data, "pthguard-approvals.txt")
    assert made.source == "pthguard-approvals.txt:3"
    with pytest.raises(ApprovalError, match=r"^approvals\.txt:2: 'nonsense' is not an approval"):
        parse_approvals_file(f"sha256:{HEX}\nnonsense\n".encode(), "approvals.txt")


def test_a_file_that_is_not_utf8() -> None:
    with pytest.raises(ApprovalError, match=r"a\.txt: not UTF-8"):
        parse_approvals_file(b"\xff\n", "a.txt")
