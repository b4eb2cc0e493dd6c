"""The words verify and snapshot show for environment findings."""

from __future__ import annotations

from pthguard.environment.rules import RULES
from pthguard.findings import Finding
from pthguard.render.findings import environment_word


def test_blocking_rules_are_errors_and_the_others_warnings() -> None:
    words = {rule_id: environment_word(r.finding("m", path="p")) for rule_id, r in RULES.items()}
    assert words["unreadable"] == words["non-utf8-name"] == "error"
    assert words["dangling-symlink"] == words["metadata-incomplete"] == "error"
    assert words["claimed-twice"] == words["record-missing"] == "warning"
    assert words["start-not-utf8"] == "warning"
    assert set(words.values()) == {"error", "warning"}


def test_info_stays_info() -> None:
    note = Finding(rule="claimed-twice", severity="info", message="m", path="p")
    assert environment_word(note) == "info"
