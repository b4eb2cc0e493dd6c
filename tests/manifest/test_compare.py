"""``diff_manifests``: what ``pthguard diff`` shows, a changed policy first."""

from __future__ import annotations

from pthguard.manifest.compare import compare, diff_manifests
from tests.factories import (
    fixture_public_key,
    make_distribution,
    make_manifest,
    make_policy,
    make_site_dir,
)


def test_same_manifest_no_differences() -> None:
    manifest = make_manifest()
    assert diff_manifests(manifest, manifest) == []


def test_policy_change_comes_first() -> None:
    old = make_manifest()
    new = make_manifest(
        policy=make_policy(mode="warn"), site_dirs=[make_site_dir(unclaimed=("x.py",))]
    )
    diffs = diff_manifests(old, new)
    policy, *rest = diffs
    assert (policy.category, policy.change, policy.subject) == ("environment", "changed", "policy")
    assert policy.expected == str(old.policy.to_dict())
    assert policy.found == str(new.policy.to_dict())
    assert rest == compare(old, new, include_unclaimed=True)
    assert [(d.category, d.change) for d in rest] == [("unclaimed", "added")]


def test_new_signer_is_a_policy_change() -> None:
    old = make_manifest()
    new = make_manifest(keys=[fixture_public_key(1)])
    assert [(d.category, d.subject) for d in diff_manifests(old, new)] == [
        ("environment", "policy")
    ]


def test_the_policy_gives_each_difference_its_verdict() -> None:
    """Unlisted distributions and unclaimed files are violations or notices as the policy
    says; JSON keeps the verdict in ``severity``."""
    new = make_manifest(
        site_dirs=[make_site_dir(unclaimed=("x.py",))],
        distributions=[make_distribution(), make_distribution("extra", "1.0")],
    )
    strict = make_policy(unlisted_distributions="refuse", unclaimed_files="refuse")
    lenient = make_policy(unlisted_distributions="report", unclaimed_files="report")
    for policy, expected in ((strict, "violation"), (lenient, "notice")):
        old = make_manifest(policy=policy, distributions=[make_distribution()])
        diffs = compare(old, new, include_unclaimed=True)
        assert [(d.category, d.verdict) for d in diffs] == [
            ("distribution", expected),
            ("unclaimed", expected),
        ]
        assert [d.to_dict()["severity"] for d in diffs] == [expected, expected]
