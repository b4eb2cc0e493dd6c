"""Startup cost of the pthguard gate: a bare venv (A) against an identical guarded one (B).

Standard library only; the timer is :func:`time.perf_counter_ns` around ``posix_spawn`` +
``waitpid`` of ``VENV/bin/python -c pass`` (whole-process wall time, output to /dev/null).

For each size N this builds two identical venvs (``python -m venv --without-pip``), installs
N synthetic wheels (20 of them carry a small ``.pth``: path lines, a few ``import`` lines)
and one real wheel from PyPI (cached in ``benchmarks/.cache``) with the interpreter's own
bundled pip, guards B (``pthguard keygen/snapshot/sign/install``, run from a copy of the
source taken at start, so the whole run measures one version), checks that both start
cleanly and that B's gate really runs, then times A and B alternately (ABAB...). Blocks of
pairs measured while other processes competed for the CPUs are re-run (within a budget).
See ``benchmarks/README.md`` for what each case measures and how to read the numbers.

    python benchmarks/startup.py                       # defaults: about 4-8 minutes
    python benchmarks/startup.py --quick               # about 1-2 minutes
    python benchmarks/startup.py --sizes 10,300 --runs 100 --out /tmp/r.md
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import gc
import hashlib
import io
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3"
DEFAULT_PTHGUARD_PYTHON = REPO / ".venv-dev" / "bin" / "python"
DEFAULT_PTHGUARD_SRC = REPO / "pthguard"
CACHE = HERE / ".cache"
REAL_DIST = "six==1.17.0"  # small, pure, one module: the "real distribution" of every venv
PTH_FILES = 20
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
SITE_CHANGE_DIR = "bench-allowed-change.d"
BLOCK = 10  # A/B pairs per block; a block measured on a busy machine is re-run
IDLE_BUSY = 0.15  # share of all CPUs busy below which the machine counts as idle
OTHERS_MARGIN = 0.15  # CPU share above the harness's own one CPU that marks a block busy
T = TypeVar("T")


class BenchError(Exception):
    """The benchmark cannot run as asked (a failed step, a guard that does not run)."""


# -- environment -----------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without PYTHON*, PIP_*, PTHGUARD_* and VIRTUAL_ENV."""
    drop = ("PYTHON", "PIP_", "PTHGUARD_", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return env


def run(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a helper command; its combined output, or BenchError when it fails."""
    done = subprocess.run(
        list(argv),
        env=env if env is not None else clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(
            f"{shlex.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}".strip()
        )
    return done.stdout + done.stderr


# -- synthetic wheels ------------------------------------------------------------------------


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pth_owner(index: int, size: int) -> int:
    """The distribution that carries ``.pth`` number ``index`` (spread evenly)."""
    return index * size // PTH_FILES


def pth_body(index: int, dist: str) -> bytes:
    """A small legitimate ``.pth``: a comment, a path line, every 4th an import line."""
    lines = [f"# pthguard benchmark .pth {index:02d}", f"{dist}_lib{index:02d}"]
    if index % 4 == 0:
        lines.append("import sys" if index % 8 == 0 else "import os")
    return ("\n".join(lines) + "\n").encode()


def build_wheel(out_dir: Path, number: int, size: int) -> Path:
    """``benchdistNNNN-1.0-py3-none-any.whl`` with a correct RECORD (sha256, sizes)."""
    dist = f"benchdist{number:04d}"
    version = "1.0"
    info = f"{dist}-{version}.dist-info"
    files: dict[str, bytes] = {
        f"{dist}/__init__.py": (
            f'"""Synthetic distribution {number} for pthguard benchmarks."""\n\nVALUE = {number}\n'
        ).encode(),
        f"{dist}/core.py": f"def value() -> int:\n    return {number}\n".encode(),
    }
    for index in range(PTH_FILES):
        if pth_owner(index, size) == number:
            files[f"{dist}-{index:02d}.pth"] = pth_body(index, dist)
            files[f"{dist}_lib{index:02d}/bench_extra{index:02d}.py"] = b"EXTRA = True\n"
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
        "Summary: synthetic distribution for pthguard's startup benchmark\n"
    ).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: pthguard benchmarks/startup.py\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in files.items():
        writer.writerow([path, record_hash(data), str(len(data))])
    writer.writerow([f"{info}/RECORD", "", ""])
    files[f"{info}/RECORD"] = record.getvalue().encode()
    wheel = out_dir / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():  # RECORD last
            entry = zipfile.ZipInfo(path, date_time=ZIP_DATE)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(entry, data)
    return wheel


# -- interpreters, venvs, the guard ----------------------------------------------------------


@dataclass(frozen=True)
class Tools:
    python: str  # the interpreter under test
    pip_wheel: Path  # its bundled pip; ``VENVPY <wheel>/pip ...`` runs pip from the wheel
    real_wheel: Path
    workdir: Path
    pthguard: list[str]  # [python, "-m", "pthguard"], run on a copy of the source
    pthguard_env: dict[str, str]
    private_key: Path
    public_key: Path

    @property
    def cache_home(self) -> Path:
        return self.workdir / "xdg-cache"


def bundled_pip(python: str) -> Path:
    out = run(
        [
            python,
            "-S",
            "-I",
            "-c",
            "import ensurepip, os; print(os.path.dirname(ensurepip.__file__))",
        ]
    )
    wheels = sorted((Path(out.strip()) / "_bundled").glob("pip-*.whl"))
    if not wheels:
        raise BenchError(f"{python} has no bundled pip wheel in ensurepip/_bundled")
    return wheels[-1]


def real_wheel(python: str, pip_wheel: Path) -> Path:
    """The real distribution's wheel, downloaded once into benchmarks/.cache."""
    name, _, version = REAL_DIST.partition("==")
    found = sorted(CACHE.glob(f"{name}-{version}-*.whl"))
    if not found:
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"downloading {REAL_DIST} into {CACHE}", file=sys.stderr)
        run(
            [
                python, f"{pip_wheel}/pip", "download", "--isolated", "--no-deps",
                "--only-binary=:all:", "--disable-pip-version-check", "-q", "-d", str(CACHE),
                REAL_DIST,
            ]
        )  # fmt: skip
        found = sorted(CACHE.glob(f"{name}-{version}-*.whl"))
    if not found:
        raise BenchError(f"pip download {REAL_DIST} left no wheel in {CACHE}")
    return found[-1]


def source_digest(package: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def frozen_pthguard(python: str, src: Path, workdir: Path) -> tuple[list[str], dict[str, str]]:
    """Copy the pthguard package (it is edited while benchmarks run) and return the command
    and environment that run the copy with ``python`` (which has its dependencies)."""
    if not (src / "__init__.py").is_file():
        raise BenchError(f"{src} is not the pthguard package")
    root = workdir / "pthguard-src"
    shutil.copytree(src, root / "pthguard", ignore=shutil.ignore_patterns("__pycache__"))
    env = clean_env(
        PYTHONPATH=str(root),
        PYTHONDONTWRITEBYTECODE="1",
        XDG_CACHE_HOME=str(workdir / "xdg-cache"),  # verify --deep's cache: not in $HOME
    )
    where = run(
        [python, "-c", "import pthguard; print(pthguard.__file__)"], env=env, cwd=root
    ).strip()
    if Path(where).parent != root / "pthguard":
        raise BenchError(f"{python} imports pthguard from {where}, not from the copy in {root}")
    # the copy's bytecode, once: the commands run with PYTHONDONTWRITEBYTECODE, and without
    # it every timed pthguard command would compile its sources again
    run([python, "-m", "compileall", "-q", str(root / "pthguard")], env=clean_env())
    return [python, "-m", "pthguard"], env


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise BenchError(f"cannot find the site-packages of {venv}")
    return found[0]


def make_venv(tools: Tools, venv: Path, wheels: list[Path]) -> None:
    run([tools.python, "-m", "venv", "--without-pip", str(venv)])
    run(
        [
            str(venv / "bin" / "python"), f"{tools.pip_wheel}/pip", "install", "--isolated",
            "--no-index", "--no-deps", "--disable-pip-version-check", "--no-warn-script-location",
            "-q", *map(str, wheels), str(tools.real_wheel),
        ]
    )  # fmt: skip


def pthguard(tools: Tools, *args: str) -> str:
    # cwd: not this repository, whose pthguard/ would shadow the copy (sys.path[0] is cwd)
    return run([*tools.pthguard, *args], env=tools.pthguard_env, cwd=tools.workdir)


def snapshot(tools: Tools, python: str, manifest: Path) -> None:
    """``pthguard snapshot``, approving the synthetic startup code its review lists (the
    ``import sys`` lines of the benchmark's own .pth files), as a person does after reading
    it. An older pthguard without the review (exit 2 for ``--format``) snapshots as it is."""
    args = ["snapshot", "--python", python, "-o", str(manifest)]
    done = subprocess.run(
        [*tools.pthguard, *args, "--format", "json"],
        env=tools.pthguard_env,
        cwd=tools.workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return
    if done.returncode == 2:
        pthguard(tools, *args)
        return
    if done.returncode != 1:
        raise BenchError(f"snapshot exited {done.returncode}:\n{done.stdout}{done.stderr}")
    approvals = [
        arg
        for item in json.loads(done.stdout)["reviews"]
        if item["verdict"] == "needs-approval"
        for arg in ("--approve", item["approve_with"])
    ]
    pthguard(tools, *args, *approvals)


def guard(tools: Tools, venv: Path) -> Path:
    """snapshot, sign, install: the guard of ``venv``; returns the signed manifest."""
    manifest = venv.parent / f"{venv.name}.manifest.json"
    snapshot(tools, str(venv / "bin" / "python"), manifest)
    pthguard(tools, "sign", str(manifest), "--key", str(tools.private_key))
    install(tools, venv, manifest)
    return manifest


def install(tools: Tools, venv: Path, manifest: Path) -> None:
    python = str(venv / "bin" / "python")
    trust = str(tools.public_key)
    pthguard(tools, "install", "--python", python, "--manifest", str(manifest), "--trust", trust)


def uninstall(tools: Tools, venv: Path) -> None:
    pthguard(tools, "uninstall", "--python", str(venv / "bin" / "python"))


# -- a shared, noisy machine -----------------------------------------------------------------


def cpu_sample() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat; (0, 0) where there is none."""
    try:
        first = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0]
    except OSError:
        return 0, 0
    values = [int(v) for v in first.split()[1:9]]  # user nice system idle iowait irq softirq steal
    total = sum(values)
    return total - values[3] - values[4], total


@dataclass
class Quiet:
    """Keeps measurements taken while this harness had the CPUs (nearly) to itself.

    The harness keeps one CPU busy (a start runs while the parent waits). A block whose CPU
    busy share exceeds that by ``OTHERS_MARGIN`` ran beside other work: it is thrown away,
    the harness waits for an idle second, and the block runs again, until ``budget`` seconds
    were lost that way; after that every block is kept (and counted as busy).
    """

    budget: float
    lost: float = 0.0
    discarded: int = 0
    kept_busy: int = 0
    busy: int = 0
    total: int = 0
    threshold: float = field(
        default_factory=lambda: min(1.0, 1 / (os.cpu_count() or 1) + OTHERS_MARGIN)
    )

    def exhausted(self) -> bool:
        return self.lost >= self.budget

    def settle(self) -> None:
        """Wait, at most what is left of the budget, for one idle second."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < self.budget - self.lost:
            before = cpu_sample()
            time.sleep(1.0)
            after = cpu_sample()
            if after[1] == before[1] or (after[0] - before[0]) / (after[1] - before[1]) < IDLE_BUSY:
                break
        self.lost += time.monotonic() - t0

    def block(self, measure: Callable[[], T], count: int, *, may_discard: bool = True) -> T | None:
        """Run ``measure`` (``count`` measurements); None when it must be run again."""
        t0 = time.monotonic()
        before = cpu_sample()
        result = measure()
        after = cpu_sample()
        busy, total = after[0] - before[0], after[1] - before[1]
        if total > 0 and busy / total > self.threshold:
            if may_discard and not self.exhausted():
                self.lost += time.monotonic() - t0
                self.discarded += count
                self.settle()
                return None
            self.kept_busy += count
        self.busy += busy
        self.total += total
        return result

    def share(self) -> float | None:
        return self.busy / self.total if self.total else None

    def note(self) -> str:
        parts = []
        if self.discarded:
            parts.append(f"{self.discarded} measured beside other load, discarded and re-run")
        if self.kept_busy:
            parts.append(f"{self.kept_busy} kept although other load ran (budget used up)")
        return "; ".join(parts)


# -- timing ----------------------------------------------------------------------------------

_NULL_IO = [
    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
]


def start_ns(argv: list[str], env: dict[str, str]) -> int:
    """Wall time of one whole process, spawn to reaped; it must exit 0."""
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=_NULL_IO)
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter_ns() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        again = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        raise BenchError(
            f"{shlex.join(argv)} exited {code} during a timed run; "
            f"once more: exit {again.returncode}, {again.stderr.strip()!r}"
        )
    return elapsed


def alternate(
    a: list[str],
    b: list[str],
    *,
    pairs: int,
    warmup: int,
    quiet: Quiet,
    env: dict[str, str],
    before: Callable[[str], None] | None = None,
) -> tuple[list[int], list[int]]:
    """A, B, A, B...: ``warmup`` pairs discarded, then ``pairs`` pairs kept, in blocks."""

    def one_pair() -> tuple[int, int]:
        if before is not None:
            before("A")
        ta = start_ns(a, env)
        if before is not None:
            before("B")
        return ta, start_ns(b, env)

    def one_block(count: int) -> list[tuple[int, int]]:
        return [one_pair() for _ in range(count)]

    times_a: list[int] = []
    times_b: list[int] = []
    gc.disable()
    try:
        quiet.settle()
        one_block(warmup)
        while len(times_a) < pairs:
            count = min(BLOCK, pairs - len(times_a))
            kept = quiet.block(lambda: one_block(count), count)  # noqa: B023 (called at once)
            for ta, tb in kept or ():
                times_a.append(ta)
                times_b.append(tb)
    finally:
        gc.enable()
    return times_a, times_b


def start_env(cache_home: Path, **extra: str) -> dict[str, str]:
    """The environment of every timed start: no PYTHON*, and pthguard's per-user hash cache
    (``$XDG_CACHE_HOME/pthguard``) in the run's temp directory, not in the caller's home."""
    return clean_env(XDG_CACHE_HOME=str(cache_home), **extra)


def debug_line(argv: list[str], env: dict[str, str]) -> str:
    """stderr of one start with ``PTHGUARD_DEBUG=timing`` (the gate's own breakdown)."""
    done = subprocess.run(
        argv, env={**env, "PTHGUARD_DEBUG": "timing"}, capture_output=True, text=True, check=False
    )
    text = " / ".join(done.stderr.strip().splitlines())
    return text if done.returncode == 0 else f"exit {done.returncode}: {text}"


def check_start(python: str, env: dict[str, str], *, guarded: bool) -> str:
    """One start with output captured: it must exit 0 and stay silent; B's gate must run."""
    argv = [python, "-c", "pass"]
    line = debug_line(argv, env)  # first: right after install, this is the first start
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 or done.stderr:
        raise BenchError(f"{shlex.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    if guarded and not line.startswith("pthguard: gate"):
        raise BenchError(f"the gate of {python} did not run: {line!r}")
    if not guarded and line:
        raise BenchError(f"the bare venv {python} printed {line!r}")
    return line


def state_files(site: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of everything pthguard keeps in ``site``: did a start write there?"""
    out: dict[str, tuple[int, int]] = {}
    for state in site.glob(".pthguard-*"):
        for path in [state, *state.rglob("*")]:
            st = path.stat()
            out[str(path)] = (st.st_size, st.st_mtime_ns)
    return out


# -- results ---------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    size: str
    bare: list[int] | None = None
    guarded: list[int] | None = None
    note: str = ""
    quiet: Quiet | None = None


def ms(ns: float) -> str:
    return f"{ns / 1e6:.2f} ms"


def span(values: list[int]) -> str:
    return f"{min(values) / 1e6:.2f} .. {max(values) / 1e6:.2f} ms"


def median(values: list[int]) -> float:
    return float(statistics.median(values))


def slope(xs: list[int], ys: list[float]) -> float:
    """Least-squares slope of ys over xs."""
    mx = statistics.fmean(xs)
    my = statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


def table_row(row: Row) -> str:
    if row.bare is None or row.guarded is None:
        return f"| {row.case} | {row.size} | n/a | n/a | n/a | n/a | n/a | | {row.note} |"
    mb, mg = median(row.bare), median(row.guarded)
    share = None if row.quiet is None else row.quiet.share()
    busy = "" if share is None else f"{share:.0%}"
    notes = [row.note or f"{len(row.bare)} runs each"]
    if row.quiet is not None and row.quiet.note():
        notes.append(row.quiet.note())
    return (
        f"| {row.case} | {row.size} | {ms(mb)} | {ms(mg)} | {mg / mb:.2f}x "
        f"| {span(row.bare)} | {span(row.guarded)} | {busy} | {'; '.join(notes)} |"
    )


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown"
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])
    except OSError:
        return "unknown"


# -- the benchmark ---------------------------------------------------------------------------


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    warm: dict[int, tuple[float, float]] = field(default_factory=dict)  # bare, guarded medians
    timing: list[tuple[int, str, str]] = field(default_factory=list)  # N, which start, stderr
    extra: list[str] = field(default_factory=list)
    wait_left: float = 0.0  # seconds the rest of the run may still lose to other load

    def quiet(self) -> Quiet:
        return Quiet(budget=max(0.0, self.wait_left))

    def spent(self, quiet: Quiet) -> None:
        self.wait_left -= quiet.lost


def build_pair(tools: Tools, size: int) -> tuple[Path, Path, float]:
    root = tools.workdir / f"n{size:04d}"
    wheels_dir = root / "wheels"
    wheels_dir.mkdir(parents=True)
    t0 = time.perf_counter()
    wheels = [build_wheel(wheels_dir, i, size) for i in range(size)]
    venv_a, venv_b = root / "venv-a", root / "venv-b"
    make_venv(tools, venv_a, wheels)
    make_venv(tools, venv_b, wheels)
    return venv_a, venv_b, time.perf_counter() - t0


def allowed_change(*sites: Path) -> None:
    """An allowed change of a site directory: its mtime and ctime move, its entries do not."""
    for site in sites:
        extra = site / SITE_CHANGE_DIR
        extra.mkdir()
        extra.rmdir()


def touch_site(site_a: Path, site_b: Path) -> Callable[[str], None]:
    """Before each start: an allowed change of that venv's site directory."""

    def before(which: str) -> None:
        allowed_change(site_a if which == "A" else site_b)

    return before


def settle_cache(argv: list[str], env: dict[str, str]) -> None:
    """After a change: let the clock pass the cache's racily-clean margin, then start a few
    times so that the gate re-checks once and records the result in its cache."""
    time.sleep(0.1)
    for _ in range(3):
        start_ns(argv, env)
        time.sleep(0.05)


def set_immutable(paths: list[Path], on: bool) -> str:
    """``chattr +i``/``-i``: read-only even for root. An error message, or empty."""
    if not paths:
        return "nothing to make read-only"
    done = subprocess.run(
        ["chattr", "+i" if on else "-i", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stderr.strip() if done.returncode != 0 else ""


def cache_listing(cache_home: Path) -> str:
    files = sorted(p for p in cache_home.rglob("*") if p.is_file())
    if not files:
        return "no cache file"
    return ", ".join(f"{p.relative_to(cache_home)} ({p.stat().st_size} B)" for p in files)


def cold_starts(
    tools: Tools, venv_a: Path, venv_b: Path, manifest: Path, *, reps: int, quiet: Quiet
) -> tuple[list[int], list[int], list[float]]:
    """uninstall + install, then the first start of B, then a start of A; ``reps`` times."""
    env = start_env(tools.cache_home)
    a = [str(venv_a / "bin" / "python"), "-c", "pass"]
    b = [str(venv_b / "bin" / "python"), "-c", "pass"]
    times_a: list[int] = []
    times_b: list[int] = []
    installs: list[float] = []
    quiet.settle()
    while len(times_b) < reps:
        uninstall(tools, venv_b)
        t0 = time.perf_counter()
        install(tools, venv_b, manifest)
        installs.append(time.perf_counter() - t0)
        kept = quiet.block(lambda: (start_ns(b, env), start_ns(a, env)), 1)
        if kept is not None:
            times_b.append(kept[0])
            times_a.append(kept[1])
    return times_a, times_b, installs


def record_files(site: Path) -> list[tuple[str, str]]:
    """(absolute path, sha256 hex) of every hashed RECORD row in ``site``."""
    out: list[tuple[str, str]] = []
    for record in sorted(site.glob("*.dist-info/RECORD")):
        with record.open(newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                if len(row) < 2 or not row[1].startswith("sha256="):
                    continue
                b64 = row[1].removeprefix("sha256=")
                digest = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
                out.append((os.path.normpath(site / row[0]), digest))
    return out


def timed(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    reps: int,
    quiet: Quiet,
    *,
    before: Callable[[], None] | None = None,
) -> tuple[list[int], int]:
    """Wall times of ``reps`` runs of a helper command (output captured), last exit code."""
    times: list[int] = []
    codes: list[int] = []

    def once() -> None:
        t0 = time.perf_counter_ns()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter_ns() - t0)
        codes.append(done.returncode)

    for _ in range(reps):
        if before is not None:
            before()
        quiet.settle()
        quiet.block(once, 1, may_discard=False)  # verify uses threads: its own load is > 1 CPU
    return times, codes[-1]


def deep_verify(
    tools: Tools, venv_b: Path, reps: int, size: int, quiet: Quiet
) -> tuple[list[Row], list[str]]:
    """``pthguard verify --deep`` (without and with its hash cache) against sha256sum."""
    site = site_packages(venv_b)
    files = record_files(site)
    check = tools.workdir / f"n{size:04d}" / "record.sha256"
    check.write_text("".join(f"{digest}  {path}\n" for path, digest in files), encoding="utf-8")
    total = sum(os.path.getsize(path) for path, _ in files)
    cwd = tools.workdir  # not this repository: its pthguard/ would shadow the copy
    env = tools.pthguard_env
    deep_cache = Path(tools.pthguard_env["XDG_CACHE_HOME"]) / "pthguard"

    def drop_deep_cache() -> None:
        for path in deep_cache.glob("deep-*.cache"):
            path.unlink()

    sha = ["sha256sum", "--check", "--quiet", str(check)]
    base, code_sum = timed(sha, clean_env(), cwd, reps, quiet)
    verify = [*tools.pthguard, "verify", "--python", str(venv_b / "bin" / "python")]
    cold, code_cold = timed([*verify, "--deep"], env, cwd, reps, quiet, before=drop_deep_cache)
    time.sleep(0.1)  # past the racily-clean margin of the cache the last run wrote
    warm, code_warm = timed([*verify, "--deep"], env, cwd, reps, quiet)
    shallow, code_shallow = timed(verify, env, cwd, reps, quiet)
    notes = [
        f"`pthguard verify --deep` against `sha256sum --check` over the {len(files)} hashed "
        f"RECORD rows ({total / 1024:.0f} KiB) of the N={size} guarded venv, {reps} runs each, "
        "each after an idle second; exit codes: "
        f"sha256sum {code_sum}, verify --deep {code_cold} (no cache) / {code_warm} (cached), "
        f"verify {code_shallow}. `pthguard verify` without `--deep` (signature, scan, compare, "
        f"no per-file hashing): median {ms(median(shallow))} ({span(shallow)}).",
    ]
    what = f"{size} ({len(files)} files)"
    rows = [
        Row(
            "`pthguard verify --deep`, hash cache removed before each run (guarded column) "
            "vs `sha256sum --check` (bare column)",
            what,
            base,
            cold,
            f"{reps} runs each",
            quiet,
        ),
        Row(
            "`pthguard verify --deep`, its hash cache in place (guarded column) "
            "vs `sha256sum --check` (bare column)",
            what,
            base,
            warm,
            f"{reps} runs each; same sha256sum runs",
            quiet,
        ),
    ]
    return rows, notes


def nearest(sizes: list[int], want: int) -> int:
    return min(sizes, key=lambda s: (abs(s - want), s))


def benchmark(args: argparse.Namespace, tools: Tools) -> Report:
    report = Report(wait_left=args.max_wait)
    for size in args.sizes:
        one_size(args, tools, size, report)
    return report


def one_size(args: argparse.Namespace, tools: Tools, size: int, report: Report) -> None:
    """Build, guard and time the venv pair of one size (plus the detail cases)."""
    print(f"N={size}: building two venvs", file=sys.stderr)
    shutil.rmtree(tools.cache_home, ignore_errors=True)  # each size starts without a cache
    venv_a, venv_b, build_s = build_pair(tools, size)
    t0 = time.perf_counter()
    manifest = guard(tools, venv_b)
    guard_s = time.perf_counter() - t0
    env = start_env(tools.cache_home)
    py_a, py_b = str(venv_a / "bin" / "python"), str(venv_b / "bin" / "python")
    a = [py_a, "-c", "pass"]
    b = [py_b, "-c", "pass"]
    (launcher,) = (venv_b / "lib").glob("python3*/site-packages/.pthguard-*/python-guarded")
    sealed = [str(launcher), "-c", "pass"]
    check_start(py_a, env, guarded=False)
    report.timing.append((size, "first start after install", check_start(py_b, env, guarded=True)))
    report.timing.append((size, "warm start", debug_line(b, env)))
    report.timing.append((size, "sealed launcher, warm", debug_line(sealed, env)))
    report.extra.append(
        f"N={size}: wheels + two venvs built in {build_s:.1f} s; "
        f"snapshot + sign + install in {guard_s:.1f} s."
    )
    site_a, site_b = site_packages(venv_a), site_packages(venv_b)
    before_state = state_files(site_b)

    def case(
        name: str,
        argv_b: list[str],
        note: str = "",
        *,
        env: dict[str, str] = env,
        before: Callable[[str], None] | None = None,
    ) -> None:
        print(f"N={size}: {name}", file=sys.stderr)
        quiet = report.quiet()
        times_a, times_b = alternate(
            a, argv_b, pairs=args.runs, warmup=args.warmup, quiet=quiet, env=env, before=before
        )
        report.spent(quiet)
        report.rows.append(Row(name, str(size), times_a, times_b, note, quiet))

    case("warm start, nothing changed", b)
    report.warm[size] = (median(report.rows[-1].bare or []), median(report.rows[-1].guarded or []))
    detail = size == nearest(args.sizes, 300)
    if detail:
        detail_cases(
            args, tools, report, size=size, case=case, sites=(site_a, site_b), starts=(b, sealed)
        )
    after_state = state_files(site_b)
    written = sorted(p for p in after_state if before_state.get(p) != after_state[p])
    report.extra.append(
        f"N={size}: pthguard's state directory "
        + (
            "was unchanged by the timed starts."
            if not written
            else f"CHANGED during the timed starts: {', '.join(written)}"
        )
        + f" Its hash cache now: {cache_listing(tools.cache_home)}."
    )
    if detail:
        print(f"N={size}: first starts after {args.cold} fresh installs", file=sys.stderr)
        quiet = report.quiet()
        times_a, times_b, installs = cold_starts(
            tools, venv_a, venv_b, manifest, reps=args.cold, quiet=quiet
        )
        report.spent(quiet)
        report.rows.append(
            Row(
                "first start after `pthguard install` (cold)",
                str(size),
                times_a,
                times_b,
                f"{len(times_b)} fresh installs (uninstall + install); guarded = first start "
                "after each; bare = the start of A right after it; page cache not dropped; "
                f"install median {statistics.median(installs):.2f} s",
                quiet,
            )
        )
    if size == max(args.sizes):
        print(f"N={size}: verify --deep vs sha256sum", file=sys.stderr)
        quiet = report.quiet()
        rows, notes = deep_verify(tools, venv_b, args.deep_runs, size, quiet)
        report.spent(quiet)
        report.rows.extend(rows)
        report.extra.extend(notes)
    if not args.keep:
        shutil.rmtree(venv_a.parent)


class Case(Protocol):
    def __call__(
        self,
        name: str,
        argv_b: list[str],
        note: str = "",
        *,
        env: dict[str, str] = ...,
        before: Callable[[str], None] | None = None,
    ) -> None: ...


def detail_cases(
    args: argparse.Namespace,
    tools: Tools,
    report: Report,
    *,
    size: int,
    case: Case,
    sites: tuple[Path, Path],
    starts: tuple[list[str], list[str]],
) -> None:
    """Site changes, the hash cache (writable, read-only), the sealed launcher."""
    b, sealed = starts
    env = start_env(tools.cache_home)
    allowed_change(*sites)
    report.timing.append((size, "first start after an allowed change", debug_line(b, env)))
    case(
        "first start after each allowed change to the site directory",
        b,
        f"{args.runs} runs each; mkdir + rmdir of an empty directory in that venv's "
        "site-packages before every start (untimed): every start re-checks the directory",
        before=touch_site(*sites),
    )
    allowed_change(*sites)
    settle_cache(b, env)
    report.timing.append((size, "warm start after an allowed change", debug_line(b, env)))
    case(
        "warm start after an allowed change to the site directory",
        b,
        f"{args.runs} runs each; one change, then starts until the hash cache holds it",
    )
    ro_home = tools.workdir / "xdg-cache-readonly"
    ro_env = start_env(ro_home)
    settle_cache(b, ro_env)  # the site changed since the seal: this writes the cache
    frozen = [ro_home / "pthguard", *(ro_home / "pthguard").glob("*")]
    problem = set_immutable([p for p in frozen if p.exists()], on=True)
    try:
        if problem:
            report.rows.append(
                Row("warm start with a read-only cache", str(size), note=f"not run: {problem}")
            )
        else:
            report.timing.append((size, "read-only cache, up to date", debug_line(b, ro_env)))
            case(
                "warm start with a read-only cache, up to date",
                b,
                f"{args.runs} runs each; cache written after the change, then `chattr +i` "
                "(read-only even for root)",
                env=ro_env,
            )
            allowed_change(*sites)
            time.sleep(0.1)
            report.timing.append((size, "read-only cache, stale", debug_line(b, ro_env)))
            case(
                "warm start with a read-only cache, stale (site changed since)",
                b,
                f"{args.runs} runs each; another allowed change after the cache was frozen: "
                "every start re-checks and cannot record it",
                env=ro_env,
            )
    finally:
        set_immutable([p for p in frozen if p.exists()], on=False)
    settle_cache(b, env)
    settle_cache(sealed, env)
    report.timing.append((size, "sealed launcher after the changes", debug_line(sealed, env)))
    case("warm start via the sealed launcher `bin/python-guarded -c pass`", sealed)


def slope_section(warm: dict[int, tuple[float, float]]) -> tuple[Row, list[str]]:
    sizes = sorted(warm)
    name = "cost per additional distribution, warm"
    if len(sizes) < 2:
        return Row(name, "-", note="needs at least two sizes"), []
    bare = slope(sizes, [warm[s][0] for s in sizes]) / 1e3
    guarded = slope(sizes, [warm[s][1] for s in sizes]) / 1e3
    diff = slope(sizes, [warm[s][1] - warm[s][0] for s in sizes]) / 1e3
    row = Row(
        name,
        f"{sizes[0]}-{sizes[-1]}",
        note=(
            f"slope of guarded - bare median: **{diff:+.1f} us per distribution** "
            f"(bare {bare:+.1f}, guarded {guarded:+.1f} us/dist; least squares)"
        ),
    )
    lines = ["| N | bare median | guarded median | guarded - bare |", "|---:|---:|---:|---:|"]
    for s in sizes:
        mb, mg = warm[s]
        lines.append(f"| {s} | {ms(mb)} | {ms(mg)} | {(mg - mb) / 1e3:+.0f} us |")
    return row, lines


def render(args: argparse.Namespace, tools: Tools, report: Report, started: dt.datetime) -> str:
    version = run([tools.python, "-S", "-I", "-c", "import sys; print(sys.version)"]).strip()
    pg_version = pthguard(tools, "--version").strip()
    now_digest = source_digest(args.pthguard_src)
    source = f"a copy of `{args.pthguard_src}` taken at start, sha256 {args.source_digest}" + (
        ""
        if now_digest == args.source_digest
        else f" (the tree changed during the run, now {now_digest}; these numbers are the copy's)"
    )
    elapsed = dt.datetime.now(dt.timezone.utc) - started
    slope_row, slope_lines = slope_section(report.warm)
    out = [
        "# pthguard startup benchmark",
        "",
        f"- date: {started.strftime('%Y-%m-%d %H:%M:%S UTC')} (took {elapsed.seconds // 60} min "
        f"{elapsed.seconds % 60} s)",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, "
        f"{platform.system()} {platform.release()}; load average {args.load_before} before, "
        f"{loadavg()} after",
        f"- interpreter under test: `{tools.python}` ({version})",
        f"- pthguard: {pg_version}, {source}, run by `{tools.pthguard[0]}`",
        f"- command: `{args.command_line}`",
        f"- each venv: N synthetic distributions, {PTH_FILES} small `.pth` files spread over them "
        f"(path lines; 5 carry `import sys`/`import os`), and `{REAL_DIST}` from PyPI; "
        "A bare, B guarded (enforce mode, watchdog `sitecustomize.py`)",
        "- timed: whole-process wall time of `VENV/bin/python -c pass`, A and B alternating, "
        f"{args.warmup} warm-up pairs discarded, {args.runs} pairs kept (in blocks of {BLOCK}); "
        "environment without `PYTHON*` variables; medians are the numbers to compare",
        "- CPU busy: share of all CPUs' time not idle during the kept measurements "
        "(/proc/stat). The harness alone keeps one CPU busy "
        f"({100 / (os.cpu_count() or 1):.0f}% here); a block above that by "
        f"{OTHERS_MARGIN:.0%} ran beside other processes and was discarded and re-run, "
        f"as long as the run had lost less than {args.max_wait:.0f} s in all that way "
        f"({args.max_wait - report.wait_left:.0f} s lost)",
        "",
        "| case | N | bare median | guarded median | ratio (B/A) | bare min .. max "
        "| guarded min .. max | CPU busy | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *(table_row(r) for r in [*report.rows, slope_row]),
        "",
        "## Warm start by size",
        "",
        *slope_lines,
        "",
        "## The gate's own breakdown (`PTHGUARD_DEBUG=timing`)",
        "",
        "Verbatim stderr of one start each (lines joined by ` / `), taken just before the "
        "matching case was timed. The sealed launcher prints after `site.main()`.",
        "",
        "| N | start | `PTHGUARD_DEBUG=timing` output |",
        "|---:|---|---|",
        *(f"| {n} | {what} | `{line or '(nothing)'}` |" for n, what, line in report.timing),
        "",
        "## Notes",
        "",
        *(f"- {line}" for line in report.extra),
        "",
    ]
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Startup cost of the pthguard gate: bare vs guarded venvs.",
    )
    parser.add_argument("--python", default=DEFAULT_PYTHON, help="interpreter under test")
    parser.add_argument("--sizes", help="distributions per venv (default: 10,100,300,1000)")
    parser.add_argument("--runs", type=int, help="timed A/B pairs per case (default: 200)")
    parser.add_argument("--warmup", type=int, help="discarded pairs per case (default: 20)")
    parser.add_argument("--cold", type=int, help="fresh installs for the cold case (default: 10)")
    parser.add_argument("--deep-runs", type=int, help="runs of verify --deep (default: 5)")
    parser.add_argument("--quick", action="store_true", help="sizes 10,100,300, 50 pairs, fewer")
    parser.add_argument("--out", type=Path, default=HERE / "results.md", help="Markdown output")
    parser.add_argument(
        "--max-wait",
        type=float,
        help="seconds the run may lose to other load, waiting and re-running (default: 150)",
    )
    parser.add_argument(
        "--pthguard-python",
        default=str(DEFAULT_PTHGUARD_PYTHON),
        help="interpreter with pthguard's dependencies that runs pthguard (default: .venv-dev)",
    )
    parser.add_argument(
        "--pthguard-src",
        type=Path,
        default=DEFAULT_PTHGUARD_SRC,
        help="the pthguard package to measure; copied at start (default: this tree's)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the venvs in the temp dir")
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = sorted(
        {int(s) for s in (args.sizes or ("10,100,300" if quick else "10,100,300,1000")).split(",")}
    )
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes: positive integers, comma-separated")
    args.runs = args.runs or (50 if quick else 200)
    args.warmup = args.warmup if args.warmup is not None else (5 if quick else 20)
    args.cold = args.cold or (3 if quick else 10)
    args.deep_runs = args.deep_runs or (3 if quick else 5)
    args.max_wait = args.max_wait if args.max_wait is not None else (60.0 if quick else 150.0)
    args.pthguard_src = args.pthguard_src.resolve()
    args.command_line = shlex.join(
        ["python", os.path.relpath(__file__, Path.cwd()), *(sys.argv[1:] if argv is None else argv)]
    )
    return args


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # so that ``finally`` removes the temp directory


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    started = dt.datetime.now(dt.timezone.utc)
    args.load_before = loadavg()
    python = shutil.which(args.python) or args.python
    workdir = Path(tempfile.mkdtemp(prefix="pthguard-bench-"))
    try:
        args.source_digest = source_digest(args.pthguard_src)
        command, env = frozen_pthguard(args.pthguard_python, args.pthguard_src, workdir)
        pip_wheel = bundled_pip(python)
        keys = workdir / "keys"
        keys.mkdir()
        tools = Tools(
            python=python,
            pip_wheel=pip_wheel,
            real_wheel=real_wheel(python, pip_wheel),
            workdir=workdir,
            pthguard=command,
            pthguard_env=env,
            private_key=keys / "bench.key",
            public_key=keys / "bench.pub",
        )
        pthguard(
            tools, "keygen", "--no-passphrase",
            "--private-key", str(tools.private_key), "--public-key", str(tools.public_key),
        )  # fmt: skip
        report = benchmark(args, tools)
        text = render(args, tools, report, started)
    except BenchError as exc:
        print(f"startup.py: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
