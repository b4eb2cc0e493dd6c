"""Tests of pthguard.formats.metadata: Name and Version read as the email package reads them."""

from __future__ import annotations

import site
import sys
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from pthguard.formats import metadata as _metadata
from pthguard.formats.metadata import name_and_version, normalize_name


def by_email(data: bytes) -> tuple[str, str]:
    """What pthguard read before the plain reader: the email package, compat32."""
    headers = BytesHeaderParser().parsebytes(data)
    return str(headers.get("Name", "")).strip(), str(headers.get("Version", "")).strip()


def real_metadata() -> list[Path]:
    """Every METADATA/PKG-INFO of the interpreter running the tests (its venv's distributions
    and the base interpreter's)."""
    dirs = {*site.getsitepackages(), *site.getsitepackages([sys.base_prefix])}
    found: list[Path] = []
    for directory in sorted(dirs):
        found += sorted(Path(directory).glob("*.dist-info/METADATA"))
        found += sorted(Path(directory).glob("*.egg-info/PKG-INFO"))
    return found


def test_real_distributions_agree_with_email() -> None:
    files = real_metadata()
    assert len(files) >= 20, files  # the dev venv holds the dev requirements
    plain = 0
    for path in files:
        data = path.read_bytes()
        assert name_and_version(data) == by_email(data), path
        plain += _metadata._plain_fields(data) is not None
    assert plain >= len(files) * 3 // 4  # most real files take the plain path


PLAIN = [
    b"Metadata-Version: 2.1\nName: six\nVersion: 1.17.0\n\nName: body\n",
    b"Name: six\nVersion: 1.0",  # no newline at the end, no body
    b"name: Lower\nVERSION: 2\n",  # field names in any case
    b"Name: first\nName: second\nVersion: 1\nVersion: 2\n",  # the first of each counts
    b"Name:   padded\t \nVersion:\t3.0  \n",
    b"Name: only\n",  # no Version
    b"Version: 1\n",  # no Name
    b"",
    b"Name: x\nVersion: 1\n\n\n",
    b"License: MIT\n  and more\n\tand more\nName: folded-neighbour\nVersion: 1\n",
    b"Author: J\xc3\xb6rg\nName: n\nVersion: 1\n",  # UTF-8 in another field
    b"Author: J\xf6rg\nName: n\nVersion: 1\n",  # latin-1 in another field
    b"Name: a\x0cb\nVersion: 1\x1f\n",  # characters email does not split on
    b"Name: x\nVersion: 1\nSummary: s\n  folded summary\n",
    b"Name: x\x00y\nVersion: 1\n",
]

UNUSUAL = [
    b"Name: crlf\r\nVersion: 1\r\n\r\n",
    b"Name: cr\rVersion: 1\r",
    b"Name: folded\n name\nVersion: 1\n",  # a folded Name
    b"Name: x\nVersion: 1\n\t.0\n",  # a folded Version
    b"Name: n\xc3\xa4me\nVersion: 1\n",  # UTF-8 in Name
    b"Name: n\xe4me\nVersion: 1\n",  # not UTF-8 in Name
    b"Name: x\nVersion: 1\xff\n",  # not UTF-8 in Version
    b"From someone\nName: x\nVersion: 1\n",  # a unix-from line
    b"Name: x\nnot a field\nVersion: 1\n",  # ends the header block: Version is body
    b"Name : spaced\nVersion: 1\n",  # a space before the colon ends the header block
    b": empty field name\nName: x\nVersion: 1\n",
    b" continuation first\nName: x\nVersion: 1\n",
    b"\xef\xbb\xbfName: bom\nVersion: 1\n",
    b"\n\nName: x\n",  # an empty header block
    b"Name: x\nVers\xe4ion: 2\nVersion: 1\n",
]


@pytest.mark.parametrize("data", PLAIN)
def test_plain_files_are_read_without_email(data: bytes) -> None:
    assert _metadata._plain_fields(data) is not None, data
    assert name_and_version(data) == by_email(data)


@pytest.mark.parametrize("data", UNUSUAL)
def test_unusual_files_go_to_email(data: bytes) -> None:
    assert _metadata._plain_fields(data) is None, data
    assert name_and_version(data) == by_email(data)


def test_missing_fields_are_empty() -> None:
    assert name_and_version(b"Name: only\n") == ("only", "")
    assert name_and_version(b"Metadata-Version: 2.1\n\nName: x\nVersion: 1\n") == ("", "")


_LINE = st.sampled_from(
    [
        b"Name: a",
        b"name: B.c",
        b"Version: 1.0",
        b"VERSION:2",
        b"Summary: s",
        b" folded",
        b"\tfolded",
        b"",
        b"From x",
        b"no colon",
        b": x",
        b"Name: \xe4",
        b"Version: \xc3\xa4",
        b"Name: x\r",
        b"Name :x",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=8), st.sampled_from([b"\n", b"\r\n", b"\r"]), st.booleans())
def test_any_arrangement_agrees_with_email(lines: list[bytes], end: bytes, last: bool) -> None:
    data = end.join(lines) + (end if last else b"")
    assert name_and_version(data) == by_email(data)


@pytest.mark.parametrize(
    "name",
    ["Django", "oslo.concurrency", "zope.interface", "A__b--c..d", "typing_extensions", "x", ""],
)
def test_normalize_name_is_packagings(name: str) -> None:
    assert normalize_name(name) == canonicalize_name(name)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ09-_.İK"), max_size=12))
def test_normalize_name_random(name: str) -> None:
    assert normalize_name(name) == canonicalize_name(name)
