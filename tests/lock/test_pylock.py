"""PEP 751 ``pylock.toml``: findings, and every problem of a malformed lock at once."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import packaging
import pytest

from pthguard.errors import LockError
from pthguard.lock.pylock import parse_pylock
from tests.conftest import run_cli
from tests.lock.common import H1, H2, MD5, REPO, SHA1, SHA512, assert_error, audit, findings, write
from tests.support.interpreters import host_env, interpreters_by_label

PYLOCK = f"""\
lock-version = "1.0"
requires-python = ">=3.10"
created-by = "hand"

[[packages]]
name = "Alpha"
version = "1.0"
index = "https://pypi.org/simple"

[[packages.wheels]]
name = "alpha-1.0-py3-none-any.whl"
url = "https://files.example/alpha-1.0-py3-none-any.whl"
hashes = {{sha256 = "{H1}"}}

[packages.sdist]
name = "alpha-1.0.tar.gz"
hashes = {{sha256 = "{H2}", sha512 = "{SHA512}"}}

[[packages]]
name = "beta"
version = "2.0"
marker = "python_version < '3.0'"
archive = {{url = "https://files.example/beta-2.0.tar.gz", hashes = {{sha256 = "{H1}"}}}}
"""


def test_pylock_valid() -> None:
    lock = parse_pylock(PYLOCK.encode(), "pylock.toml")
    assert lock.findings == ()
    assert [(p.name, p.version, p.marker, p.source) for p in lock.packages] == [
        ("alpha", "1.0", None, "artifacts"),
        ("beta", "2.0", "python_version < '3.0'", "archive"),
    ]


def test_pylock_findings(tmp_path: Path) -> None:
    lock = write(
        tmp_path / "pylock.dev.toml",
        PYLOCK
        + f"""
[[packages]]
name = "noversion"
[[packages.wheels]]
name = "noversion-1-py3-none-any.whl"
hashes = {{sha256 = "{H1}"}}

[[packages]]
name = "weak"
version = "1"
[[packages.wheels]]
name = "weak-1-py3-none-any.whl"
hashes = {{md5 = "{MD5}"}}
[[packages.wheels]]
name = "weak-1-cp311-none-any.whl"
hashes = {{sha256 = "{H1}"}}

[[packages]]
name = "strong-not-256"
version = "1"
sdist = {{name = "x.tar.gz", hashes = {{sha512 = "{SHA512}"}}}}

[[packages]]
name = "nohashes"
version = "1"
sdist = {{name = "x.tar.gz"}}

[[packages]]
name = "badhex"
version = "1"
sdist = {{name = "x.tar.gz", hashes = {{sha256 = "xyz"}}}}

[[packages]]
name = "noartifacts"
version = "1"

[[packages]]
name = "fromvcs"
vcs = {{type = "git", url = "https://example.com/x.git", commit-id = "{SHA1}"}}

[[packages]]
name = "fromdir"
directory = {{path = "./local"}}
""",
    )
    code, doc = audit(lock)
    assert doc["locks"][0]["kind"] == "pylock"
    assert code == 1
    assert [(k, n) for k, n, _ in findings(doc)] == [
        ("not-pinned", "noversion"),
        ("weak-hash", "weak"),
        ("no-hash", "strong-not-256"),
        ("no-hash", "nohashes"),
        ("no-hash", "badhex"),
        ("no-hash", "noartifacts"),
        ("not-hashable", "fromvcs"),
        ("not-pinned", "fromvcs"),
        ("not-hashable", "fromdir"),
        ("not-pinned", "fromdir"),
    ]
    weak = doc["locks"][0]["findings"][1]["message"]
    assert weak == "wheels[0] has no sha256 hash (only md5) (" + str(lock) + ": packages[3])"


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ("lock-version = \n", ["is not valid TOML"]),
        ('lock-version = "2.0"\n', ["lock-version is '2.0'", "is it a PEP 751 lock file?"]),
        ("packages = []\n", ["lock-version is None"]),
        (
            'lock-version = "1.0"\npackages = 3\n',
            ["packages: expected an array of tables, found an integer"],
        ),
        ('lock-version = "1.0"\n[[packages]]\nversion = "1"\n', ["packages[0].name: missing"]),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = 1\n',
            ["packages[0].version: expected a string, found an integer"],
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nmarker = "python_version"\n',
            ["packages[0].marker: bad environment marker 'python_version'"],
        ),
    ],
)
def test_pylock_malformed(tmp_path: Path, content: str, needles: list[str]) -> None:
    assert_error(run_cli("audit-lock", write(tmp_path / "pylock.toml", content)), *needles)


def test_pylock_on_python_3_10_is_a_clear_error(tmp_path: Path) -> None:
    interp = interpreters_by_label().get("3.10")
    if interp is None:
        pytest.skip("no Python 3.10 here")
    lock = write(tmp_path / "pylock.toml", PYLOCK)
    # pthguard from the working tree; packaging, the one dependency audit-lock imports, as
    # this test process has it (pure Python)
    deps = tmp_path / "deps"
    shutil.copytree(Path(packaging.__file__).parent, deps / "packaging")
    env = host_env({"PYTHONPATH": str(deps)})
    proc = subprocess.run(
        [interp.executable, "-m", "pthguard", "audit-lock", str(lock)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # pthguard: error: cannot read .../pylock.toml: pylock.toml needs Python 3.11 or later
    # (tomllib), this is Python 3.10; run pthguard with Python 3.11+
    assert_error(proc, "pylock.toml needs Python 3.11 or later", "this is Python 3.10")
    requirements = write(tmp_path / "r.txt", f"a==1 --hash=sha256:{H1}\n")
    proc = subprocess.run(
        [interp.executable, "-m", "pthguard", "audit-lock", str(requirements)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")  # requirements files work on 3.10


# -- every problem at once ---------------------------------------------------------------------

MALFORMED = f"""\
lock-version = "1.0"

