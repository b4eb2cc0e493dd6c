"""``policy.project``: a CI runner rebuilds the project under test on every run while every
dependency stays enforced.

The model and its strict parsing, ``snapshot --project`` (the loosening), the comparison and
the gate's compiled rule are tested as pure functions; then the whole story runs on every
interpreter: a real PEP 660 editable install by pip and setuptools, snapshot --project,
sign, install, rebuilds (editable again with new code, a fresh wheel with a new version),
and what must still be refused (a new startup file of the project, other code lines, an
unlisted look-alike distribution, a changed dependency).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from pthguard.errors import ManifestError, PthguardError
from pthguard.gate import cold as _gate
from pthguard.gate.names import name_fits
from pthguard.manifest import compare as _compare
from pthguard.manifest import project as _project
from pthguard.manifest.model import Manifest, ProjectRule, ProjectStartupFile
from tests.conftest import run_cli
from tests.factories import (
    make_distribution,
    make_manifest,
    make_site_dir,
    make_startup_file,
    manifest_dict,
)
from tests.support.guard import (
    Guarded,
    assert_refused,
    line_with,
    make_guarded,
    marker_pth,
)
from tests.support.interpreters import Interpreter, interpreter_params
from tests.support.realfiles import real_wheel

FINDER_LINE = "import __editable___myproj_1_0_finder; __editable___myproj_1_0_finder.install()"
RULE = {
    "name": "myproj",
    "startup_files": [{"name": "__editable__.myproj-*.pth", "code_lines": [FINDER_LINE]}],
}


def _editable_manifest() -> Manifest:
    editable = make_startup_file(
        "__editable__.myproj-1.0.pth",
        content=(FINDER_LINE + "\n").encode(),
        owner="myproj",
    )
    return make_manifest(
        site_dirs=[make_site_dir(startup_files=[make_startup_file(), editable])],
        distributions=[
            make_distribution(),
            make_distribution("myproj", "1.0", editable=True),
        ],
    )


def _with_policy_project(data: dict[str, Any], rule: object) -> dict[str, Any]:
    data["policy"]["project"] = rule
    return data


# -- the model -------------------------------------------------------------------------------


def test_missing_project_is_null_and_not_written() -> None:
    data = manifest_dict()
    assert "project" not in data["policy"]
    manifest = Manifest.from_dict(data)
    assert manifest.policy.project is None
    assert manifest.to_dict() == data  # unchanged bytes for manifests without a rule
    explicit_null = _with_policy_project(manifest_dict(), None)
    assert Manifest.from_dict(explicit_null).policy.project is None


def test_project_round_trip() -> None:
    data = _with_policy_project(manifest_dict(), RULE)
    manifest = Manifest.from_dict(data)
    assert manifest.policy.project == ProjectRule(
        name="myproj",
        startup_files=(
            ProjectStartupFile(name="__editable__.myproj-*.pth", code_lines=(FINDER_LINE,)),
        ),
    )
    assert manifest.to_dict() == data
    assert Manifest.from_dict(manifest.to_dict()) == manifest


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("myproj", "signed.policy.project: expected an object, found a string"),
        ({"startup_files": []}, "signed.policy.project.name: missing"),
        ({"name": "myproj"}, "signed.policy.project.startup_files: missing"),
        ({"name": "My_Proj", "startup_files": []}, "expected a PEP 503 normalised name"),
        ({"name": "myproj", "startup_files": [], "extra": 1}, "project.extra: unknown field"),
        (
            {"name": "myproj", "startup_files": [{"name": "a.start", "code_lines": []}]},
            "project.startup_files[0].name: a project startup file name ends with .pth",
        ),
        (
            {"name": "myproj", "startup_files": [{"name": "x/a.pth", "code_lines": []}]},
            "must be a plain file name",
        ),
        (
            {"name": "myproj", "startup_files": [{"name": "*.pth", "code_lines": []}]},
            "must be a plain file name",
        ),
        (
            {"name": "myproj", "startup_files": [{"name": "a-*-*.pth", "code_lines": []}]},
            "at most one * (the version)",
        ),
        (
            {"name": "myproj", "startup_files": [{"name": "a.pth", "code_lines": [1]}]},
            "project.startup_files[0].code_lines[0]: expected a string, found an integer",
        ),
        (
            {"name": "myproj", "startup_files": [{"name": "a.pth"}]},
            "project.startup_files[0].code_lines: missing",
        ),
        (
            {
                "name": "myproj",
                "startup_files": [
                    {"name": "a.pth", "code_lines": []},
                    {"name": "a.pth", "code_lines": ["import x"]},
                ],
            },
            "duplicate entry 'a.pth'",
        ),
    ],
)
def test_project_strict_parsing(rule: object, problem: str) -> None:
    with pytest.raises(ManifestError) as info:
        Manifest.from_dict(_with_policy_project(manifest_dict(), rule))
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_project_must_not_be_listed_as_a_distribution() -> None:
    data = manifest_dict(distributions=[make_distribution("myproj", "1.0")])
    data = _with_policy_project(data, RULE)
    with pytest.raises(ManifestError, match=r"distributions\[0\]: is policy.project 'myproj'"):
        Manifest.from_dict(data)


@pytest.mark.parametrize(
    ("pattern", "name", "fits"),
    [
        ("__editable__.myproj-*.pth", "__editable__.myproj-1.0.pth", True),
        ("__editable__.myproj-*.pth", "__editable__.myproj-2.1.dev3+g1a2b.pth", True),
        ("__editable__.myproj-*.pth", "__editable__.myproj-1!2.0.post1.pth", True),
        ("__editable__.myproj-*.pth", "__editable__.myproj-.pth", False),
        ("__editable__.myproj-*.pth", "__editable__.myproj-v1.pth", False),
        ("__editable__.myproj-*.pth", "__editable__.myproj-1.0-evil.pth", False),
        ("__editable__.myproj-*.pth", "__editable__.myproj-1 0.pth", False),
        ("__editable__.myproj-*.pth", "__editable__.myproj-1.0.pth.pth", True),
        ("__editable__.myproj-*.pth", "__editable__.other-1.0.pth", False),
        ("_myproj.pth", "_myproj.pth", True),
        ("_myproj.pth", "_myproj2.pth", False),
    ],
)
def test_name_fits(pattern: str, name: str, fits: bool) -> None:
    """One rule, used by the manifest and compiled into the gate (pthguard.gate.names)."""
    assert name_fits(pattern, name) is fits


# -- snapshot --project, compare, seal ---------------------------------------------------------


def test_loosen_moves_the_project_into_the_rule() -> None:
    manifest = _editable_manifest()
    loose = _project.loosen(manifest, "MyProj")
    assert loose.policy.project is not None
    assert loose.policy.project.to_dict() == RULE
    assert [d.name for d in loose.distributions] == ["setuptools"]
    assert [f.name for f in loose.site_dirs[0].startup_files] == ["distutils-precedence.pth"]
    assert Manifest.from_dict(loose.to_dict()) == loose  # a valid manifest


def test_loosen_refuses_what_it_cannot_describe() -> None:
    with pytest.raises(PthguardError, match="no distribution 'absent' is installed"):
        _project.loosen(_editable_manifest(), "absent")
    start = make_startup_file("myproj.start", content=b"myproj:hook\n", owner="myproj")
    manifest = make_manifest(
        site_dirs=[make_site_dir(startup_files=[start])],
        distributions=[make_distribution("myproj", "1.0")],
    )
    with pytest.raises(PthguardError, match=r"a project rule allows \.pth files only"):
        _project.loosen(manifest, "myproj")


def test_version_placeholder() -> None:
    assert _project.version_placeholder("__editable__.myproj-1.0.pth", {"1.0"}) == (
        "__editable__.myproj-*.pth"
    )
    assert _project.version_placeholder("_myproj.pth", {"1.0"}) == "_myproj.pth"
    assert _project.version_placeholder("x-2.0.pth", {"1.0"}) == "x-2.0.pth"


def test_compare_ignores_the_project_but_not_other_startup_files() -> None:
    expected = _project.loosen(_editable_manifest(), "myproj")
    rebuilt_dist = make_distribution("myproj", "1.1", record_sha256="a" * 64, editable=True)
    editable_11 = make_startup_file(
        "__editable__.myproj-1.1.pth", content=(FINDER_LINE + "\n").encode(), owner="myproj"
    )
    live = dataclasses.replace(
        expected,
        site_dirs=(make_site_dir(startup_files=[make_startup_file(), editable_11]),),
        distributions=(make_distribution(), rebuilt_dist),
    )
    assert _compare.compare(expected, live) == []
    other_lines = make_startup_file(
        "__editable__.myproj-1.2.pth", content=b"import os; os.system('x')\n", owner="myproj"
    )
    evil = make_startup_file("myproj_hook.pth", content=b"import myproj\n", owner="myproj")
    lookalike = make_distribution("myproj-extra", "1.0")
    live = dataclasses.replace(
        live,
        site_dirs=(make_site_dir(startup_files=[make_startup_file(), other_lines, evil]),),
        distributions=(make_distribution(), rebuilt_dist, lookalike),
    )
    found = {(d.category, d.change, d.subject) for d in _compare.compare(expected, live)}
    assert found == {
        ("startup_file", "added", f"{live.site_dirs[0].path}/__editable__.myproj-1.2.pth"),
        ("startup_file", "added", f"{live.site_dirs[0].path}/myproj_hook.pth"),
        ("distribution", "added", f"myproj-extra 1.0 ({live.site_dirs[0].path})"),
    }


def test_compare_says_when_only_the_version_in_the_finder_line_differs() -> None:
    """A flat-layout editable install after a version bump: its finder line names the new
    version, so the rule does not allow it; the report says that this is all that differs."""
    expected = _project.loosen(_editable_manifest(), "myproj")
    bumped_line = FINDER_LINE.replace("_1_0_", "_1_1_")
    bumped = make_startup_file(
        "__editable__.myproj-1.1.pth", content=(bumped_line + "\n").encode(), owner="myproj"
    )
    live = dataclasses.replace(
        expected,
        site_dirs=(make_site_dir(startup_files=[make_startup_file(), bumped]),),
        distributions=(make_distribution(), make_distribution("myproj", "1.1", editable=True)),
    )
    (diff,) = _compare.compare(expected, live)
    assert (diff.category, diff.change, diff.new_code_lines) == (
        "startup_file",
        "added",
        (bumped_line,),
    )
    assert diff.found is not None
    assert diff.found.endswith(
        "; policy.project allows __editable__.myproj-*.pth with these code lines but for the "
        "version they name (the signed lines name 1_0, the project installed is 1.1): a "
        "flat-layout editable install's finder names the version; snapshot and sign again "
        "after a version change, or use a src layout (its .pth has path lines only)"
    )
    rule = expected.policy.project
    assert rule is not None
    change = _project.version_only_change
    assert change(rule, "__editable__.myproj-1.1.pth", [bumped_line], {"1.1"}) == (
        "__editable__.myproj-*.pth",
        "1_0",
        "1.1",
    )
    other = FINDER_LINE.replace("_1_0_finder.install", "_1_1_finder.install")
    for name, lines, versions in [
        ("__editable__.myproj-1.1.pth", [bumped_line], {"2.0"}),  # not the installed version
        ("__editable__.myproj-1.1.pth", [other], {"1.1"}),  # one place only: not a bump
        ("__editable__.myproj-1.1.pth", [bumped_line, "import os"], {"1.1"}),
        ("other-1.1.pth", [bumped_line], {"1.1"}),  # a name the rule does not list
        ("__editable__.myproj-1.1.pth", ["import os; os.system('1_1')"], {"1.1"}),
    ]:
        assert change(rule, name, lines, versions) is None, (name, lines)


def test_compare_without_rule_is_unchanged() -> None:
    manifest = _editable_manifest()
    live = dataclasses.replace(
        manifest, distributions=(make_distribution(), make_distribution("myproj", "1.1"))
    )
    assert [d.change for d in _compare.compare(manifest, live)] == ["changed"]


def test_seal_rule_is_what_the_gate_reads() -> None:
    rule = _project.loosen(_editable_manifest(), "myproj").policy.project
    sealed = _project.seal_rule(rule)
    assert sealed == ("myproj", "myproj-", (("__editable__.myproj-*.pth", (FINDER_LINE,)),))
    assert _project.seal_rule(None) is None
    dotted = _project.seal_rule(ProjectRule(name="my-proj-x"))
    assert dotted is not None
    for name, mine in [
        ("my_proj_x-1.0.dist-info", True),
        ("My.Proj_X-2.0.dev1.dist-info", True),
        ("my-proj-x-1.0.dist-info", False),  # name part ends at the first "-"
        ("my_proj_x.dist-info", False),
        ("my_proj_x-1.0.egg-info", False),
        ("my_proj_xx-1.0.dist-info", False),
        ("my_proj-1.0.dist-info", False),
    ]:
        assert _gate._is_project_dir(dotted, name) is mine, name
    assert _gate._is_project_dir(None, "my_proj_x-1.0.dist-info") is False


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"/src/proj\n", ()),
        ((FINDER_LINE + "\n/src\n").encode(), (FINDER_LINE,)),
        (b"# comment\nimport a\n\nimport\tb", ("import a", "import\tb")),
        (b"import a\r\n", None),  # \r: read differently by different versions
        (b"\xef\xbb\xbfimport a\n", None),  # BOM
        (b"import a\x0cimport b\n", None),  # a line break only 3.13+ splits on
        (b"\xff\n", None),  # not UTF-8
        ("import caf\u00e9\n".encode(), None),  # non-ASCII import line
        ("/home/zo\u00eb/src\n".encode(), ()),  # non-ASCII path lines are fine
    ],
)
def test_gate_code_lines(data: bytes, lines: tuple[str, ...] | None) -> None:
    assert _gate._pth_code_lines(data) == lines


def test_gate_code_lines_3_15_strips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 15, 0))
    assert _gate._pth_code_lines(b"  import a\n") == ("  import a",)
    monkeypatch.setattr(sys, "version_info", (3, 14, 0))
    assert _gate._pth_code_lines(b"  import a\n") == ()


# -- the story on real interpreters --------------------------------------------------------

PYPROJECT = """\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "myproj"
version = "{version}"

