"""A guarded start prints nothing a stock start does not, however warnings are configured.

The gate runs inside every start, under the program's own warning filters: ``-X dev`` (shows
``ResourceWarning`` and ``DeprecationWarning``), ``-W default``, ``-W error`` and
``PYTHONWARNINGS=error`` (a warning becomes an exception inside the gate),
``-X warn_default_encoding`` (``EncodingWarning`` for every text ``open()`` without an
encoding), ``-bb`` (bytes compared with str raise). Whatever the gate does under them (an
unclosed file, a deprecated call, a text file opened without an encoding) would show up on
the program's stderr, or stop it.

On every interpreter present, for a normal start and the sealed launcher, the first start
after a change to ``site-packages`` (the full check and the hash-cache write) and the warm
start after it: the guarded venv's stderr is byte for byte the stock venv's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.support.guard import Guarded, make_guarded, stock_template
from tests.support.interpreters import Interpreter, interpreter_params

pytestmark = pytest.mark.slow
INTERPRETERS = interpreter_params()

#: (name, interpreter options, environment)
CONFIGS: list[tuple[str, tuple[str, ...], dict[str, str | None]]] = [
    ("plain", (), {}),
    ("-X dev", ("-X", "dev"), {}),
    ("-W default", ("-W", "default"), {}),
    ("-W error", ("-W", "error"), {}),
    ("PYTHONWARNINGS=error", (), {"PYTHONWARNINGS": "error"}),
    ("-X warn_default_encoding", ("-X", "warn_default_encoding"), {}),
    ("-X dev -W error -bb", ("-X", "dev", "-W", "error", "-bb"), {}),
    ("PYTHONDEVMODE=1", (), {"PYTHONDEVMODE": "1", "PYTHONWARNDEFAULTENCODING": "1"}),
    (
        "-X dev -W error, HOME unset (the cache beside the seal)",
        ("-X", "dev", "-W", "error"),
        {"HOME": None},
    ),
]
PROGRAM = ("-c", "import sys; print('ok', len(sys.argv))")


def _start(
    g: Guarded, sealed: bool, options: tuple[str, ...], env: Mapping[str, str | None]
) -> tuple[int, str, str]:
    start = g.sealed if sealed else g.start
    proc = start(*options, *PROGRAM, env=dict(env))
    # the recipe's own startup code warns too (open() without an encoding), from its venv
    work = g.interp.inner_path(g.work)
    return proc.returncode, proc.stdout, proc.stderr.replace(work, "<work>")


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_guarded_start_prints_nothing_a_stock_start_does_not(
    interp: Interpreter, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    g = make_guarded(interp, tmp_path)
    stock = stock_template(interp, tmp_path_factory)
    compared = 0
    for number, (name, options, variables) in enumerate(CONFIGS):
        home = g.interp.tmp_dir(f"home-{number}-")
        env = {"HOME": g.interp.inner_path(home), **variables}
        expected = _start(stock, False, options, env)
        assert expected[:2] == (0, "ok 1\n"), (name, expected)
        for sealed in (False, True):
            # a change to site-packages (not to its startup files): the first start lists it,
            # checks it and writes the hash cache; the next one finds it in the cache
            (g.site_packages / f"loose_{number}_{int(sealed)}.py").write_text("LOOSE = 1\n")
            for state in ("first start after a change", "warm start"):
                got = _start(g, sealed, options, env)
                where = f"{name}, {'sealed launcher' if sealed else 'normal start'}, {state}"
                assert got == expected, where
                compared += 1
        if env["HOME"] is not None:
            assert any((home / ".cache" / "pthguard").iterdir()), name  # the cache was written
    assert compared == 4 * len(CONFIGS)
