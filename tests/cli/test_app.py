"""``pthguard.cli.app``: dispatch and the mapping of errors to exit codes and stderr lines,
in-process with injected ``out`` and ``err``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pthguard.cli.app import main
from tests.conftest import KeyPair, run_cli


@pytest.mark.parametrize("flag", ["-v", "--verbose"])
def test_verbose_flag_shows_traceback(tmp_path: Path, keys: KeyPair, flag: str) -> None:
    missing = tmp_path / "missing.json"
    argv = ["verify", "--manifest", str(missing), "--trust", str(keys.public)]
    quiet_out, quiet_err = io.StringIO(), io.StringIO()
    assert main(argv, out=quiet_out, err=quiet_err) == 3
    assert "Traceback" not in quiet_err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main([flag, *argv], out=out, err=err) == 3
    assert "Traceback (most recent call last)" in err.getvalue()
    assert "FileNotFoundError" in err.getvalue()
    assert err.getvalue().splitlines()[-1] == quiet_err.getvalue().strip()
    assert quiet_err.getvalue().startswith(f"pthguard: error: manifest {missing} does not exist")
    assert out.getvalue() == quiet_out.getvalue() == ""


def test_verbose_long_flag_in_a_subprocess(tmp_path: Path, keys: KeyPair) -> None:
    missing = tmp_path / "missing.json"
    proc = run_cli("--verbose", "verify", "--manifest", missing, "--trust", keys.public)
    assert proc.returncode == 3
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(f"pthguard: error: manifest {missing}")
