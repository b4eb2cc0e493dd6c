"""The sealed launcher (``python-guarded``) takes python's command line, on every interpreter
present: the same options with the same effect, the same programs, the same answers to
``-h``/``-V`` and to bad options, while the gate still runs before ``site.main()``.

Each case runs twice, as ``python ARGS`` in the stock venv and as ``python-guarded ARGS`` in
its guarded twin (``tests.support.guard``), and the two must print the same, exit the same
and run the venv's allowlisted ``.pth`` the same number of times. What may differ is named:
the program's name in usage lines (``python-guarded`` is not ``python``), the venv's path,
object addresses, and ``sys.flags.no_site`` (1 under the launcher: it runs ``site.main()``
itself).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.support.guard import (
    Guarded,
    assert_refused,
    guarded_template,
    line_with,
    make_guarded,
    marker_pth,
    stock_template,
)
from tests.support.interpreters import Interpreter, interpreter_params
from tests.support.wheelhouse import published_wheels

pytestmark = pytest.mark.slow
INTERPRETERS = interpreter_params()

#: What a program can see of the interpreter it runs in (the venv's prefix made neutral).
PROBE = """\
import json, sys, warnings
def f():
    "a docstring"
def n(p):
    return p.replace(sys.prefix, "<venv>") if isinstance(p, str) else p
