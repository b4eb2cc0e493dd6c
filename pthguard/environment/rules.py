"""The kinds of finding a snapshot of an environment reports, with their default severity.

``snapshot``, ``verify``, ``install`` and ``protect`` scan an environment
(:mod:`pthguard.environment.snapshot`); what the scan cannot describe or finds doubtful is a
:class:`~pthguard.findings.Finding` of one of these rules. The ``operational`` rules,
:data:`BLOCKING`, are the problems that make an honest manifest impossible (an unreadable
file, a name a manifest cannot hold): ``snapshot`` writes nothing while one is present,
``verify`` is not ok and ``install`` refuses. ``verify`` and ``snapshot`` show a blocking
finding as ``error`` and any other as ``warning`` (:mod:`pthguard.render.findings`).
"""

from __future__ import annotations

from typing import Final

from pthguard.findings import Rule, rule, rule_table

__all__ = ["BLOCKING", "RULES"]

RULES: Final[dict[str, Rule]] = rule_table(
    rule(
        "unreadable",
        "medium",
        "A site directory, startup file, metadata file or startup module cannot be read",
        operational=True,
    ),
    rule(
        "non-utf8-name",
        "medium",
        "A file name is not UTF-8: a manifest cannot name it",
        operational=True,
    ),
    rule(
        "dangling-symlink",
        "medium",
        "A startup file is a dangling symlink: Python skips it, a manifest cannot allowlist it",
        operational=True,
    ),
    rule(
        "not-regular-file",
        "medium",
        "A startup file is not a regular file: Python skips it, a manifest cannot allowlist it",
        operational=True,
    ),
    rule(
        "metadata-incomplete",
        "medium",
        "A distribution's metadata lacks Name or Version",
        operational=True,
    ),
    rule(
        "unseen-distribution",
        "high",
        "importlib.metadata sees a distribution the scan does not describe (a metadata "
        "directory spelled in a way pthguard does not read): it would be neither signed nor "
        "checked",
        operational=True,
    ),
    rule(
        "record-escapes",
        "high",
        "A RECORD row leaves the site directory for a directory the interpreter imports from "
        "(the standard library, another site directory)",
        operational=True,
    ),
    rule(
        "launcher-changed",
        "high",
        "The sealed launcher is not the file install wrote: starts through it are not "
        "guarded; run `pthguard install` again",
        operational=True,
    ),
    rule("record-missing", "medium", "A distribution has no RECORD: its files cannot be checked"),
    rule("record-malformed", "medium", "A RECORD row is malformed or uses a weak hash"),
    rule(
        "installed-files-missing",
        "medium",
        "An egg-info has no installed-files.txt: its files cannot be checked",
    ),
    rule("claimed-twice", "low", "A file is claimed by several distributions"),
    rule("start-not-utf8", "low", "A .start file is not UTF-8: Python ignores it"),
    rule("metadata-not-directory", "low", "A .dist-info entry is not a directory: ignored"),
    rule(
        "metadata-missing",
        "low",
        "A metadata directory has no METADATA/PKG-INFO: Python does not see a distribution",
    ),
)

#: The rules whose findings prevent an honest manifest (the operational ones).
BLOCKING: Final[frozenset[str]] = frozenset(r.id for r in RULES.values() if r.operational)
