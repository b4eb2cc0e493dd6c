"""The ``pthguard`` command line, end to end, on real venvs of the dev interpreter.

The user story runs the console script as a subprocess (keygen, snapshot, sign, verify,
diff); every kind of drift is then made for real (pip install/uninstall, files written)
and must be named exactly, in text and in JSON. Bad input must end with its exit code
(3 operational, 2 usage) and one ``pthguard:`` line on stderr that names the file and
says what to do, with no traceback unless ``-v``. Each bad-input test says, in a comment,
the outcome observed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pthguard import __version__
from pthguard.cli.app import main
from tests.conftest import (
    ALPHA_PTH,
    PTHGUARD_SCRIPT,
    CliRunner,
    Guarded,
    KeyPair,
    approvals_for,
    differences,
    keygen,
    main_ok,
    make_guarded,
    run_cli,
    snapshot_approved,
)
from tests.support.interpreters import Interpreter
from tests.support.venvs import make_venv
from tests.support.wheels import litellm_like_pth

# -- helpers ---------------------------------------------------------------------------------


def assert_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """Exit ``code``, nothing on stdout, exactly one ``pthguard:`` line on stderr holding
    every needle, and no traceback; returns that line."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    kind = "usage error" if code == 2 else "error"
    assert lines[0].startswith(f"pthguard: {kind}: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in proc.stderr
    return lines[0]


def edit_json(source: Path, target: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    doc = json.loads(source.read_bytes())
    change(doc)
    target.write_text(json.dumps(doc, indent=2))
    return target


class Story:
    """A read-only venv (alpha, beta) with an unsigned and a signed manifest."""

    def __init__(self, guarded: Guarded, unsigned: Path, other: KeyPair, work: Path) -> None:
        self.guarded = guarded
        self.unsigned = unsigned
        self.signed = guarded.manifest
        self.keys = guarded.keys
        self.other = other
        self.python = guarded.venv.python
        self.work = work

    def verify(self, manifest: Path, *trust: Path, extra: tuple[str, ...] = ()) -> Any:
        trusted = trust or (self.keys.public,)
        args: list[str | Path] = ["verify", "--python", self.python, "--manifest", manifest]
        for key in trusted:
            args += ["--trust", key]
        return run_cli(*args, *extra)


@pytest.fixture(scope="module")
def story(
    dev_interp: Interpreter,
    tmp_path_factory: pytest.TempPathFactory,
    wheelhouse: dict[str, Path],
    keys: KeyPair,
    other_keys: KeyPair,
) -> Story:
    base = tmp_path_factory.mktemp("story")
    guarded = make_guarded(
        dev_interp, base, [wheelhouse["alpha-1.0"], wheelhouse["beta-1.0"]], keys
    )
    unsigned = base / "unsigned.json"
    snapshot_approved("--python", guarded.venv.python, "-o", unsigned)
    return Story(guarded, unsigned, other_keys, base)


# -- version, entry points, -v --------------------------------------------------------------


def test_module_version() -> None:
    proc = run_cli("--version", module=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"pthguard {__version__}\n", "")


def test_console_script_version() -> None:
    assert PTHGUARD_SCRIPT.is_file()
    proc = run_cli("--version")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"pthguard {__version__}\n", "")


def test_no_command_is_usage_error() -> None:
    # Observed: exit 2, "pthguard: usage error: the following arguments are required: command"
    assert_error(run_cli(), 2, "required: command")
    assert_error(run_cli("frobnicate", module=True), 2, "invalid choice: 'frobnicate'")


def test_verbose_shows_traceback(tmp_path: Path, keys: KeyPair) -> None:
    missing = tmp_path / "missing.json"
    quiet = run_cli("verify", "--manifest", missing, "--trust", keys.public)
    assert_error(quiet, 3, f"manifest {missing} does not exist")
    loud = run_cli("-v", "verify", "--manifest", missing, "--trust", keys.public)
    assert loud.returncode == 3
    assert "Traceback (most recent call last)" in loud.stderr
    assert "FileNotFoundError" in loud.stderr
    assert loud.stderr.splitlines()[-1] == quiet.stderr.strip()


# -- keygen -----------------------------------------------------------------------------------


def test_keygen_passphrase_file_and_env(tmp_path: Path, cli: CliRunner) -> None:
    phrase = tmp_path / "phrase.txt"
    phrase.write_text("correct horse battery staple\nsecond line is ignored\n")
    a_key, a_pub = tmp_path / "a.key", tmp_path / "a.pub"
    proc = cli("keygen", "--private-key", a_key, "--public-key", a_pub, "--passphrase-file", phrase)
    assert proc.returncode == 0, proc.stderr
    assert "(mode 0600, encrypted)" in proc.stdout
    b_key, b_pub = tmp_path / "b.key", tmp_path / "b.pub"
    proc = cli(
        "keygen",
        "--private-key",
        b_key,
        "--public-key",
        b_pub,
        env={"PTHGUARD_PASSPHRASE": "from the environment"},
    )
    assert proc.returncode == 0, proc.stderr
    for private, public in ((a_key, a_pub), (b_key, b_pub)):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        assert stat.S_IMODE(public.stat().st_mode) == 0o644
        assert private.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    # Observed: keygen never overwrites: exit 3 naming the file and what to do.
    again = cli(
        "keygen", "--private-key", a_key, "--public-key", tmp_path / "c.pub", "--no-passphrase"
    )
    assert_error(again, 3, f"{a_key} already exists", "choose another path")
    # Observed: no passphrase source and no terminal: usage error, exit 2.
    nothing = cli("keygen", "--private-key", tmp_path / "d.key", "--public-key", tmp_path / "d.pub")
    assert_error(nothing, 2, "no passphrase", "--passphrase-file", "--no-passphrase")
    assert not (tmp_path / "d.key").exists()


# -- the user story ---------------------------------------------------------------------------


def test_user_story(
    dev_interp: Interpreter, tmp_path: Path, wheelhouse: dict[str, Path], cli: CliRunner
) -> None:
    """keygen (two release engineers, encrypted keys) -> snapshot -> sign twice -> verify."""
    venv = make_venv(dev_interp, tmp_path / "venv", with_pip=False)
    venv.pip_install(wheelhouse["alpha-1.0"], wheelhouse["beta-1.0"], wheelhouse["sitecust-1.0"])
    phrase = tmp_path / "phrase"
    phrase.write_text("s3cret\n")
    ann = KeyPair(tmp_path / "ann.key", tmp_path / "ann.pub")
    bob = KeyPair(tmp_path / "bob.key", tmp_path / "bob.pub")
    for pair, how in ((ann, ("--passphrase-file", phrase)), (bob, ())):
        proc = cli(
            "keygen",
            "--private-key",
            pair.private,
            "--public-key",
            pair.public,
            *how,
            env={"PTHGUARD_PASSPHRASE": "b0b-phrase"},
        )
        assert proc.returncode == 0, proc.stderr

    manifest = tmp_path / "prod.json"
    proc = cli(
        "snapshot",
        "--python",
        venv.python,
        "-o",
        manifest,
        "--signer",
        ann.public,
        "--signer",
        bob.public,
        "--threshold",
        "2",
        *approvals_for(venv.python),
    )
    assert proc.returncode == 0, proc.stderr
    assert "unsigned: review it" in proc.stdout
    assert "3 distribution(s)" in proc.stdout

    proc = cli("sign", manifest, "--key", ann.private, "--passphrase-file", phrase)
    assert proc.returncode == 0, proc.stderr
    assert "1 signature(s)" in proc.stdout
    trust = ("--trust", ann.public, "--trust", bob.public)
    verify = ("verify", "--python", venv.python, "--manifest", manifest, *trust)
    # Observed: one of two required signatures: exit 3, says how many and what to do.
    assert_error(
        cli(*verify),
        3,
        str(manifest),
        "1 of 2 required trusted signatures",
        "collect more signatures",
    )
    proc = cli("sign", manifest, "--key", bob.private, env={"PTHGUARD_PASSPHRASE": "b0b-phrase"})
    assert proc.returncode == 0, proc.stderr
    assert "2 signature(s)" in proc.stdout

    text = cli(*verify)
    assert text.returncode == 0, text.stderr
    assert text.stderr == ""
    first = text.stdout.splitlines()[0]
    assert first.startswith(f"{venv.python}: environment matches {manifest} (version 1, ")
    assert "signed by ann (" in first
    assert "bob (" in first
    assert text.stdout.splitlines()[-1] == (
        "0 violation(s), 0 notice(s); startup files and metadata"
    )
    as_json = cli(*verify, "--format", "json")
    assert as_json.returncode == 0
    doc = json.loads(as_json.stdout)
    assert doc["schema"] == "pthguard-verify/1"
    assert doc["ok"] is True
    assert doc["differences"] == []
    assert doc["findings"] == []
    assert doc["manifest"]["threshold"] == 2
    assert sorted(k["name"] for k in doc["manifest"]["signed_by"]) == ["ann", "bob"]
    deep = cli(*verify, "--deep")
    assert deep.returncode == 0, deep.stdout
    assert "deep check of every RECORD file" in deep.stdout


# -- drift: each kind named exactly -------------------------------------------------------------


def check_drift(
    guarded: Guarded,
    expected: list[tuple[str, str, str]],
    text_lines: list[str],
    *,
    deep: bool = False,
    code: int = 1,
) -> dict[str, Any]:
    """Verify in text and JSON; both name exactly ``expected``. Returns the JSON report."""
    extra = ("--deep",) if deep else ()
    text = guarded.verify(*extra)
    assert text.returncode == code, text.stdout + text.stderr
    assert text.stderr == ""
    state = "matches" if code == 0 else "does NOT match"
    assert f"environment {state} {guarded.manifest}" in text.stdout.splitlines()[0]
    for line in text_lines:
        assert line in text.stdout.splitlines(), (line, text.stdout)
    returned, doc = guarded.verify_json(*extra)
    assert returned == code
    assert doc["ok"] is (code == 0)
    assert doc["deep"] is deep
    assert differences(doc) == expected
    return doc


def test_drift_new_pth(guarded: Guarded, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = litellm_like_pth(str(marker))
    (guarded.venv.site_packages / "zz-evil.pth").write_bytes(evil)
    line = evil.decode().rstrip("\n")
    subject = f"{guarded.site}/zz-evil.pth"
    doc = check_drift(
        guarded,
        [("startup_file", "added", subject)],
        [f"  unlisted startup file {subject}"],
    )
    (diff,) = doc["differences"]
    assert diff["new_code_lines"] == [line]
    assert diff["severity"] == "violation"
    assert diff["found"].endswith("1 code line, no distribution claims it")
    text = guarded.verify().stdout
    assert "    new code: import os, base64; exec(base64.b64decode('" in text
    assert not marker.exists(), "verify ran the new .pth"


def test_drift_modified_pth(guarded: Guarded) -> None:
    pth = guarded.venv.site_packages / "alpha.pth"
    pth.write_bytes(ALPHA_PTH + b"import evil_mod\n")
    subject = f"{guarded.site}/alpha.pth"
    doc = check_drift(
        guarded,
        [("startup_file", "changed", subject)],
        [f"  changed startup file {subject}", "      new code: import evil_mod"],
    )
    (diff,) = doc["differences"]
    assert diff["new_code_lines"] == ["import evil_mod"]  # only what is new
    assert "1 code line, from alpha" in diff["expected"]
    assert "2 code lines, from alpha" in diff["found"]


def test_drift_new_sitecustomize(guarded: Guarded) -> None:
    path = guarded.venv.site_packages / "sitecustomize.py"
    path.write_bytes(b"print('hello from sitecustomize')\n")
    doc = check_drift(
        guarded,
        [("startup_module", "added", "sitecustomize")],
        [
            "  unlisted startup module sitecustomize",
            f"      new code: import sitecustomize  # {path}",
        ],
    )
    assert doc["differences"][0]["expected"] == "none"


def test_drift_unlisted_distribution(guarded: Guarded, wheelhouse: dict[str, Path]) -> None:
    guarded.venv.pip_install(wheelhouse["gamma-1.0"])
    subject = f"gamma 1.0 ({guarded.site})"
    doc = check_drift(
        guarded,
        [("distribution", "added", subject)],
        [f"  unlisted distribution {subject}"],
    )
    assert doc["differences"][0]["found"].startswith("gamma 1.0, gamma-1.0.dist-info, RECORD")


def test_drift_other_version(guarded: Guarded, wheelhouse: dict[str, Path]) -> None:
    guarded.venv.pip_install(wheelhouse["alpha-2.0"])
    subject = f"alpha ({guarded.site})"
    doc = check_drift(
        guarded,
        [("distribution", "changed", subject)],
        [f"  changed distribution {subject}"],
    )
    (diff,) = doc["differences"]
    assert diff["expected"].startswith("alpha 1.0, alpha-1.0.dist-info, RECORD sha256 ")
    assert diff["found"].startswith("alpha 2.0, alpha-2.0.dist-info, RECORD sha256 ")


def test_drift_uninstalled(guarded: Guarded) -> None:
    guarded.venv.pip("uninstall", "--isolated", "-y", "-q", "beta")
    subject = f"beta 1.0 ({guarded.site})"
    check_drift(
        guarded,
        [("distribution", "removed", subject)],
        [f"  missing distribution {subject}"],
    )


def test_drift_record_rewritten_after_a_cached_verify(guarded: Guarded) -> None:
    """A first verify leaves every RECORD in the records cache; then beta's RECORD is
    rewritten with a row claiming alpha's ``__init__.py`` and a malformed row. Expected: the
    RECORD is read and parsed again: beta is a changed distribution (its new RECORD sha256)
    and the new rows' findings are reported (claimed twice, malformed)."""
    check_drift(guarded, [], [], code=0)
    check_drift(guarded, [], [], code=0)  # warm: from the cache
    site = guarded.venv.site_packages
    record = site / "beta-1.0.dist-info" / "RECORD"
    data = record.read_bytes() + b"alpha/__init__.py,,\nbeta_extra.py,md5=abc,3\n"
    record.write_bytes(data)
    subject = f"beta ({guarded.site})"
    doc = check_drift(
        guarded,
        [("distribution", "changed", subject)],
        [f"  changed distribution {subject}"],
    )
    (diff,) = doc["differences"]
    assert f"RECORD sha256 {hashlib.sha256(data).hexdigest()}" in diff["found"]
    findings = {(f["path"], f["message"]) for f in doc["findings"]}
    assert (
        str(site / "alpha" / "__init__.py"),
        "claimed by several distributions: alpha, beta",
    ) in findings
    assert any(
        path == str(record) and "unsupported hash algorithm 'md5'" in message
        for path, message in findings
    )


def test_drift_edited_file_only_deep(guarded: Guarded) -> None:
    path = guarded.venv.site_packages / "beta.py"
    path.write_bytes(b"def hello():\n    return 'pwned'\n")
    check_drift(guarded, [], [], code=0)  # RECORD unchanged: only --deep hashes the files
    doc = check_drift(
        guarded,
        [("file", "changed", str(path))],
        [f"  changed file {path}"],
        deep=True,
    )
    (diff,) = doc["differences"]
    assert diff["expected"].endswith("(from beta 1.0)")
    assert diff["found"].startswith("sha256 ")


def test_drift_deleted_file_only_deep(guarded: Guarded) -> None:
    path = guarded.venv.site_packages / "alpha" / "__init__.py"
    path.unlink()
    check_drift(guarded, [], [], code=0)
    doc = check_drift(
        guarded,
        [("file", "removed", str(path))],
        [f"  missing file {path}", "      found:    missing"],
        deep=True,
    )
    assert doc["differences"][0]["found"] == "missing"


def test_drift_unclaimed_file_deep_notice(guarded: Guarded) -> None:
    (guarded.venv.site_packages / "stray.py").write_bytes(b"X = 1\n")
    check_drift(guarded, [], [], code=0)
    subject = f"{guarded.site}/stray.py"
    doc = check_drift(
        guarded,
        [("unclaimed", "added", subject)],
        [
            f"  new unclaimed {subject} (notice)",
            "0 violation(s), 1 notice(s); deep check of every RECORD file",
        ],
        deep=True,
        code=0,  # policy unclaimed_files=report (the default): a notice, not a violation
    )
    assert doc["differences"][0]["severity"] == "notice"


# -- diff -------------------------------------------------------------------------------------


def test_diff(guarded: Guarded, wheelhouse: dict[str, Path], tmp_path: Path) -> None:
    old = guarded.manifest
    same = run_cli("diff", old, old)
    assert (same.returncode, same.stderr) == (0, "")
    assert same.stdout == f"{old} and {old} describe the same environment\n"

    site = guarded.venv.site_packages
    guarded.venv.pip_install(wheelhouse["gamma-1.0"])
    (site / "zz-evil.pth").write_bytes(b"import os; os.system('true')\n")
    (site / "sitecustomize.py").write_bytes(b"X = 1\n")
    (site / "alpha.pth").write_bytes(ALPHA_PTH.replace(b"import alpha", b"import alpha, beta"))
    new = tmp_path / "new.json"
    snapshot_approved("--python", guarded.venv.python, "-o", new)

    text = run_cli("diff", old, new)
    assert text.returncode == 1, text.stderr
    changes, review = text.stdout.split("\nstartup code new in this manifest, as `sign` judges")
    assert f"approved: {site}/zz-evil.pth" in review or f"{site}/zz-evil.pth (approved" in review
    lines = changes.splitlines()
    assert lines[0] == f"changes from {old} to {new} (new code lines first):"
    heads = [line for line in lines[1:-1] if not line.startswith("    ")]
    assert heads == [
        f"  changed startup file {site}/alpha.pth",
        f"  unlisted startup file {site}/zz-evil.pth",
        "  unlisted startup module sitecustomize",
        f"  unlisted distribution gamma 1.0 ({site})",
        f"  new unclaimed {site}/sitecustomize.py (notice)",
    ]
    assert lines[-1] == "5 change(s), 3 new code line(s) to review"

    as_json = run_cli("diff", old, new, "--format", "json")
    assert as_json.returncode == 1
    doc = json.loads(as_json.stdout)
    assert doc["schema"] == "pthguard-diff/1"
    found = differences(doc)
    with_code = [d for d in doc["differences"] if d["new_code_lines"]]
    # every difference that brings new code comes before every one that does not
    assert doc["differences"][: len(with_code)] == with_code
    assert [d["new_code_lines"] for d in with_code] == [
        ["import alpha, beta"],
        ["import os; os.system('true')"],
        [f"import sitecustomize  # {site}/sitecustomize.py"],
    ]
    assert set(found[len(with_code) :]) == {
        ("unclaimed", "added", f"{site}/sitecustomize.py"),
        ("distribution", "added", f"gamma 1.0 ({site})"),
    }
    # backwards: the same items, the other way round, nothing new to run
    back = json.loads(run_cli("diff", new, old, "--format", "json").stdout)
    assert all(not d["new_code_lines"] for d in back["differences"][1:])


def test_diff_policy_change(story: Story, tmp_path: Path) -> None:
    warn = tmp_path / "warn.json"
    snapshot_approved("--python", story.python, "-o", warn, "--mode", "warn")
    proc = run_cli("diff", story.unsigned, warn)
    assert proc.returncode == 1
    assert "  changed environment policy" in proc.stdout.splitlines()


# -- bad manifests ----------------------------------------------------------------------------


def _set(*path: str | int, value: object) -> Callable[[dict[str, Any]], None]:
    """A change of the JSON document: set the value at ``path``."""

    def change(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _json(*path: str | int, value: object) -> Callable[[bytes], bytes]:
    """A change of the file's bytes: parse, set the value at ``path``, write back."""

    def change(data: bytes) -> bytes:
        doc = json.loads(data)
        _set(*path, value=value)(doc)
        return json.dumps(doc, indent=2).encode()

    return change


BAD_MANIFESTS: list[tuple[str, Callable[[bytes], bytes], list[str]]] = [
    # Observed outcome of each: exit 3, "pthguard: error: FILE ...; REMEDY".
    ("truncated", lambda b: b[: len(b) // 2], ["is not valid JSON", "truncated", "fresh copy"]),
    ("not-json", lambda b: b"<html>404</html>\n", ["is not valid JSON", "take a fresh copy"]),
    ("empty", lambda b: b"", ["is empty", "write it with `pthguard snapshot`"]),
    (
        "wrong-type",
        _json("signed", "version", value="1"),
        ["is malformed: signed.version: expected an integer, found a string", "fresh copy"],
    ),
    (
        "wrong-type-nested",
        _json("signed", "site_dirs", 0, "startup_files", 0, "size", value=-1),
        ["is malformed: signed.site_dirs[0].startup_files[0].size", "snapshot again"],
    ),
    (
        "unknown-field",
        _json("signed", "surprise", value=True),
        ["is malformed: signed.surprise: unknown field", "fresh copy"],
    ),
    (
        "unknown-envelope-field",
        _json("comment", value="hi"),
        ["is malformed: $.comment: unknown field", "fresh copy"],
    ),
    (
        "bad-signature-value",
        _json("signatures", 0, "sig", value="00"),
        ["is malformed: $.signatures[0].sig: expected 128 lower-case hex digits", "fresh copy"],
    ),
    (
        "bad-events",
        _json("signed", "policy", "events", value={"path": "events.jsonl", "syslog": None}),
        ["is malformed: signed.policy.events.path: must be an absolute path", "fresh copy"],
    ),
    (
        "edited-after-signing",
        _json("signed", "site_dirs", 0, "startup_files", 0, "size", value=1),
        [
            "0 of 1 required trusted signatures",
            "does not match (the manifest was changed after signing",
            "take the manifest as it was signed, or review it and sign it again",
        ],
    ),
]


@pytest.mark.parametrize(
    ("change", "needles"),
    [pytest.param(c, n, id=i) for i, c, n in BAD_MANIFESTS],
)
def test_bad_manifest(
    story: Story, tmp_path: Path, change: Callable[[bytes], bytes], needles: list[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(change(story.signed.read_bytes()))
    proc = story.verify(bad)
    assert_error(proc, 3, str(bad), *needles)
    # diff reads manifests with the same parser: the same message (diff needs no signature)
    if "signatures" not in needles[0]:
        assert_error(run_cli("diff", bad, story.signed), 3, str(bad), *needles)


def test_no_signatures(story: Story) -> None:
    # Observed: exit 3 "FILE has no signatures; sign it with `pthguard sign MANIFEST --key ...`"
    assert_error(
        story.verify(story.unsigned), 3, f"{story.unsigned} has no signatures", "pthguard sign"
    )


def test_untrusted_signer(story: Story) -> None:
    # Observed: exit 3 "FILE: 0 of 1 required trusted signatures; signed by untrusted key
    # <keyid16>; pass the signer's public key with --trust, or collect more signatures"
    assert_error(
        story.verify(story.signed, story.other.public),
        3,
        str(story.signed),
        "signed by untrusted key",
        "pass the signer's public key with --trust",
    )


def test_expired_signed_that_way(story: Story, tmp_path: Path) -> None:
    """``snapshot --expires`` refuses a past time, so the expiry is edited before signing."""
    # Observed: exit 2 "--expires 2020-01-01 is not in the future"
    refused = run_cli(
        "snapshot", "--python", story.python, "-o", tmp_path / "x", "--expires", "2020-01-01"
    )
    assert_error(refused, 2, "--expires 2020-01-01 is not in the future")
    old = edit_json(
        story.unsigned,
        tmp_path / "old.json",
        _set("signed", "expires", value="2020-01-01T00:00:00Z"),
    )
    main_ok("sign", old, "--key", story.keys.private)
    # Observed: exit 3 "FILE expired at 2020-01-01T00:00:00Z; take a new snapshot and sign it"
    assert_error(
        story.verify(old), 3, f"{old} expired at 2020-01-01T00:00:00Z", "take a new snapshot"
    )


def test_expired_by_clock(story: Story, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    out = io.StringIO()
    argv = ["verify", "--python", story.python, "--manifest", str(story.signed)]
    argv += ["--trust", str(story.keys.public)]
    far = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)
    assert main(argv, out=out, clock=lambda: far) == 3
    err = capsys.readouterr().err
    # Observed: exit 3, one line "FILE expired at <expires>; take a new snapshot and sign it"
    assert len(err.splitlines()) == 1
    assert err.startswith(f"pthguard: error: {story.signed} expired at ")
    assert "take a new snapshot and sign it" in err
    assert out.getvalue() == ""
    assert main(argv, out=io.StringIO()) == 0  # today it is fine


def test_threshold_not_met(story: Story, tmp_path: Path) -> None:
    two = tmp_path / "two.json"
    main_ok(
        "snapshot", "--python", story.python, "-o", two,
        "--signer", story.keys.public, "--signer", story.other.public, "--threshold", "2",
        "--previous", story.signed,
    )  # fmt: skip
    main_ok("sign", two, "--key", story.keys.private)
    # Observed: exit 3 "FILE: 1 of 2 required trusted signatures; pass the signer's public
    # key with --trust, or collect more signatures"
    assert_error(
        story.verify(two, story.keys.public, story.other.public),
        3,
        f"{two}: 1 of 2 required trusted signatures",
        "collect more signatures",
    )
    # Observed: a key the policy does not list cannot sign it: exit 3, names the key file.
    outsider = tmp_path / "outsider"
    outsider.mkdir()
    stranger = keygen(outsider, "stranger")
    assert_error(
        run_cli("sign", two, "--key", stranger.private),
        3,
        f"key {stranger.private} (",
        "is not among the signers the manifest's policy allows",
        "snapshot again with --signer",
    )
    # Observed: --threshold above the number of --signer keys is a usage error (exit 2).
    assert_error(
        run_cli(
            "snapshot",
            "--python",
            story.python,
            "-o",
            tmp_path / "x.json",
            "--signer",
            story.keys.public,
            "--threshold",
            "2",
        ),
        2,
        "--threshold 2 exceeds the 1 signers given",
    )


def test_missing_required_option(story: Story) -> None:
    # Observed: argparse's message as one usage-error line, exit 2.
    assert_error(run_cli("snapshot", "--python", story.python), 2, "-o/--output")
    assert_error(run_cli("sign", story.unsigned), 2, "--key")


# -- bad keys ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def foreign_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """PEM keys of the wrong kind, made with cryptography."""
    where = tmp_path_factory.mktemp("foreign")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = serialization.PrivateFormat.PKCS8
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    none = serialization.NoEncryption()
    files = {
        "rsa.key": rsa_key.private_bytes(pem, pkcs8, none),
        "rsa.pub": rsa_key.public_key().public_bytes(pem, spki),
        "ec.key": ec_key.private_bytes(pem, pkcs8, none),
        "ec.pub": ec_key.public_key().public_bytes(pem, spki),
        "junk.key": b"this is not a key\n",
    }
    out = {}
    for name, data in files.items():
        out[name] = where / name
        out[name].write_bytes(data)
    return out


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        # Observed: exit 3 "K is an RSA key; pthguard signs with Ed25519 only; create one with
        # `pthguard keygen`" (same for ECDSA)
        ("rsa.key", ["is an RSA key; pthguard signs with Ed25519 only", "pthguard keygen"]),
        ("ec.key", ["is an ECDSA key; pthguard signs with Ed25519 only", "pthguard keygen"]),
        # Observed: exit 3 "K is not a PEM private key; pass a key written by `pthguard keygen`"
        ("junk.key", ["is not a PEM private key", "pass a key written by `pthguard keygen`"]),
        # Observed: exit 3 "K is a public key; pass the private key (written by keygen ...)"
        ("ec.pub", ["is a public key", "pass the private key"]),
    ],
)
def test_bad_signing_key(
    story: Story, foreign_keys: dict[str, Path], tmp_path: Path, name: str, needles: list[str]
) -> None:
    target = tmp_path / "m.json"
    shutil.copy(story.unsigned, target)
    before = target.read_bytes()
    assert_error(
        run_cli("sign", target, "--key", foreign_keys[name]), 3, str(foreign_keys[name]), *needles
    )
    assert target.read_bytes() == before


def test_public_key_given_as_key(story: Story, tmp_path: Path) -> None:
    # Observed: exit 3 "release.pub is a public key; pass the private key (written by keygen
    # --private-key)"
    assert_error(
        run_cli("sign", story.unsigned, "--key", story.keys.public, "-o", tmp_path / "o.json"),
        3,
        f"{story.keys.public} is a public key",
        "pass the private key",
    )


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        # Observed (after adding a remedy): exit 3 "P is an ECDSA key; pthguard trusts Ed25519
        # keys only; pass a public key written by `pthguard keygen`"
        ("ec.pub", ["is an ECDSA key; pthguard trusts Ed25519 keys only", "pthguard keygen"]),
        ("rsa.pub", ["is an RSA key; pthguard trusts Ed25519 keys only", "pthguard keygen"]),
        # Observed: exit 3 "P is a private key, given where a public key is expected; pass the
        # .pub file written by keygen; keep the private key off this machine"
        ("rsa.key", ["is a private key, given where a public key is expected", "pass the .pub"]),
        # Observed: not PEM, so read as an OpenSSH key / allowed_signers file: exit 3
        # "P:1: unknown or malformed option 'is'; allowed_signers options are namespaces=, ..."
        ("junk.key", []),
    ],
)
def test_bad_trusted_key(
    story: Story, foreign_keys: dict[str, Path], name: str, needles: list[str]
) -> None:
    assert_error(
        story.verify(story.signed, foreign_keys[name]), 3, str(foreign_keys[name]), *needles
    )


def test_private_key_given_as_trust(story: Story) -> None:
    assert_error(
        story.verify(story.signed, story.keys.private),
        3,
        f"{story.keys.private} is a private key",
        "keep the private key off this machine",
    )


def test_wrong_passphrase(story: Story, tmp_path: Path) -> None:
    key, pub = tmp_path / "enc.key", tmp_path / "enc.pub"
    proc = run_cli(
        "keygen", "--private-key", key, "--public-key", pub, env={"PTHGUARD_PASSPHRASE": "right"}
    )
    assert proc.returncode == 0, proc.stderr
    target = tmp_path / "m.json"
    shutil.copy(story.unsigned, target)
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong\n")
    # Observed: exit 3 "cannot decrypt K: wrong passphrase; check the passphrase"
    assert_error(
        run_cli("sign", target, "--key", key, "--passphrase-file", wrong),
        3,
        f"cannot decrypt {key}: wrong passphrase",
        "check the passphrase",
    )
    assert_error(
        run_cli("sign", target, "--key", key, env={"PTHGUARD_PASSPHRASE": "nope"}),
        3,
        f"cannot decrypt {key}: wrong passphrase",
    )
    # Observed: no passphrase and no terminal: exit 2 "no passphrase: use --passphrase-file,
    # PTHGUARD_PASSPHRASE, a terminal" (a usage error; it does not name the key file)
    assert_error(run_cli("sign", target, "--key", key), 2, "no passphrase: use --passphrase-file")
    # Observed: an empty passphrase file: exit 3 "passphrase file F is empty"
    empty = tmp_path / "empty"
    empty.write_text("")
    assert_error(
        run_cli("sign", target, "--key", key, "--passphrase-file", empty),
        3,
        f"passphrase file {empty} is empty",
    )
    ok = run_cli("sign", target, "--key", key, env={"PTHGUARD_PASSPHRASE": "right"})
    assert ok.returncode == 0, ok.stderr


# -- a damaged environment ----------------------------------------------------------------------


def snapshot_and_verify(
    guarded: Guarded, tmp_path: Path, prefix: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str], dict[str, Any]]:
    """``snapshot`` to a new file, then ``verify`` (text, JSON) against the signed manifest."""
    out = tmp_path / "again.json"
    snap = run_cli("snapshot", "--python", guarded.venv.python, "-o", out, prefix=prefix)
    common: list[str | Path] = [
        "verify", "--python", guarded.venv.python, "--manifest", guarded.manifest,
        "--trust", guarded.keys.public,
    ]  # fmt: skip
    text = run_cli(*common, prefix=prefix)
    as_json = run_cli(*common, "--format", "json", prefix=prefix)
    # (text=True decodes stdout as strict UTF-8: a raw non-UTF-8 byte would raise here)
    doc = json.loads(as_json.stdout)
    assert as_json.returncode == text.returncode
    return snap, text, doc


def assert_refused_snapshot(
    proc: subprocess.CompletedProcess[str], path: str, *needles: str
) -> None:
    """Snapshot refuses: exit 3, one finding line naming the file with the remedy, then one
    summary line; no traceback, nothing written."""
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    finding, summary = proc.stderr.splitlines()
    assert finding.startswith(f"pthguard: error: {path}: "), finding
    for needle in needles:
        assert needle in finding
    assert summary == (
        "pthguard: error: 1 problem(s) prevent an honest manifest; nothing was written; "
        "fix the files named above and run snapshot again"
    )


def assert_verify_fails_on_finding(
    text: subprocess.CompletedProcess[str], doc: dict[str, Any], path: str
) -> None:
    """verify cannot check everything: it does not say "matches" (exit 1, ok false), and
    names the file in an error finding."""
    assert text.returncode == 1, text.stdout
    assert "does NOT match" in text.stdout.splitlines()[0]
    assert any(line.startswith(f"  error: {path}: ") for line in text.stdout.splitlines())
    assert text.stdout.splitlines()[-1].startswith("0 violation(s), 0 notice(s), 1 error(s);")
    assert doc["ok"] is False
    assert [(f["severity"], f["path"]) for f in doc["findings"]] == [("error", path)]


def test_pth_is_a_directory(guarded: Guarded, tmp_path: Path) -> None:
    path = guarded.venv.site_packages / "dir.pth"
    path.mkdir()
    snap, text, doc = snapshot_and_verify(guarded, tmp_path)
    # Observed: snapshot exit 3, "pthguard: error: P: not a regular file: Python skips it, but
    # it cannot be allowlisted; remove it" + summary line. verify: exit 1 with the finding.
    assert_refused_snapshot(snap, str(path), "not a regular file", "remove it")
    assert_verify_fails_on_finding(text, doc, str(path))


def test_pth_dangling_symlink(guarded: Guarded, tmp_path: Path) -> None:
    path = guarded.venv.site_packages / "gone.pth"
    path.symlink_to(tmp_path / "does-not-exist.pth")
    snap, text, doc = snapshot_and_verify(guarded, tmp_path)
    # Observed: snapshot exit 3, "P: dangling symlink: Python skips it, but it cannot be
    # allowlisted; remove it" + summary line. verify: exit 1 with the finding.
    assert_refused_snapshot(snap, str(path), "dangling symlink", "remove it")
    assert_verify_fails_on_finding(text, doc, str(path))


def test_non_utf8_file_name(guarded: Guarded, tmp_path: Path) -> None:
    """A ``.pth`` whose name is not UTF-8 *runs* at startup (site lists names with
    surrogateescape), so verify must not say "matches"."""
    site = os.fsencode(guarded.venv.site_packages)
    marker = tmp_path / "ran"
    with open(site + b"/evil\xff.pth", "wb") as handle:
        handle.write(litellm_like_pth(str(marker)))
    guarded.venv.run(["-c", "pass"], check=True)
    assert marker.exists(), "CPython did run the non-UTF-8 .pth"
    marker.unlink()
    shown = f"{guarded.site}/evil\\xff.pth"  # printable, valid UTF-8
    snap, text, doc = snapshot_and_verify(guarded, tmp_path)
    # Observed: snapshot exit 3, "P: file name b'evil\\xff.pth' is not UTF-8; rename or remove
    # it" + summary. verify: exit 1, the finding in text and (valid UTF-8) JSON. Before the
    # fix verify said "environment matches" (exit 0) and wrote a raw 0xff byte into JSON.
    assert_refused_snapshot(snap, shown, "is not UTF-8", "rename or remove it")
    assert_verify_fails_on_finding(text, doc, shown)
    assert not marker.exists()


def _without_dac() -> tuple[str, ...]:
    """A prefix that runs a command as root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, so
    that mode 000 stops it reading. (``setpriv --reuid=nobody`` does not work here: the
    pyenv interpreters live under /root, mode 0700, so nobody's Python cannot find its own
    standard library and falls back to the system's.)"""
    tool = shutil.which("setpriv")
    if tool is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to run a process that mode 000 stops")
    prefix = (tool, "--bounding-set=-dac_override,-dac_read_search")
    probe = subprocess.run([*prefix, "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr!r}")
    return prefix


def test_unreadable_pth(guarded: Guarded, tmp_path: Path) -> None:
    prefix = _without_dac()
    path = guarded.venv.site_packages / "locked.pth"
    path.write_bytes(b"import os\n")
    path.chmod(0)
    snap, text, doc = snapshot_and_verify(guarded, tmp_path, prefix)
    # Observed: snapshot exit 3, "P: cannot read (Permission denied); fix its permissions or
    # remove it" + summary line. verify: exit 1 with the finding.
    assert_refused_snapshot(
        snap, str(path), "cannot read (Permission denied)", "fix its permissions"
    )
    assert_verify_fails_on_finding(text, doc, str(path))
    # once allowlisted, an unreadable .pth is also a missing startup file
    path.chmod(0o644)
    again = tmp_path / "with-locked.json"
    snapshot_approved("--python", guarded.venv.python, "-o", again)
    main_ok("sign", again, "--key", guarded.keys.private)
    path.chmod(0)
    proc = run_cli(
        "verify", "--python", guarded.venv.python, "--manifest", again,
        "--trust", guarded.keys.public, "--format", "json", prefix=prefix,
    )  # fmt: skip
    assert proc.returncode == 1
    assert differences(json.loads(proc.stdout)) == [
        ("startup_file", "removed", f"{guarded.site}/locked.pth")
    ]


def test_unreadable_record(guarded: Guarded, tmp_path: Path) -> None:
    prefix = _without_dac()
    record = guarded.venv.site_packages / "beta-1.0.dist-info" / "RECORD"
    record.chmod(0)
    out = tmp_path / "m.json"
    # Observed: exit 3, one line "cannot read R (Permission denied); fix its permissions, or
    # run as a user who can read the environment". (Before the fix: a PermissionError
    # traceback and exit 1, the code of "differences found".)
    for argv in (
        ("snapshot", "--python", guarded.venv.python, "-o", out),
        ("verify", "--python", guarded.venv.python, "--manifest", guarded.manifest,
         "--trust", guarded.keys.public),
    ):  # fmt: skip
        proc = run_cli(*argv, prefix=prefix)
        assert_error(proc, 3, f"cannot read {record} (Permission denied)", "fix its permissions")
    assert not out.exists()


def test_record_malformed_rows(guarded: Guarded, tmp_path: Path) -> None:
    record = guarded.venv.site_packages / "beta-1.0.dist-info" / "RECORD"
    with record.open("a") as handle:
        handle.write("only,two\nx.py,md5=1B2M2Y8AsgTpgAmY7PhCfg,0\n")
    out = tmp_path / "m.json"
    proc = run_cli(
        "snapshot", "--python", guarded.venv.python, "-o", out, "--previous", guarded.manifest
    )
    # Observed: exit 0, the manifest is written; one warning line per bad row.
    assert proc.returncode == 0, proc.stderr
    warnings = proc.stderr.splitlines()
    assert len(warnings) == 2
    assert all(w.startswith(f"pthguard: warning: {record}: row ") for w in warnings)
    assert "Traceback" not in proc.stderr
    doc = json.loads(out.read_bytes())
    beta = next(d for d in doc["signed"]["distributions"] if d["name"] == "beta")
    assert beta["record_sha256"] is not None
    # verify: the RECORD changed after signing
    code, report = guarded.verify_json()
    assert code == 1
    assert differences(report) == [("distribution", "changed", f"beta ({guarded.site})")]


def test_record_missing(guarded: Guarded, tmp_path: Path) -> None:
    info = guarded.venv.site_packages / "beta-1.0.dist-info"
    (info / "RECORD").unlink()
    out = tmp_path / "m.json"
    proc = run_cli(
        "snapshot", "--python", guarded.venv.python, "-o", out, "--previous", guarded.manifest
    )
    # Observed: exit 0, written, one line "pthguard: warning: DIR: no RECORD: its files cannot
    # be checked (reinstall it with pip)"
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (
        f"pthguard: warning: {info}: no RECORD: its files cannot be checked "
        "(reinstall it with pip)\n"
    )
    doc = json.loads(out.read_bytes())
    beta = next(d for d in doc["signed"]["distributions"] if d["name"] == "beta")
    assert beta["record_sha256"] is None
    # its beta.py is now unclaimed
    assert "beta.py" in doc["signed"]["site_dirs"][0]["unclaimed"]


def test_main_in_process_matches_subprocess(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    """``main(argv, out=...)`` returns the exit code and writes the report to ``out``."""
    out = io.StringIO()
    argv = ["verify", "--python", story.python, "--manifest", str(story.signed)]
    code = main([*argv, "--trust", str(story.keys.public)], out=out)
    assert code == 0
    assert out.getvalue() == story.verify(story.signed).stdout
    assert sys.stdout is not out


def test_diff_shows_the_review_of_new_startup_code(guarded: Guarded, tmp_path: Path) -> None:
    """diff: what a signer would judge in NEW, with the decoded code of unapproved files."""
    site = guarded.venv.site_packages
    line = b"import os, base64; exec(base64.b64decode('cHJpbnQoMSk='))\n"
    (site / "zz_new.pth").write_bytes(line)
    new = tmp_path / "new.json"
    digest = hashlib.sha256(line).hexdigest()
    snapshot_approved("--python", guarded.venv.python, "-o", new, "--previous", guarded.manifest)
    text = run_cli("diff", guarded.manifest, new).stdout
    assert "startup code new in this manifest, as `sign` judges it:" in text
    assert f"passes: {site / 'zz_new.pth'} (approved in this manifest)" in text
    doc = json.loads(run_cli("diff", guarded.manifest, new, "--format", "json").stdout)
    (item,) = [r for r in doc["review"]["reviews"] if r["name"] == "zz_new.pth"]
    assert (item["sha256"], item["verdict"]) == (digest, "passes")
    # a manifest that records startup code nobody approved: shown decoded, sign refuses it
    raw = json.loads(new.read_bytes())
    del raw["signed"]["approvals"]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(raw))
    text = run_cli("diff", guarded.manifest, bare).stdout
    assert f"--approve sha256:{digest}" in text
    assert "print(1)" in text
    proc = run_cli("sign", bare, "--key", guarded.keys.private, "--previous", guarded.manifest)
    assert proc.returncode == 1, proc.stderr
    assert "refusing to sign" in proc.stdout
    assert json.loads(bare.read_bytes())["signatures"] == []