main = vars(sys.modules["__main__"])
flags = [k for k in dir(sys.flags) if not k.startswith(("_", "n_")) and k not in ("count", "index")]
print(json.dumps({
    "argv": [n(a) for a in sys.argv],
    "path": [n(p) for p in sys.path],
    "flags": {k: getattr(sys.flags, k) for k in flags if k != "no_site"},
    "warnoptions": sys.warnoptions,
    "xoptions": {k: str(v) for k, v in sys._xoptions.items()},
    "filters": [[str(a), str(m), c.__name__, str(mod), n] for a, m, c, mod, n in warnings.filters],
    "dont_write_bytecode": sys.dont_write_bytecode,
    "write_through": sys.stdout.write_through,
    "debug": __debug__,
    "doc": f.__doc__,
    "main": sorted(set(main) - {"json", "sys", "warnings", "f", "n", "main", "flags"}),
    "file": n(main.get("__file__")),
    "loader": type(main.get("__loader__")).__name__,
    "name": __name__,
    "int_max_str_digits": sys.get_int_max_str_digits(),
}, sort_keys=True))
"""

#: Interpreter options, each followed by ``-c PROBE``: the same effect as with python.
OPTIONS: list[tuple[str, ...]] = [
    (),
    ("-u",),
    ("-B",),
    ("-O",),
    ("-OO",),
    ("-E",),
    ("-s",),
    ("-S",),
    ("-I",),
    ("-q",),
    ("-b",),
    ("-bb",),
    ("-R",),
    ("-W", "ignore"),
    ("-Wdefault",),
    ("-W", "error", "-W", "ignore::DeprecationWarning"),
    ("-X", "dev"),
    ("-Xutf8",),
    ("-X", "int_max_str_digits=1000"),
    ("-X", "tracemalloc"),
    ("-uB",),
    ("-uBOsq",),
    ("-uW", "ignore"),
    ("-uXdev",),
    ("--check-hash-based-pycs", "always"),
]
OPTIONS_311 = [("-P",), ("-uP",), ("-X", "frozen_modules=off")]

#: Command lines python refuses (exit 2) or answers and exits (-h, -V).
ANSWERS: list[tuple[str, ...]] = [
    ("-z",),
    ("-uz", "-c", "pass"),
    ("-W",),
    ("-u", "-X"),
    ("-c",),
    ("-m",),
    ("-J",),
    ("--foo",),
    ("--check-hash-based-pycs",),
    ("--check-hash-based-pycs", "sometimes", "-c", "pass"),
    ("-h",),
    ("-?",),
    ("--help",),
    ("-V",),
    ("-VV",),
    ("-uV",),
    ("--version",),
    ("-u", "-h", "-c", "pass"),
]
ANSWERS_BY_VERSION = {
    (3, 10): [("-P",), ("--help-env",)],  # unknown to 3.10
    (3, 11): [("--help-env",), ("--help-xoptions",), ("--help-all",)],
}


class Pair:
    """A stock venv and its guarded twin, both with the base recipe (read-only templates),
    and a working directory both interpreters see."""

    def __init__(self, interp: Interpreter, factory: pytest.TempPathFactory) -> None:
        self.interp = interp
        self.g = guarded_template(interp, factory)
        self.stock = stock_template(interp, factory)
        self.cwd = interp.visible_dir(factory.mktemp(f"launcher-cwd-{interp.label}"))

    def run(
        self,
        args: Sequence[str | Path],
        *,
        input: str | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> dict[str, tuple[int, str, str, int]]:
        """``(exit code, stdout, stderr, allowlisted .pth runs)`` of a stock start and a
        sealed launch, each with the differences that are named made neutral."""
        out = {}
        for label, venv, program in (
            ("stock", self.stock, self.stock.venv.python),
            ("sealed", self.g, self.interp.inner_path(self.g.launcher)),
        ):
            marker = venv.marker("goodpth")
            before = marker.count()
            proc = self.interp.run_program(
                [program, *args], input=input, env=env, cwd=self.cwd, timeout=120
            )
            # the program's name (usage lines, "can't open file"), sys.executable (runpy's
            # messages), the venv
            names = (program, venv.venv.python, self.interp.inner_path(venv.venv.root))

            def neutral(text: str, names: tuple[str, str, str] = names) -> str:
                for name, neutral_name in zip(names, ("PROGRAM", "PROGRAM", "<venv>"), strict=True):
                    text = text.replace(name, neutral_name)
                return re.sub(r" at 0x[0-9a-f]+", " at 0x...", text)

            out[label] = (
                proc.returncode,
                neutral(proc.stdout),
                neutral(proc.stderr),
                marker.count() - before,
            )
        return out

    def assert_same(
        self,
        args: Sequence[str | Path],
        *,
        input: str | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> tuple[int, str, str]:
        """The stock start and the sealed launch agree; returns what the stock one did."""
        runs = self.run(args, input=input, env=env)
        assert runs["sealed"] == runs["stock"], args
        code, stdout, stderr, _ = runs["stock"]
        return code, stdout, stderr


@pytest.fixture
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Pair:
    interp: Interpreter = request.getfixturevalue("interp")
    return Pair(interp, tmp_path_factory)


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_interpreter_options_take_effect_as_with_python(interp: Interpreter, pair: Pair) -> None:
    options = list(OPTIONS) + (OPTIONS_311 if interp.version >= (3, 11) else [])
    seen = set()
    for option in options:
        code, stdout, stderr = pair.assert_same([*option, "-c", PROBE, "arg"])
        assert (code, stderr) == (0, ""), option
        seen.add(stdout)
    assert len(seen) > len(options) // 2  # the options did change what the program saw
    # options that write to stderr (the imports, each different: the gate imports its own):
    # the same flags, and the same kind of trace
    for option, trace in [
        (("-v",), "# installing zipimport hook"),
        (("-Ximporttime",), "import time:"),
    ]:
        runs = pair.run([*option, "-c", PROBE])
        assert runs["sealed"][:2] == runs["stock"][:2], option
        assert trace in runs["stock"][2]
        assert trace in runs["sealed"][2]
    # PYTHON* variables: read without -E (no relaunch), ignored with -E and -I (relaunched)
    env = {"PYTHONINTMAXSTRDIGITS": "2000", "PYTHONDONTWRITEBYTECODE": "1"}
    results = [pair.assert_same([*option, "-c", PROBE], env=env) for option in [(), ("-E",)]]
    assert json.loads(results[0][1])["int_max_str_digits"] == 2000
    assert json.loads(results[1][1])["int_max_str_digits"] != 2000


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_programs_run_as_with_python(interp: Interpreter, pair: Pair) -> None:
    cwd = pair.cwd
    (cwd / "real").mkdir(exist_ok=True)
    (cwd / "real" / "probe.py").write_text(PROBE)
    (cwd / "link").mkdir(exist_ok=True)
    if not (cwd / "link" / "probe.py").is_symlink():
        (cwd / "link" / "probe.py").symlink_to("../real/probe.py")
    (cwd / "probe_mod.py").write_text(PROBE)
    (cwd / "app").mkdir(exist_ok=True)
    (cwd / "app" / "__main__.py").write_text(PROBE)
    (cwd / "empty").mkdir(exist_ok=True)
    (cwd / "skip.py").write_text("this line is not Python\n" + PROBE)
    (cwd / "fails.py").write_text("def boom():\n    raise KeyError('boom')\n\nboom()\n")
    indented = "\n    import sys\n    if sys:\n        print('''a\n      \nb''')\n"
    programs: list[tuple[str, ...]] = [
        ("-c", PROBE, "a", "-u"),
        ("-cimport sys; print(sys.argv)", "-c"),
        ("link/probe.py", "b"),
        ("real/probe.py",),
        ("--", "real/probe.py", "-u"),
        ("-m", "probe_mod", "c"),
        ("-mprobe_mod",),
        ("app", "d"),
        ("empty",),
        ("-x", "skip.py"),
        ("fails.py",),
        ("no-such-file.py",),
        ("-m", "no_such_module"),
        ("-c", "1/0"),
        ("-c", "1 +"),
        ("-c", "import sys; sys.exit(3)"),
        ("-c", "raise SystemExit('bye')"),
        ("-c", indented),
    ]
    for prefix in [(), ("-u",), ("-I",)]:
        for program in programs:
            pair.assert_same([*prefix, *program])
        for stdin in [(), ("-",), ("-", "e")]:
            pair.assert_same([*prefix, *stdin], input=PROBE)
            pair.assert_same([*prefix, *stdin], input="import sys\nprint(sys.argv)\n1/0\n")
    _, stdout, _ = pair.assert_same(["-c", PROBE])
    assert "__file__" not in json.loads(stdout)["main"]  # nothing of the launcher is left
    code, _, stderr = pair.assert_same(["fails.py"])
    assert code == 1
    assert "KeyError: 'boom'" in stderr


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_bad_options_help_and_version_answer_as_python(interp: Interpreter, pair: Pair) -> None:
    answers = list(ANSWERS)
    for version, more in ANSWERS_BY_VERSION.items():
        if interp.version == version or (version == (3, 11) and interp.version > version):
            answers += more
    for args in answers:
        code, stdout, stderr = pair.assert_same(args)
        if code == 2:
            assert "usage: PROGRAM [option]" in stderr, args
        else:
            assert code == 0, args
            assert stdout, args
    # the launcher's own marker is not an option a user can give
    code, _, stderr = pair.assert_same(["--pthguard-relaunched=", "-c", "pass"])
    assert code == 2
    assert "nknown option" in stderr  # "unknown option" up to 3.13, "Unknown option" after
    assert "--pthguard-relaunched=" in stderr


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_relaunch_keeps_the_gate_before_site(interp: Interpreter, tmp_path: Path) -> None:
    """With interpreter options, the launcher starts the interpreter again; a ``.pth`` that
    sorts before the gate is still checked before any of its lines runs (never EXECUTED)."""
    g = make_guarded(interp, tmp_path)
    marker = g.marker("early")
    (g.site_packages / "!!!early.pth").write_bytes(marker_pth(marker))
    for options in [(), ("-u",), ("-u", "-X", "dev", "-W", "error"), ("-I",), ("-OO", "-B")]:
        proc = g.sealed(*options, "-c", "print('ran')")
        lines = assert_refused(proc, "!!!early.pth")
        assert "NOT executed" in line_with(lines, "startup file", "/!!!early.pth ("), options
        assert proc.stdout == ""
    assert marker.count() == 0
    # with -S nothing of site runs, as with python -S: no startup code, nothing to check
    proc = g.sealed("-S", "-c", "import sys; print(len(sys.path))")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert marker.count() == 0


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_pytest_under_the_launcher_with_options(interp: Interpreter, tmp_path: Path) -> None:
    """``python-guarded -u -X dev -W ignore -m pytest``: a small real test suite, with pytest
    installed by pip into the guarded venv and signed with it."""
    g = make_guarded(interp, tmp_path)
    g.pip_install("--find-links", published_wheels(interp, "pytest"), "pytest")
    g.install(g.manifest())
    project = g.work / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_flags.py").write_text(
        "import sys, warnings\n"
        "def test_options_took_effect():\n"
        "    assert sys.flags.dev_mode\n"
        "    assert sys.warnoptions[-1] == 'ignore'  # after -X dev's 'default'\n"
        "    assert sys.__stdout__.write_through\n"
        "def test_startup_code_ran_after_its_check():\n"
        "    import extra_mod  # on sys.path by the allowlisted goodpth.pth\n"
        "    assert extra_mod.EXTRA == 1\n"
        "def test_warnings_are_ignored():\n"
        "    warnings.warn('ignored', DeprecationWarning)\n"
    )
    args = ("-u", "-X", "dev", "-W", "ignore", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    proc = g.sealed(*args, "tests", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    assert proc.stderr == ""
    # a failing test fails the run as with python
    (project / "tests" / "test_fails.py").write_text("def test_fails():\n    assert 1 == 2\n")
    proc = g.sealed(*args, "tests", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 3 passed" in proc.stdout


def _status_launcher(g: Guarded) -> str:
    proc = g.pthguard("status", "--python", g.venv.python, "--format", "json")
    launcher: str = json.loads(proc.stdout)["launcher"]
    return launcher


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_status_names_the_launcher_the_tests_run(
    interp: Interpreter, tmp_path_factory: pytest.TempPathFactory
) -> None:
    g = guarded_template(interp, tmp_path_factory)
    assert g.interp.inner_path(g.launcher) == _status_launcher(g)
    proc = subprocess.run(["head", "-1", g.launcher], capture_output=True, text=True, check=True)
    assert proc.stdout == f"#!{g.venv.python} -S\n"


@pytest.mark.parametrize("mode", ["enforce", "warn"])
@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_compiled_body_that_cannot_load(interp: Interpreter, mode: str, tmp_path: Path) -> None:
    """The launcher script runs its body compiled at install. Gone or unreadable: enforce
    refuses; warn says so and runs the plain interpreter with the same arguments."""
    g = make_guarded(interp, tmp_path, install_args=("--mode", mode))
    (body,) = g.state_dir().glob("launcher.*.bin")
    body.unlink()
    proc = g.sealed("-u", "-c", "import sys; print('ran', sys.argv)", "x")
    status = f"run `pthguard status --python {g.venv.python}`"
    if mode == "enforce":
        assert_refused(proc, "the sealed launcher cannot load its compiled body", status)
        assert proc.stdout == ""
    else:
        assert (proc.returncode, proc.stdout) == (0, "ran ['-c', 'x']\n"), proc.stderr
        assert proc.stderr.startswith(
            "pthguard: warning: the sealed launcher cannot load its compiled body"
        )
        assert status in proc.stderr


@pytest.mark.parametrize("mode", ["enforce", "warn"])
@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_gate_that_cannot_load(interp: Interpreter, mode: str, tmp_path: Path) -> None:
    """Enforce: refused; warn: a warning and site runs unchecked. Either way the message
    names the command that shows what is wrong, for this environment."""
    g = make_guarded(interp, tmp_path, install_args=("--mode", mode))
    g.launcher  # noqa: B018 (where it is: asked while the installation is whole)
    for pattern in ("gate.*.bin", "gate-sealed.*.bin"):  # the gate's and the launcher's
        (gate_bin,) = g.state_dir().glob(pattern)
        gate_bin.unlink()
    status = f"run `pthguard status --python {g.venv.python}`"
    proc = g.sealed("-u", "-c", "print('ran')")
    if mode == "enforce":
        assert_refused(proc, "the startup gate cannot load", status)
        assert proc.stdout == ""
    else:
        assert (proc.returncode, proc.stdout) == (0, "ran\n"), proc.stderr
        assert proc.stderr.startswith("pthguard: warning: the startup gate cannot load")
        assert status in proc.stderr
    # what the message says to run: it shows the same trouble (a normal start loads the gate
    # from the same directory)
    proc = g.pthguard("status", "--python", g.venv.python)
    assert proc.returncode == (1 if mode == "enforce" else 0), proc.stderr
    assert "cannot load" in proc.stdout
