"""pthguard.findings, the one vocabulary, and the rule tables built on it."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from pthguard.analysis.rules import RULES as ANALYSIS_RULES
from pthguard.environment.rules import BLOCKING
from pthguard.environment.rules import RULES as ENVIRONMENT_RULES
from pthguard.findings import SEVERITIES, Finding, Rule, rank, rule, rule_table, worst
from pthguard.lock.rules import RULES as LOCK_RULES

PACKAGE = Path(__file__).resolve().parents[1] / "pthguard"
TABLES = {"analysis": ANALYSIS_RULES, "environment": ENVIRONMENT_RULES, "lock": LOCK_RULES}


def test_the_scale() -> None:
    assert SEVERITIES == ("info", "low", "medium", "high")
    assert [rank(s) for s in SEVERITIES] == [0, 1, 2, 3]
    assert worst(["low", "high", "medium"]) == "high"
    assert worst(f.severity for f in (Finding(rule="a", severity="low", message="m"),)) == "low"
    assert worst([]) == "info"


def test_finding_is_frozen_slotted_keyword_only() -> None:
    finding = Finding(rule="url", severity="medium", message="m")
    assert (finding.path, finding.line, finding.subject) == (None, None, None)
    assert (finding.evidence, finding.versions) == ("", ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.message = "changed"  # type: ignore[misc]
    assert not hasattr(finding, "__dict__")
    with pytest.raises(TypeError):
        Finding("url", "medium", "m")  # type: ignore[call-arg]


def test_rule_makes_findings_at_its_severity() -> None:
    made = rule("exec-decoded", "high", "Executes decoded data")
    assert made == Rule(
        id="exec-decoded", name="ExecDecoded", severity="high", summary="Executes decoded data"
    )
    assert made.finding("runs it", path="x.pth", line=3) == Finding(
        rule="exec-decoded", severity="high", message="runs it", path="x.pth", line=3
    )
    assert made.finding("m", subject="pkg").subject == "pkg"


def test_rule_table_refuses_a_duplicate_id() -> None:
    one = rule("a", "low", "A")
    assert rule_table(one) == {"a": one}
    with pytest.raises(ValueError, match="'a' is defined twice"):
        rule_table(one, rule("a", "high", "also A"))


def test_tables_agree_where_they_share_an_id() -> None:
    """One id is one kind of problem wherever it is reported."""
    for name, table in TABLES.items():
        assert all(key == value.id for key, value in table.items()), name
    for left, right in (("analysis", "environment"), ("analysis", "lock"), ("environment", "lock")):
        for shared in set(TABLES[left]) & set(TABLES[right]):
            a, b = TABLES[left][shared], TABLES[right][shared]
            assert (a.severity, a.operational) == (b.severity, b.operational), shared


def test_blocking_is_the_operational_environment_rules() -> None:
    assert {r.id for r in ENVIRONMENT_RULES.values() if r.operational} == BLOCKING
    assert {"unreadable", "non-utf8-name", "metadata-incomplete"} <= BLOCKING
    assert "claimed-twice" not in BLOCKING
    assert not any(r.operational for r in LOCK_RULES.values())


def _named_rules(path: Path) -> set[str]:
    """Rule ids a module spells out: ``RULES["x"]``, ``rule="x"``, ``snap.note("x", ...)``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id == "RULES" and isinstance(node.slice, ast.Constant):
                names.add(str(node.slice.value))
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "rule" and isinstance(keyword.value, ast.Constant):
                    names.add(str(keyword.value.value))
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "note" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
    return names


@pytest.mark.parametrize("layer", sorted(TABLES))
def test_every_rule_the_code_names_is_in_its_table(layer: str) -> None:
    modules = sorted((PACKAGE / layer).glob("*.py"))
    named = set().union(*(_named_rules(module) for module in modules))
    assert named, layer
    assert named <= set(TABLES[layer]), named - set(TABLES[layer])