[[packages]]
name = "fine"
version = "1.0"
wheels = [{{name = "fine-1.0-py3-none-any.whl", size = 10, hashes = {{sha256 = "{H1}"}}}}]

[[packages]]
version = 2

[[packages]]
name = "not a name!"
version = "one.two"
marker = "python_version >> '3'"
wheels = "not-a-list.whl"

[[packages]]
name = "types"
version = "1.0"
sdist = {{name = "types-1.0.tar.gz", hashes = "sha256:{H1}"}}
archive = "https://example.com/types-1.0.tar.gz"

[[packages.wheels]]
name = "types-1.0-py3-none-any.whl"
size = true
upload-time = "yesterday"
hashes = {{sha256 = 5}}

[[packages.wheels]]
name = 3
hashes = {{sha256 = "{H1}"}}
"""

MALFORMED_PROBLEMS = [
    "packages[1].name: missing",
    "packages[1].version: expected a string, found an integer",
    "packages[2].name: 'not a name!' is not a valid project name",
    "packages[2].version: 'one.two' is not a PEP 440 version",
    "packages[2].marker: bad environment marker \"python_version >> '3'\": "
    "Expected a marker variable or quoted string",
    "packages[2].wheels: expected an array of tables, found a string",
    "packages[3].wheels[0].size: expected an integer, found a boolean",
    "packages[3].wheels[0].upload-time: expected a date-time, found a string",
    "packages[3].wheels[0].hashes.sha256: expected a string, found an integer",
    "packages[3].wheels[1].name: expected a string, found an integer",
    "packages[3].sdist.hashes: expected a table, found a string",
    "packages[3].archive: expected a table, found a string",
]


def test_pylock_reports_every_problem_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(LockError) as caught:
        parse_pylock(MALFORMED.encode(), "pylock.toml")
    assert caught.value.problems == MALFORMED_PROBLEMS
    assert str(caught.value).startswith("pylock.toml is not a valid PEP 751 lock: ")
    # the CLI: one line, the first five problems and how many more
    lock = write(tmp_path / "pylock.toml", MALFORMED)
    line = assert_error(run_cli("audit-lock", lock), f"{lock} is not a valid PEP 751 lock: ")
    assert "; ".join(MALFORMED_PROBLEMS[:5]) in line
    assert line.endswith(f"(and {len(MALFORMED_PROBLEMS) - 5} more)")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        # TOML has booleans and integers; a boolean is not a size
        (
            f'[[packages.wheels]]\nname = "a.whl"\nsize = false\nhashes = {{sha256 = "{H1}"}}\n',
            "packages[0].wheels[0].size: expected an integer, found a boolean",
        ),
        # a string is not an array of wheels (nor of its characters)
        (
            'wheels = "a-1-py3-none-any.whl"\n',
            "packages[0].wheels: expected an array of tables, found a string",
        ),
        ("wheels = [1]\n", "packages[0].wheels[0]: expected a table, found an integer"),
    ],
)
def test_pylock_typed_getters(content: str, problem: str) -> None:
    data = f'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n{content}'
    with pytest.raises(LockError) as caught:
        parse_pylock(data.encode(), "pylock.toml")
    assert caught.value.problems == [problem]


def test_pylock_top_level_string_is_not_packages() -> None:
    with pytest.raises(LockError) as caught:
        parse_pylock(b'lock-version = "1.0"\npackages = "alpha"\n', "pylock.toml")
    assert caught.value.problems == ["packages: expected an array of tables, found a string"]


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    lock = write(tmp_path / "sub" / "pylock.dev.toml", 'lock-version = "1.0"\n[[packages]\n')
    # pthguard: error: /tmp/.../sub/pylock.dev.toml is not valid TOML: ... (at line 2, column 11)
    line = assert_error(run_cli("audit-lock", lock), f"{lock} is not valid TOML: ", "line 2")
    assert line.count(str(lock)) == 1
    with pytest.raises(LockError, match=r"^pylock\.toml is not valid TOML: "):
        parse_pylock(b"lock-version = \n", "pylock.toml")
