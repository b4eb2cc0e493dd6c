"""CPython's own ``Lib/test/test_site.py`` as an external compatibility suite.

In a guarded venv with no violation present, ``test.test_site`` must give the same results as
in an identical unguarded venv (``tests.support.guard``'s templates: same recipe, same
wheels): the same failures (ideally none) and the same skips. pyenv builds ship the test
package; in the chroot it comes from ``libpython3.X-testsuite``. Interpreters without it skip.

Debian's ``site.getsitepackages()`` adds ``dist-packages`` directories, so
``test_getsitepackages`` fails on 3.14/3.15 in the stock venv too: the comparison, not an
absolute count, is the contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tests.support.guard import Guarded, guarded_template, stock_template
from tests.support.interpreters import Interpreter, interpreter_params

pytestmark = pytest.mark.slow
INTERPRETERS = interpreter_params()

# Runs test.test_site with unittest and writes what happened to the file named by argv[1]
# (the tests print to stdout themselves).
RUNNER = """
import json, sys, unittest
suite = unittest.defaultTestLoader.loadTestsFromName("test.test_site")
result = unittest.TestResult()
suite.run(result)
with open(sys.argv[1], "w") as out:
    json.dump({
        "run": result.testsRun,
        "failed": sorted(t.id() for t, _ in result.failures + result.errors),
        "skipped": sorted(t.id() for t, _ in result.skipped),
        "unexpected": sorted(t.id() for t in result.unexpectedSuccesses),
        "details": [text for _, text in result.failures + result.errors],
    }, out)
"""


def _has_test_site(interp: Interpreter) -> bool:
    code = "import sysconfig; print(sysconfig.get_path('stdlib'))"
    stdlib = interp.run(["-I", "-S", "-c", code], check=True).stdout.strip()
    return (interp.host_path(stdlib) / "test" / "test_site.py").is_file()


@dataclass(frozen=True)
class Outcome:
    run: int
    failed: list[str]
    skipped: list[str]
    unexpected: list[str]
    details: list[str]

    def counts(self) -> str:
        passed = self.run - len(self.failed) - len(self.skipped)
        return f"{passed} passed, {len(self.failed)} failed, {len(self.skipped)} skipped"


def _run_test_site(venv: Guarded, name: str) -> Outcome:
    where = venv.work / f"test_site-{name}"
    where.mkdir(exist_ok=True)  # test_site writes its TESTFN files into the cwd
    out = where / "result.json"
    proc = venv.start("-c", RUNNER, venv.interp.inner_path(out), cwd=where)
    assert proc.returncode == 0, proc.stderr
    assert not proc.stderr.startswith("pthguard:"), proc.stderr
    return Outcome(**json.loads(out.read_text()))


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_cpython_test_site_passes_in_a_guarded_venv(
    interp: Interpreter, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if not _has_test_site(interp):
        pytest.skip(f"{interp} has no test package (test/test_site.py)")
    stock = _run_test_site(stock_template(interp, tmp_path_factory), "stock")
    guarded = _run_test_site(guarded_template(interp, tmp_path_factory), "guarded")
    print(f"test_site on {interp.label}: stock {stock.counts()}; guarded {guarded.counts()}")
    assert stock.run >= 20  # the suite really ran
    assert guarded.failed == stock.failed, guarded.details
    assert guarded.skipped == stock.skipped
    assert guarded.run == stock.run
    assert guarded.unexpected == stock.unexpected