[tool.setuptools]
packages = ["myproj"]
"""
SHOW = "import myproj, plainpkg; print(myproj.VALUE, plainpkg.VALUE)"


def _write_project(root: Path, version: str, value: str) -> Path:
    (root / "myproj").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT.format(version=version))
    (root / "myproj" / "__init__.py").write_text(f"VALUE = {value!r}\n")
    return root


def _starts_ok(g: Guarded, expected: str) -> None:
    for start in (g.start, g.sealed):
        proc = start("-c", SHOW)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{expected} 1\n", ""), (
            proc.stderr
        )


def _both_refused(g: Guarded, *fragments: str) -> list[str]:
    lines: list[str] = []
    for start in (g.start, g.sealed):
        proc = start("-c", SHOW)
        lines = assert_refused(proc, *fragments)
        assert proc.stdout == ""
    return lines


def _remove(g: Guarded, *names: str) -> None:
    for name in names:
        path = g.site_packages / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def _setuptools(g: Guarded) -> Path:
    source = real_wheel("setuptools", "84.2.1")
    target = g.work / "wheels" / source.name  # where a chroot interpreter sees it
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


@pytest.mark.slow
@pytest.mark.parametrize("interp", interpreter_params())
def test_ci_runner_story(interp: Interpreter, tmp_path: Path) -> None:
    g = make_guarded(interp, tmp_path, install=False)
    g.pip_install(_setuptools(g))
    project = _write_project(g.work / "myproj-src", "1.0", "one")
    g.pip_install("--no-build-isolation", "-e", project)
    # the trusted job: snapshot with the project loosened, sign, (upload)
    manifest = g.manifest("--project", "myproj")
    signed = json.loads(manifest.read_text())["signed"]
    assert signed["policy"]["project"] == RULE
    assert "myproj" not in {d["name"] for d in signed["distributions"]}
    listed = {f["name"] for s in signed["site_dirs"] for f in s["startup_files"]}
    assert not any(name.startswith("__editable__") for name in listed)
    assert "distutils-precedence.pth" in listed  # a dependency's file stays exact
    # the test job: guard, run
    g.install(manifest)
    _starts_ok(g, "one")
    # the next run rebuilds the project: new code, the same version, a new RECORD
    (project / "myproj" / "extra.py").write_text("EXTRA = 1\n")
    _write_project(project, "1.0", "two")
    g.pip_install("--no-build-isolation", "-e", project)
    _starts_ok(g, "two")
    proc = g.pthguard("verify", "--python", g.venv.python, "--format", "json")
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout)["differences"] == []
    # a fresh wheel with a new version instead of the editable install
    _write_project(project, "1.1", "three")
    g.pip_install("--no-build-isolation", project)
    names = {p.name for p in g.site_packages.iterdir()}
    assert "myproj-1.1.dist-info" in names
    assert not any(n.startswith("__editable__.myproj") for n in names)
    _starts_ok(g, "three")
    # still refused: the project brings a new startup file
    marker = g.marker("project-hook")
    hooked = g.wheel(
        "myproj",
        "1.2",
        {"myproj/__init__.py": b"VALUE = 'four'\n", "myproj_hook.pth": marker_pth(marker)},
    )
    g.pip_install(hooked)
    lines = _both_refused(g, "myproj_hook.pth")
    assert "NOT executed" in line_with(lines, "unlisted startup file", "myproj_hook.pth")
    assert marker.count() == 0
    _remove(g, "myproj_hook.pth")  # pip runs on the guarded interpreter: repair first
    _starts_ok(g, "four")
    # still refused: the editable file name fits, its code lines do not
    other = g.wheel(
        "myproj",
        "1.3",
        {
            "myproj/__init__.py": b"VALUE = 'five'\n",
            "__editable__.myproj-1.3.pth": marker_pth(marker),
        },
    )
    g.pip_install(other)
    _both_refused(g, "unlisted startup file", "__editable__.myproj-1.3.pth")
    assert marker.count() == 0
    _remove(g, "__editable__.myproj-1.3.pth")
    # back to a rebuild the rule allows, then a look-alike and a changed dependency
    g.pip_install("--no-build-isolation", "-e", _write_project(project, "1.0", "six"))
    _starts_ok(g, "six")
    # a version bump of the flat-layout editable install: its finder line names 1.1 now;
    # refused, and verify says that the version is all that differs
    g.pip_install("--no-build-isolation", "-e", _write_project(project, "1.1", "seven"))
    lines = _both_refused(g, "unlisted startup file", "__editable__.myproj-1.1.pth")
    line = line_with(lines, "__editable__.myproj-1.1.pth")
    assert "its name fits policy.project's __editable__.myproj-*.pth" in line  # the gate says
    assert "names its version there: snapshot and sign again" in line
    proc = g.pthguard("verify", "--python", g.venv.python)
    assert proc.returncode == 1, proc.stderr
    said = "for the version they name (the signed lines name 1_0, the project installed is 1.1)"
    assert said in proc.stdout
    _remove(g, "__editable__.myproj-1.1.pth")
    g.pip_install("--no-build-isolation", "-e", _write_project(project, "1.0", "six"))
    _starts_ok(g, "six")
    lookalike = g.wheel("myproj-extra", "1.0", {"myproj_extra.py": b""})
    g.pip_install(lookalike)
    _both_refused(g, "unlisted distribution", "myproj_extra-1.0.dist-info")
    _remove(g, "myproj_extra-1.0.dist-info", "myproj_extra.py")
    _starts_ok(g, "six")
    g.pip_install(g.wheel("plainpkg", "2.0", {"plainpkg/__init__.py": b"VALUE = 1\n"}))
    _both_refused(g, "plainpkg-2.0.dist-info")


def test_snapshot_project_on_the_dev_venv(tmp_path: Path) -> None:
    """Our own dev venv has pthguard installed editable (PEP 660, setuptools' finder)."""
    out = tmp_path / "m.json"
    proc = run_cli("snapshot", "--python", sys.executable, "--project", "PthGuard", "-o", out)
    assert proc.returncode == 0, proc.stderr
    signed = json.loads(out.read_text())["signed"]
    rule = signed["policy"]["project"]
    assert rule["name"] == "pthguard"
    assert [f["name"] for f in rule["startup_files"]] == ["__editable__.pthguard-*.pth"]
    (line,) = rule["startup_files"][0]["code_lines"]
    assert re.fullmatch(r"import (__editable___pthguard_\w+_finder); \1\.install\(\)", line)
    assert "pthguard" not in {d["name"] for d in signed["distributions"]}
    missing = tmp_path / "missing.json"
    proc = run_cli("snapshot", "--python", sys.executable, "--project", "No_Such.P", "-o", missing)
    # pthguard: error: --project No_Such.P: no distribution 'no-such-p' is installed in
    # .../python; install the project (pip install -e . or its wheel) before the snapshot
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1
    assert "no distribution 'no-such-p' is installed" in proc.stderr
    assert not missing.exists()
