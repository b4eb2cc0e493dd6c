"""What the import guard costs an import-heavy program, on real registry distributions.

Two identical venvs, A (bare) and B (guarded with ``pthguard protect``), each get the
hash-pinned distributions of ``benchmarks/imports-requirements.txt`` (about 40, from PyPI;
pip's cache makes the second install quick). The workload imports every one of them and
some of their submodules (well over a thousand modules). Runs alternate A B A B ...; the
report gives medians, min and max, and the guarded / bare ratio:

* warm import: the workload, every bytecode file in place;
* first import after install: the first run after ``pthguard uninstall`` and ``protect``
  installed the guard again (B) against A's next run, repeated;
* ``python -c pass``: the warm start of the same environment.

Usage: ``python benchmarks/imports.py [--python PY] [--runs N] [--out FILE]``; standard
library only; the venvs live in a temporary directory removed at the end. pthguard runs from
this tree with ``.venv-dev/bin/python`` (or ``--pthguard-python``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUIREMENTS = HERE / "imports-requirements.txt"
WORKLOAD = """
import requests, urllib3, idna, certifi, charset_normalizer, attrs, jinja2, markupsafe
import click, yaml, rich.console, rich.table, rich.progress, pygments.lexers.python
import markdown_it, mdurl, packaging.version, packaging.specifiers, pydantic, pydantic_core
import typing_extensions, annotated_types, sqlalchemy, sqlalchemy.orm, greenlet, httpx
import httpcore, h11, anyio, sniffio, six, dateutil.parser, pytz, tzdata, tomli
import jsonschema, jsonschema_specifications, referencing, rpds
import cryptography.x509, cryptography.hazmat.primitives.asymmetric.ed25519, cffi, pycparser
import numpy, setuptools
import sys
print(len(sys.modules))
"""


def _env() -> dict[str, str]:
    drop = ("PYTHON", "PIP_", "PTHGUARD_", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, env=env)


def _must(argv: list[str], env: dict[str, str] | None = None) -> str:
    proc = _run(argv, env)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def _time(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter_ns()
    proc = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False
    )
    elapsed = (time.perf_counter_ns() - t0) / 1e6
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {proc.stderr.decode()}")
    return elapsed


def _pairs(
    a: list[str], b: list[str], runs: int, env: dict[str, str]
) -> tuple[list[float], list[float]]:
    for _ in range(3):  # warm-up, discarded
        _time(a, env), _time(b, env)
    xs, ys = [], []
    for _ in range(runs):
        xs.append(_time(a, env))
        ys.append(_time(b, env))
    return xs, ys


def _row(label: str, xs: list[float], ys: list[float]) -> str:
    mx, my = statistics.median(xs), statistics.median(ys)
    return (
        f"| {label} | {mx:.1f} ms ({min(xs):.1f} .. {max(xs):.1f}) | "
        f"{my:.1f} ms ({min(ys):.1f} .. {max(ys):.1f}) | {my / mx:.3f}x | {len(xs)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", default="/root/.pyenv/versions/3.11.7/bin/python3")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--first-runs", type=int, default=8)
    parser.add_argument("--pthguard-python", default=str(ROOT / ".venv-dev" / "bin" / "python"))
    parser.add_argument("--out", default=str(HERE / "results-imports.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pthguard-bench-imports-", dir="/tmp"))
    env = _env()
    tool_env = dict(env, HOME=str(work / "home"), PYTHONPATH=str(ROOT))
    try:
        venvs = {}
        for name in ("a", "b"):
            venv = work / name
            _must([args.python, "-m", "venv", str(venv)])
            _must(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                 "--require-hashes", "--only-binary", ":all:", "-r", str(REQUIREMENTS)],
                env=env,
            )  # fmt: skip
            venvs[name] = str(venv / "bin" / "python")
        t0 = time.perf_counter()
        _must(
            [args.pthguard_python, "-m", "pthguard", "protect", "--python", venvs["b"], "--yes"],
            env=tool_env,
        )
        protect_s = time.perf_counter() - t0
        modules = _must([venvs["b"], "-c", WORKLOAD], env=env).strip()
        stock_modules = _must([venvs["a"], "-c", WORKLOAD], env=env).strip()
        files = sum(1 for _ in (work / "b").rglob("*.py"))
        rows = []
        a = [venvs["a"], "-c", WORKLOAD]
        b = [venvs["b"], "-c", WORKLOAD]
        rows.append(_row("warm import of the workload", *_pairs(a, b, args.runs, env)))
        rows.append(
            _row(
                "warm `python -c pass`",
                *_pairs([venvs["a"], "-c", "pass"], [venvs["b"], "-c", "pass"], args.runs, env),
            )
        )
        firsts_a, firsts_b = [], []
        for _ in range(args.first_runs):
            for step in (["uninstall"], ["protect", "--yes"]):  # a fresh install each time
                _must(
                    [args.pthguard_python, "-m", "pthguard", *step, "--python", venvs["b"]],
                    env=tool_env,
                )
            firsts_b.append(_time(b, env))
            firsts_a.append(_time(a, env))
        rows.append(_row("first import after `pthguard protect`", firsts_a, firsts_b))
        version = _must([args.python, "-c", "import sys; print(sys.version.split()[0])"])
        text = "\n".join(
            [
                "# Import guard benchmark",
                "",
                f"{time.strftime('%Y-%m-%d')}, {args.python} "
                f"({version.strip()}), "
                f"{os.cpu_count()} cores; {len(REQUIREMENTS.read_text().split('==')) - 1} "
                f"distributions, {files} .py files, the workload loads {modules} modules "
                f"(bare: {stock_modules}); `pthguard protect` took {protect_s:.1f} s "
                "(checking every module file and compiling the bytecode store).",
                "",
                "| case | bare (median, min .. max) | guarded | ratio | runs |",
                "|---|---:|---:|---:|---:|",
                *rows,
                "",
            ]
        )
        Path(args.out).write_text(text)
        sys.stdout.write(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
