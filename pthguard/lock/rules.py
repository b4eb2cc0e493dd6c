"""The kinds of finding ``audit-lock`` reports (a finding's ``rule``, shown as ``kind``).

``audit-lock`` does not grade its findings: each one means the lock is less than a lock, or
the environment differs from it, and fails the audit (exit code 1). On the scale of
:mod:`pthguard.findings` they are all ``medium``; none is ``operational`` (a lock that cannot
be read at all is a :class:`~pthguard.errors.LockError`, exit code 3).
"""

from __future__ import annotations

from typing import Final

from pthguard.findings import Rule, rule, rule_table

__all__ = ["RULES"]

RULES: Final[dict[str, Rule]] = rule_table(
    rule("not-pinned", "medium", "A package is not pinned to one exact version"),
    rule("not-hashable", "medium", "A VCS, local or editable requirement: no hash can pin it"),
    rule("no-hash", "medium", "A package has no sha256 hash"),
    rule("weak-hash", "medium", "A package has only weak hashes (md5, sha1, ...)"),
    rule("remote-include", "medium", "A requirements file includes a remote file"),
    rule("duplicate", "medium", "A package is listed twice for the same markers"),
    rule("not-locked", "medium", "A distribution is installed but not locked"),
    rule("not-installed", "medium", "A locked package is not installed"),
    rule("version-mismatch", "medium", "An installed version differs from the locked one"),
)
