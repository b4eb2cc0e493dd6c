"""``pthguard audit-lock``: real lock files, real includes, a real venv installed from a lock.

Our own ``requirements/*.lock`` (pip-compile --generate-hashes) must pass. Every other lock
is written here as a user would write it, run through the console script (exit codes,
one-line errors) or in-process (the findings). The environment comparison installs real
wheels with ``pip install --require-hashes`` from the very lock it then audits.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pthguard.cli.app import main
from pthguard.lock import audit as _audit
from pthguard.lock.audit import (
    canonical_version,
    evaluate_marker,
    parse_marker,
    parse_requirements,
    versions_match,
)
from tests.conftest import run_cli
from tests.support.interpreters import Interpreter, host_env, interpreters_by_label
from tests.support.venvs import make_venv
from tests.support.wheels import build_wheel

REPO = Path(__file__).resolve().parents[2]
H1 = "a" * 64
H2 = "b" * 64
MD5 = "c" * 32
SHA1 = "d" * 40
SHA512 = "e" * 128


def audit(*args: str | Path) -> tuple[int, dict[str, Any]]:
    """In-process ``audit-lock ... --format json``: (exit code, report)."""
    out = io.StringIO()
    code = main(["audit-lock", *map(str, args), "--format", "json"], out=out)
    return code, json.loads(out.getvalue())


def findings(doc: dict[str, Any], index: int = 0) -> list[tuple[str, str | None, int | None]]:
    """``(kind, name, line)`` of every finding of lock ``index``."""
    return [(f["kind"], f["name"], f["line"]) for f in doc["locks"][index]["findings"]]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def assert_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pthguard: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# -- our own locks -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dev.lock", "runtime.lock"])
def test_our_own_locks_pass(name: str) -> None:
    lock = REPO / "requirements" / name
    proc = run_cli("audit-lock", lock)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == f"{lock}: {len(_pins(lock))} package(s): ok\n"
    code, doc = audit(lock)
    assert (code, doc["ok"], findings(doc)) == (0, True, [])
    packages = doc["locks"][0]["packages"]
    assert {p["name"] for p in packages} == set(_pins(lock))
    assert all(p["version"] == _pins(lock)[p["name"]] for p in packages)


def _pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith(("#", " ")):
            name, _, version = line.split(" ")[0].partition("==")
            pins[name] = version
    return pins


# -- requirements files ----------------------------------------------------------------------


def test_pip_compile_shape_with_continuations_and_comments(tmp_path: Path) -> None:
    lock = write(
        tmp_path / "requirements.txt",
        "# header comment\n"
        "alpha==1.0 \\\n"
        f"    --hash=sha256:{H1} \\\n"
        f"    --hash=sha256:{H2}\n"
        "    # via -r requirements.in\n"
        "\n"
        f"Beta_Pkg[extra1,extra2] == 2.0 ; python_version >= '3.8' --hash=sha256:{H1}  # hi\n"
        f'gamma===2024.1-weird ; sys_platform == "linux" --hash sha256:{H1.upper()}\n'
        "delta==1.0 \\\n    # a comment line ends a continuation\n",
    )
    lock_doc = parse_requirements(lock)
    by_name = {p.name: p for p in lock_doc.packages}
    assert by_name["alpha"].version == "1.0"
    assert by_name["beta-pkg"].marker == "python_version >= '3.8'"
    assert by_name["gamma"].version == "2024.1-weird"
    assert by_name["gamma"].arbitrary
    # pip ends a continuation at a comment line
    assert [(f.kind, f.name, f.line) for f in lock_doc.findings] == [("no-hash", "delta", 9)]


def test_every_kind_of_finding(tmp_path: Path) -> None:
    lock = write(
        tmp_path / "requirements.txt",
        f"ok==1.0 --hash=sha256:{H1}\n"
        f"loose>=1.0 --hash=sha256:{H1}\n"
        f"compatible~=1.4 --hash=sha256:{H1}\n"
        f"wild==1.* --hash=sha256:{H1}\n"
        f"range>=1,<2 --hash=sha256:{H1}\n"
        f"bare --hash=sha256:{H1}\n"
        "nohash==1.0\n"
        f"md5only==1.0 --hash=md5:{MD5}\n"
        f"weak==1.0 --hash=md5:{MD5} --hash=sha1:{SHA1}\n"
        f"strongnot256==1.0 --hash=sha512:{SHA512}\n"
        f"mixed==1.0 --hash=md5:{MD5} --hash=sha256:{H1}\n"
        "-e ./local/proj\n"
        "-e git+https://example.com/x.git#egg=editme\n"
        "vcs @ git+https://example.com/vcs.git@v1.0\n"
        f"direct @ https://example.com/direct-1.0-py3-none-any.whl --hash=sha256:{H1}\n"
        f"https://example.com/bare-1.0.tar.gz --hash=sha256:{H1}\n"
        "./some/dir\n"
        f"OK==1.0 --hash=sha256:{H1}\n",
    )
    code, doc = audit(lock)
    assert code == 1
    assert findings(doc) == [
        ("not-pinned", "loose", 2),
        ("not-pinned", "compatible", 3),
        ("not-pinned", "wild", 4),
        ("not-pinned", "range", 5),
        ("not-pinned", "bare", 6),
        ("no-hash", "nohash", 7),
        ("weak-hash", "md5only", 8),
        ("weak-hash", "weak", 9),
        ("no-hash", "strongnot256", 10),
        ("not-hashable", None, 12),
        ("not-hashable", "editme", 13),
        ("not-hashable", "vcs", 14),
        ("not-pinned", "direct", 15),
        ("not-pinned", None, 16),
        ("not-hashable", None, 17),
        ("duplicate", "ok", 18),
    ]
    messages = {f["name"]: f["message"] for f in doc["locks"][0]["findings"]}
    assert messages["loose"] == "not an exact pin (>=1.0): use ==1.0 (or the version you tested)"
    assert messages["md5only"] == "only md5 hashes (weak): add --hash=sha256:"
    assert messages["editme"].endswith("not pinnable by hash")
    assert messages["ok"] == f"also listed at {lock}:1"
    text = run_cli("audit-lock", lock)
    assert text.returncode == 1
    assert text.stdout.splitlines()[0] == f"{lock}: 18 package(s): 16 finding(s)"
    assert f"  {lock}:2: loose: not an exact pin (>=1.0)" in text.stdout


def test_includes_relative_diamond_and_constraints(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "base.txt", f"base==1.0 --hash=sha256:{H1}\n-r ../common.txt\n")
    write(tmp_path / "common.txt", f"common==1.0 --hash=sha256:{H1}\n")
    write(tmp_path / "sub" / "constraints.txt", "base==1.0\nloose>=2\n")
    lock = write(
        tmp_path / "requirements.txt",
        "-r sub/base.txt\n"
        "--requirement=common.txt\n"  # included again: read once, not a cycle
        "-csub/constraints.txt\n"
        "--index-url https://pypi.org/simple --no-index\n"
        "--only-binary=:all: --require-hashes\n"
        f"top==1.0 --hash=sha256:{H1}\n",
    )
    code, doc = audit(lock)
    report = doc["locks"][0]
    assert report["files"] == [
        str(lock),
        str(tmp_path / "sub" / "base.txt"),
        str(tmp_path / "sub" / ".." / "common.txt"),
        str(tmp_path / "sub" / "constraints.txt"),
    ]
    assert [(p["name"], p["constraint"]) for p in report["packages"]] == [
        ("base", False),
        ("common", False),
        ("base", True),
        ("loose", True),
        ("top", False),
    ]
    # constraints need no hash (they install nothing) but must be exact
    assert (code, findings(doc)) == (1, [("not-pinned", "loose", 2)])
    assert report["findings"][0]["file"] == str(tmp_path / "sub" / "constraints.txt")


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", f"a==1 --hash=sha256:{H1}\n-r sub/b.txt\n")
    write(tmp_path / "sub" / "b.txt", "-r ../a.txt\n")
    proc = run_cli("audit-lock", tmp_path / "a.txt")
    # pthguard: error: include cycle: /tmp/.../a.txt -> /tmp/.../sub/b.txt -> /tmp/.../a.txt;
    # remove one of the -r lines
    line = assert_error(proc, "include cycle", "a.txt -> ", "b.txt -> ", "remove one of the -r")
    assert line.count("a.txt") == 2
    write(tmp_path / "self.txt", "-r self.txt\n")
    assert_error(run_cli("audit-lock", tmp_path / "self.txt"), "include cycle")


def test_remote_include_is_reported(tmp_path: Path) -> None:
    lock = write(tmp_path / "r.txt", "-r https://example.com/reqs.txt\n")
    code, doc = audit(lock)
    assert (code, findings(doc)) == (1, [("remote-include", None, 1)])


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ("-x foo\n", ["r.txt:1: unknown option '-x'"]),
        (f"a==1 --hash=sha256:{H1} --frobnicate\n", ["r.txt:1: unknown option '--frobnicate'"]),
        ("a==1 --hash=sha256:abc\n", ["r.txt:1: --hash sha256:abc... is not 64 hex digits"]),
        ("a==1 --hash=crc32:abcd\n", ["unknown hash algorithm 'crc32'"]),
        ("a==1 --hash=abcd\n", ["is not ALGORITHM:HEX"]),
        ("a==1 --hash\n", ["--hash needs a value"]),
        ("\n\na=>1\n", ["r.txt:3: cannot parse the version specifier '=>1'"]),
        ("a==one.two\n", ["'one.two' is not a PEP 440 version"]),
        ("a==1 ; python_version >> '3'\n", ["bad environment marker"]),
        ("a==1 ; pyversion == '3'\n", ["unknown marker variable 'pyversion'"]),
        ("-r missing.txt\n", ["lock file", "missing.txt does not exist"]),
        ("a==1 'unterminated\n", ["cannot parse the version specifier"]),
        ("a==1 --hash='unterminated\n", ["r.txt:1: No closing quotation"]),
        (f"a==1 \\\n # comment\n --hash=sha256:{H1}\n", ["r.txt:3: unknown option '--hash"]),
        (
            f"a==1 --hash=sha256:{H1} ; python_version < '3'\n",
            ["r.txt:1: ';' after the options: pip ignores it silently"],
        ),
    ],
)
def test_malformed_requirements(tmp_path: Path, content: str, needles: list[str]) -> None:
    lock = write(tmp_path / "r.txt", content)
    assert_error(run_cli("audit-lock", lock), *needles)


def test_unreadable_inputs(tmp_path: Path) -> None:
    assert_error(run_cli("audit-lock", tmp_path / "nope.txt"), "nope.txt does not exist")
    assert_error(run_cli("audit-lock", tmp_path), "is a directory")
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9==1.0\n")
    assert_error(run_cli("audit-lock", tmp_path / "latin1.txt"), "latin1.txt is not UTF-8")


def test_several_locks_and_usage(tmp_path: Path) -> None:
    good = write(tmp_path / "good.txt", f"a==1 --hash=sha256:{H1}\n")
    bad = write(tmp_path / "bad.txt", "b>=1\n")
    code, doc = audit(good, bad)
    assert code == 1
    assert [lock["path"] for lock in doc["locks"]] == [str(good), str(bad)]
    assert findings(doc, 0) == []
    assert len(findings(doc, 1)) == 2
    proc = run_cli("audit-lock", good, bad, "--python", sys.executable)
    assert proc.returncode == 2
    assert "--python compares one lock file" in proc.stderr


# -- pylock.toml -------------------------------------------------------------------------------

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
    lock = _audit.parse_pylock(PYLOCK.encode(), "pylock.toml")
    assert lock.findings == []
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
        ('lock-version = "1.0"\npackages = 3\n', ["packages must be an array of tables"]),
        ('lock-version = "1.0"\n[[packages]]\nversion = "1"\n', ["packages[0].name is missing"]),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = 1\n',
            ["packages[0].version is not a string"],
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nmarker = "python_version"\n',
            ["packages[0]: bad marker"],
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
    proc = subprocess.run(
        [interp.executable, "-m", "pthguard", "audit-lock", str(lock)],
        cwd=REPO,  # pthguard from the working tree; audit-lock imports no dependency
        env=host_env(),
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
        env=host_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")  # requirements files work on 3.10


# -- versions and markers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locked", "installed", "same"),
    [
        ("1.0", "1.0", True),
        ("1.0", "1.0.0", True),
        ("1.0", "1.0+cpu", True),  # ==1.0 accepts any local version
        ("1.0+cpu", "1.0", False),
        ("1.0+CPU-1", "1.0+cpu.1", True),
        ("1.0a1", "1.0alpha1", True),
        ("1.0.post1", "1.0-1", True),
        ("1.0", "1.1", False),
        ("1.0.dev1", "1.0", False),
        ("1!1.0", "1.0", False),
    ],
)
def test_versions_match(locked: str, installed: str, same: bool) -> None:
    assert versions_match(locked, installed) is same


def test_canonical_version() -> None:
    assert canonical_version("V1.0.0-RC1.post2.dev3+Ubuntu-1") == "1rc1.post2.dev3+ubuntu.1"
    assert canonical_version("not a version") is None


ENV = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "implementation_name": "cpython",
    "os_name": "posix",
    "extra": "",
}


@pytest.mark.parametrize(
    ("marker", "holds"),
    [
        ("python_version >= '3.8'", True),
        ("python_version < '3.10'", False),  # versions, not strings: '3.11' < '3.10' is False
        ('python_full_version == "3.11.7"', True),
        ("python_version ~= '3.9'", True),
        ("python_version ~= '3.12'", False),
        ("sys_platform == 'win32' or (os_name == 'posix' and platform_system == 'Linux')", True),
        ("sys_platform != 'linux' and python_version > '2'", False),
        ("'linux' in sys_platform", True),
        ("'win' not in sys_platform", True),
        ("os.name == 'posix'", True),  # legacy spelling
        ("extra == 'test'", False),
        ("implementation_name === 'cpython'", True),
    ],
)
def test_markers(marker: str, holds: bool) -> None:
    assert evaluate_marker(parse_marker(marker), ENV) is holds


# -- an environment against its lock -----------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def locked_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, dict[str, Path]]:
    interp: Interpreter | None = interpreters_by_label().get(
        f"{sys.version_info[0]}.{sys.version_info[1]}"
    )
    if interp is None:
        pytest.skip("no pyenv interpreter like the dev one")
    where = tmp_path_factory.mktemp("locked")
    wheels = {
        key: build_wheel(where / "wheels", name, version, files)
        for key, (name, version, files) in {
            "alpha-1.0": ("Alpha", "1.0", {"alpha/__init__.py": b""}),
            "alpha-2.0": ("Alpha", "2.0", {"alpha/__init__.py": b""}),
            "beta-1.0": ("beta.pkg", "1.0.0", {"beta_pkg.py": b""}),
            "gamma-1.0": ("gamma", "1.0", {"gamma.py": b""}),
            "hook-1.0": ("hook", "1.0", {"hook.pth": b"import os; open(os.environ['M'], 'w')\n"}),
        }.items()
    }
    lock = write(
        where / "requirements.txt",
        "# a lock as pip-compile writes it\n"
        f"alpha==1.0 \\\n    --hash=sha256:{_sha256(wheels['alpha-1.0'])}\n"
        f"beta-pkg==1.0 \\\n    --hash=sha256:{_sha256(wheels['beta-1.0'])}\n"
        f"hook==1.0 --hash=sha256:{_sha256(wheels['hook-1.0'])}\n"
        f"py2only==1.0 ; python_version < '3' --hash=sha256:{H1}\n",
    )
    venv = make_venv(interp, where / "venv", with_pip=False)
    venv.pip_install("--require-hashes", "--find-links", where / "wheels", "-r", lock)
    return venv, lock, wheels


def test_environment_installed_from_the_lock_passes(
    locked_venv: tuple[Any, Path, dict[str, Path]], tmp_path: Path
) -> None:
    venv, lock, _ = locked_venv
    marker = tmp_path / "ran"
    proc = run_cli("audit-lock", lock, "--python", venv.python, env={"M": str(marker)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == f"{lock}: 4 package(s), compared with {venv.python}: ok\n"
    assert not marker.exists()  # hook.pth's import line never ran: the target ran -S -I


def test_environment_drift(locked_venv: tuple[Any, Path, dict[str, Path]], tmp_path: Path) -> None:
    venv, lock, wheels = locked_venv
    drifted = write(
        tmp_path / "requirements.txt",
        lock.read_text().replace("beta-pkg==1.0", "beta-pkg==1.1")
        + f"delta==1.0 --hash=sha256:{H1}\n",
    )
    # same venv, a lock that says otherwise, plus a stray wheel installed (undone below)
    venv.pip_install("--no-deps", wheels["gamma-1.0"])
    try:
        code, doc = audit(drifted, "--python", venv.python)
    finally:
        venv.pip("uninstall", "-y", "-q", "gamma")
    assert code == 1
    assert doc["python"] == venv.python
    got = {(f["kind"], f["name"]): f for f in doc["locks"][0]["findings"]}
    assert set(got) == {
        ("not-locked", "gamma"),
        ("not-installed", "delta"),
        ("version-mismatch", "beta-pkg"),
    }
    assert got[("not-locked", "gamma")]["file"] == f"environment {venv.python}"
    assert got[("version-mismatch", "beta-pkg")]["message"].startswith(
        "locked 1.1, installed 1.0.0 ("
    )
    assert got[("version-mismatch", "beta-pkg")]["line"] == 4
    assert got[("not-installed", "delta")]["line"] == 8
