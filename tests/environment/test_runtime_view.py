"""environment.runtime_view: the distributions importlib.metadata sees in a site directory."""

from __future__ import annotations

from pathlib import Path

from pthguard.environment.runtime_view import runtime_distributions, unseen_by_snapshot


def metadata(name: str, version: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"


def test_the_runtime_sees_what_a_name_based_reading_can_miss(tmp_path: Path) -> None:
    """A metadata directory in capitals and an ``.egg-info`` file count as installed."""
    for directory, name, version in (
        ("ok-1.0.dist-info", "ok", "1.0"),
        ("six-9.9.DIST-INFO", "six", "9.9"),
    ):
        (tmp_path / directory).mkdir()
        (tmp_path / directory / "METADATA").write_text(metadata(name, version))
    (tmp_path / "Eggy_Pkg-2.egg-info").write_text(metadata("Eggy_Pkg", "2"))
    seen = {(d.name, d.version) for d in runtime_distributions(str(tmp_path))}
    assert seen == {("ok", "1.0"), ("six", "9.9"), ("eggy-pkg", "2")}
    unseen = unseen_by_snapshot(str(tmp_path), {("ok", "1.0"), ("eggy-pkg", "2")})
    assert [(d.name, d.where) for d in unseen] == [("six", str(tmp_path / "six-9.9.DIST-INFO"))]


def test_an_empty_site_directory(tmp_path: Path) -> None:
    assert runtime_distributions(str(tmp_path)) == []
