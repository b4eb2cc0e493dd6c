"""What the write guard (the gate's audit hook) costs.

One venv guarded with ``pthguard protect`` (a throwaway local key), and an identical bare
venv. Each workload runs, alternated, in three ways:

* bare: the unguarded venv;
* guarded: a normal start of the guarded venv (gate, import guard and write guard);
* guarded, no write guard: the same start inside a ``pthguard change`` token, where the gate
  does everything else it does but does not arm the audit hook.

The write guard's own cost is guarded / no-write-guard. Workloads:

* ``python -c pass``: wall time of the process;
* import-heavy: 80 standard-library modules imported in a fresh process (each import raises
  several audit events), timed inside the process;
* file-heavy: 2,000 files created, written, read, renamed and removed in a temporary
  directory (each raises write events the hook must resolve), timed inside the process.

Usage: ``python benchmarks/writes.py [--python PY] [--runs N] [--out FILE]``; standard
library only; pthguard runs from this tree with ``.venv-dev/bin/python``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

IMPORTS = """
import time
t0 = time.perf_counter_ns()
import argparse, ast, asyncio, base64, bisect, calendar, collections, concurrent.futures
import configparser, contextlib, copy, csv, dataclasses, datetime, decimal, difflib, email
import email.mime.text, email.parser, enum, fnmatch, fractions, functools, getopt, gettext
import glob, gzip, hashlib, heapq, hmac, html, html.parser, http.client, http.cookies
import inspect, io, ipaddress, itertools, json, logging, logging.handlers, lzma, mimetypes
import numbers, operator, optparse, pathlib, pickle, pkgutil, platform, plistlib, pprint
import queue, random, re, secrets, selectors, shlex, shutil, signal, socket, sqlite3, ssl
import statistics, string, struct, subprocess, tarfile, tempfile, textwrap, threading
import tokenize, traceback, typing, unittest, urllib.parse, urllib.request, uuid, warnings, weakref
import xml.dom.minidom, xml.etree.ElementTree, zipfile, zlib
print(time.perf_counter_ns() - t0)
"""

FILES = """
import os, tempfile, time
d = tempfile.mkdtemp()
t0 = time.perf_counter_ns()
for i in range(2000):
    p = os.path.join(d, f"f{i}.txt")
    with open(p, "w") as f:
        f.write("x" * 100)
    with open(p) as f:
        f.read()
    os.rename(p, p + ".done")
    os.remove(p + ".done")
os.rmdir(d)
print(time.perf_counter_ns() - t0)
"""


def _env(**extra: str) -> dict[str, str]:
    drop = ("PYTHON", "PIP_", "PTHGUARD_", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return env


def _must(argv: list[str | Path], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [os.fspath(a) for a in argv], capture_output=True, text=True, check=False, env=env
    )
    if proc.returncode != 0:
        raise SystemExit(f"failed: {argv}\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def _wall(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter_ns()
    proc = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed: {proc.stderr.decode()}")
    return (time.perf_counter_ns() - t0) / 1e6


def _inside(argv: list[str], env: dict[str, str]) -> float:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0 or proc.stderr:
        raise SystemExit(f"{argv[:2]} failed: {proc.stderr}")
    return int(proc.stdout.split()[-1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", default="/root/.pyenv/versions/3.12.1/bin/python3")
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--out", type=Path, default=HERE / "results-writes.md")
    parser.add_argument("--pthguard-python", default=str(ROOT / ".venv-dev" / "bin" / "python"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pthguard-writes-"))
    try:
        table = _measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.write_text(table)
    print(table)


def _measure(args: argparse.Namespace, work: Path) -> str:
    bare, guarded = work / "bare", work / "guarded"
    for venv in (bare, guarded):
        _must([args.python, "-m", "venv", "--without-pip", venv])
    config = work / "config"
    tool_env = _env(PTHGUARD_CONFIG_DIR=str(config))
    _must(
        [
            args.pthguard_python,
            "-m",
            "pthguard",
            "protect",
            "--python",
            guarded / "bin/python",
            "--yes",
        ],
        tool_env,
    )
    (state,) = (guarded / "lib").glob("python3*/site-packages/.pthguard-*/install.json")
    token = secrets.token_hex(32)
    (state.parent / "change").write_text(f"{token}\n{{}}\n")
    plain = _env()
    unarmed = _env(PTHGUARD_CHANGE=token)
    workloads = [
        ("python -c pass", "pass", _wall),
        ("import-heavy (80 stdlib modules)", IMPORTS, _inside),
        ("file-heavy (2,000 files)", FILES, _inside),
    ]
    version = _must([args.python, "-c", "import sys; print(sys.version.split()[0])"]).strip()
    rows = [
        f"# The write guard's cost ({version}, {args.runs} alternated runs, medians in ms)",
        "",
        f"Command: `python benchmarks/writes.py --runs {args.runs}`. bare: an unguarded venv; "
        "guarded: a normal guarded start; no write guard: the same guarded start inside a "
        "`pthguard change` token (the gate does all else, without the audit hook).",
        "",
        "| workload | bare | guarded, no write guard | guarded | write guard alone | "
        "guarded / bare |",
        "|---|---|---|---|---|---|",
    ]
    for label, code, timer in workloads:
        variants = [
            ([str(bare / "bin/python"), "-c", code], plain),
            ([str(guarded / "bin/python"), "-c", code], unarmed),
            ([str(guarded / "bin/python"), "-c", code], plain),
        ]
        for argv, env in variants * 2:  # warm-up
            timer(argv, env)
        samples: list[list[float]] = [[], [], []]
        for _ in range(args.runs):
            for index, (argv, env) in enumerate(variants):
                samples[index].append(timer(argv, env))
        a, b, c = (statistics.median(s) for s in samples)
        rows.append(f"| {label} | {a:.2f} | {b:.2f} | {c:.2f} | {c / b:.3f}x | {c / a:.3f}x |")
    rows.append("")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    main()
