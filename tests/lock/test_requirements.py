"""Requirements files: real lock files, real includes, every kind of finding and error.

Our own ``requirements/*.lock`` (pip-compile --generate-hashes) must pass. Every other lock
is written here as a user would write it, run through the console script (exit codes,
one-line errors) or in-process (the findings).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pthguard.lock.requirements import parse_requirements
from tests.conftest import run_cli
from tests.lock.common import H1, H2, MD5, REPO, SHA1, SHA512, assert_error, audit, findings, write

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
    assert [(f.rule, f.subject, f.line) for f in lock_doc.findings] == [("no-hash", "delta", 9)]


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
        (
            "a==1 ; pyversion == '3'\n",
            ["r.txt:1: bad environment marker \"pyversion == '3'\"", "Expected a marker variable"],
        ),
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
