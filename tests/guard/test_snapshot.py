"""``pthguard.guard.snapshot``: the version of the next manifest and the policy it carries."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from pthguard.errors import ManifestError
from pthguard.guard.snapshot import SnapshotSpec, next_version, policy_of
from pthguard.manifest.envelope import Envelope
from tests.factories import fixture_public_key, make_manifest

NOW = dt.datetime(2026, 3, 24, 12, tzinfo=dt.timezone.utc)


SPEC = SnapshotSpec(version=1, created=NOW, expires=NOW + dt.timedelta(days=90))


def test_next_version_of_no_file_is_1(tmp_path: Path) -> None:
    assert next_version(tmp_path / "manifest.json") == 1


def test_next_version_follows_the_file_replaced(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(Envelope.from_manifest(make_manifest(version=7)).to_bytes())
    assert next_version(path) == 8


def test_next_version_follows_the_previous_manifest_too(tmp_path: Path) -> None:
    previous = tmp_path / "signed-v4.json"
    previous.write_bytes(Envelope.from_manifest(make_manifest(version=4)).to_bytes())
    assert next_version(tmp_path / "new.json", previous) == 5
    draft = tmp_path / "draft.json"
    draft.write_bytes(Envelope.from_manifest(make_manifest(version=9)).to_bytes())
    assert next_version(draft, previous) == 10


def test_next_version_of_a_broken_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(b"{")
    with pytest.raises(ManifestError, match=str(path)):
        next_version(path)


def test_policy_lists_each_signer_once() -> None:
    one, two = fixture_public_key(1), fixture_public_key(2)
    policy = policy_of(replace(SPEC, signers=(one, two, one), threshold=2, mode="warn"))
    assert [k.keyid for k in policy.keys] == [one.keyid, two.keyid]
    assert (policy.threshold, policy.mode) == (2, "warn")
    assert (policy.unlisted_distributions, policy.unclaimed_files) == ("refuse", "report")
    assert policy.allow_env_override is False
    assert policy.project is None


def test_policy_without_signers_trusts_any_key() -> None:
    assert policy_of(SPEC).keys == ()
