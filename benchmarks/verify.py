"""What ``pthguard verify`` (and ``--deep``, ``snapshot``, ``scan``) costs on a real environment.

One venv gets the hash-pinned distributions of ``benchmarks/real-requirements.txt`` (about
100, from PyPI); it is built once and kept in the temporary directory (``/tmp``) under a name
holding the digest of the requirements file and the interpreter (``--rebuild`` builds it
again). pthguard runs from a tool venv of the same interpreter with
``requirements/runtime.lock`` (kept the same way), the package itself from this tree on
``PYTHONPATH``. The venv is guarded with ``pthguard protect --yes`` (a throwaway config
directory, approving the startup code the review lists), every pthguard cache goes to a
throwaway ``XDG_CACHE_HOME``, and the guard is removed at the end: the kept venv stays stock.

Timed, every case once per round, round after round (median, min, max of whole-process wall
time; ``--runs`` rounds, one more discarded as warm-up):

* ``python -c pass`` of the interpreter and of the tool venv (what "a bare start" means);
* ``pthguard verify`` (the installed manifest and trust anchors), ``snapshot`` (to a
  temporary file, the installed manifest as ``--previous``), ``scan --python``;
* ``verify --deep`` warm (pthguard's caches in place), cold (its digest cache removed before
  the run, as for a first ``--deep`` after ``protect`` or ``verify``) and first run (every
  pthguard cache removed), the page cache warm, against ``sha256sum --check`` of the same
  files (every RECORD row with a hash) split over ``--procs`` processes;
* with ``--drop-caches`` (root; the default when ``/proc/sys/vm/drop_caches`` is writable):
  ``verify --deep`` (digest cache removed) and ``sha256sum`` after ``sync; echo 3 >
  /proc/sys/vm/drop_caches`` (disk cold), a few runs each.

``--baseline REV`` adds the same commands run by pthguard as of REV (``git archive`` into the
work directory), alternated with this tree. Usage: ``python benchmarks/verify.py [--python
PY] [--runs N] [--baseline REV] [--out FILE]``; standard library only (Python 3.11.4+).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUIREMENTS = HERE / "real-requirements.txt"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
APPROVE = re.compile(r"--approve (sha256:[0-9a-f]{64})")
THIS_TREE = "this tree"


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


def _kept_venv(python: str, requirements: Path, kind: str, rebuild: bool) -> Path:
    """A venv of ``python`` with ``requirements`` installed, kept by digest."""
    version = _must([python, "-c", "import sys; print(sys.version)"]).encode()
    key = hashlib.sha256(requirements.read_bytes() + b"\0" + version).hexdigest()[:16]
    where = Path(tempfile.gettempdir()) / f"pthguard-bench-verify-{kind}-{key}"
    stamp = where / ".complete"
    if rebuild and where.exists():
        shutil.rmtree(where)
    if not stamp.exists():
        shutil.rmtree(where, ignore_errors=True)
        _must([python, "-m", "venv", str(where)])
        _must(
            [str(where / "bin" / "python"), "-m", "pip", "install", "-q",
             "--require-hashes", "--only-binary", ":all:", "-r", str(requirements)],
            env=_env(),
        )  # fmt: skip
        stamp.write_text("built\n")
    return where


def _record_files(site: Path) -> list[tuple[str, str]]:
    """(sha256 hex, normalised path) of every RECORD row with a hash: what --deep checks."""
    out = []
    for record in sorted(site.glob("*.dist-info/RECORD")):
        for row in csv.reader(io.StringIO(record.read_text(encoding="utf-8"), newline="")):
            if len(row) != 3 or not row[1].startswith("sha256="):
                continue
            encoded = row[1][len("sha256=") :]
            digest = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).hex()
            out.append((digest, os.path.normpath(os.path.join(site, row[0]))))
    return out


def _export(rev: str, into: Path) -> tuple[str, Path]:
    """``pthguard/`` as of ``rev``, extracted into ``into``; (label, where)."""
    commit = _must(["git", "-C", str(ROOT), "rev-parse", rev]).strip()
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "pthguard"], capture_output=True, check=True
    ).stdout
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return f"{rev} ({commit[:10]})", into


def _load() -> str:
    with open("/proc/loadavg", encoding="ascii") as handle:
        return " ".join(handle.read().split()[:3])


def _drop_caches() -> None:
    os.sync()
    DROP_CACHES.write_text("3\n")


@dataclass
class Case:
    label: str
    source: str
    argv: list[str]
    env: dict[str, str]
    before: Callable[[], None] | None = None
    times: list[float] = field(default_factory=list)

    def once(self) -> None:
        if self.before is not None:
            self.before()
        t0 = time.perf_counter_ns()
        proc = subprocess.run(
            self.argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        elapsed = (time.perf_counter_ns() - t0) / 1e6
        if proc.returncode != 0:
            raise SystemExit(f"{self.label}: exit {proc.returncode}: {proc.stderr.decode()}")
        self.times.append(elapsed)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def row(self, bare: float, sha: float | None) -> str:
        xs = self.times
        versus = f"{self.median / sha:.2f}x" if sha is not None else ""
        return (
            f"| {self.label} | {self.source} | {self.median:.1f} ms "
            f"({min(xs):.1f} .. {max(xs):.1f}) | {len(xs)} | {self.median / bare:.1f}x | {versus} |"
        )


@dataclass
class Bench:
    """The guarded venv, the pthguard variants, and what the cases need."""

    args: argparse.Namespace
    target: str
    site: Path
    work: Path
    tool: list[str]
    envs: dict[str, dict[str, str]]
    base: dict[str, str]
    approvals: list[str] = field(default_factory=list)
    sha_argv: list[str] = field(default_factory=list)

    def clear(self, source: str, *, everything: bool = False) -> Callable[[], None]:
        """Remove pthguard's digest cache (``deep-*.cache``), or every cache of ``source``."""
        caches = Path(self.envs[source]["XDG_CACHE_HOME"])

        def clear() -> None:
            if everything:
                shutil.rmtree(caches, ignore_errors=True)
            for path in caches.glob("pthguard/deep-*.cache"):
                path.unlink()

        return clear

    def protect(self) -> float:
        """``protect --yes``, approving what the review lists (what a person approves after
        reading the review printed); returns the seconds of the last run."""
        env = self.envs[THIS_TREE]
        for _ in range(3):
            approve = [a for sha in self.approvals for a in ("--approve", sha)]
            t0 = time.perf_counter()
            proc = _run([*self.tool, "protect", "--python", self.target, "--yes", *approve], env)
            if proc.returncode == 0:
                return time.perf_counter() - t0
            found = sorted(set(APPROVE.findall(proc.stdout)) - set(self.approvals))
            if not found:
                raise SystemExit(f"protect failed:\n{proc.stdout}{proc.stderr}")
            self.approvals += found
        raise SystemExit("protect kept asking for approvals")

    def check_files(self, files: list[tuple[str, str]]) -> None:
        """One ``sha256sum`` check file per process; both pthguard variants must pass."""
        procs = self.args.procs
        checks = []
        for i in range(procs):
            check = self.work / f"sha256-{i}.txt"
            check.write_text("".join(f"{d}  {p}\n" for d, p in files[i::procs]))
            checks.append(str(check))
            _must(["sha256sum", "--quiet", "--check", str(check)])
        runs = " & ".join(f"sha256sum --quiet --check {c}" for c in checks)
        self.sha_argv = ["sh", "-c", f"{runs} & wait"]
        for name, env in self.envs.items():
            for deep in ((), ("--deep",)):
                out = _must([*self.tool, "verify", "--python", self.target, *deep], env)
                if "0 violation(s)" not in out:
                    raise SystemExit(f"{name}: verify does not pass:\n{out}")

    def warm_cases(self) -> list[Case]:
        python, tool, target = self.args.python, self.tool, self.target
        out = [
            Case(f"`{Path(python).name} -c pass`", "", [python, "-c", "pass"], self.base),
            Case("`python -c pass` of the tool venv", "", [tool[0], "-c", "pass"], self.base),
        ]
        installed = next(self.site.glob(".pthguard-*")) / "manifest.json"
        snapshot = self.work / "snapshot.json"
        approve = [a for sha in self.approvals for a in ("--approve", sha)]
        previous = ["--previous", str(installed), *approve]
        for name, env in self.envs.items():
            verify = [*tool, "verify", "--python", target]
            out += [
                Case("`pthguard verify`", name, verify, env),
                Case(
                    "`pthguard snapshot`",
                    name,
                    [*tool, "snapshot", "--python", target, "-o", str(snapshot), *previous],
                    env,
                    before=lambda: snapshot.unlink(missing_ok=True),
                ),
                Case("`pthguard scan --python`", name, [*tool, "scan", "--python", target], env),
                Case("`verify --deep`, warm cache", name, [*verify, "--deep"], env),
            ]
        procs = self.args.procs
        out.append(Case(f"`sha256sum --check`, {procs} processes", "", self.sha_argv, self.base))
        return out

    def cold_cases(self) -> list[Case]:
        deep = [*self.tool, "verify", "--python", self.target, "--deep"]
        out = []
        for name, env in self.envs.items():
            out += [
                Case("`verify --deep`, cold (digest cache removed)", name, deep, env,
                     before=self.clear(name)),
                Case("`verify --deep`, first run (every cache removed)", name, deep, env,
                     before=self.clear(name, everything=True)),
            ]  # fmt: skip
        return out

    def disk_cases(self) -> list[Case]:
        label = f"`sha256sum --check`, {self.args.procs} processes, disk cold"
        out = [Case(label, "", self.sha_argv, self.base, before=_drop_caches)]
        deep = [*self.tool, "verify", "--python", self.target, "--deep"]
        for name, env in self.envs.items():
            clear = self.clear(name)

            def both(clear: Callable[[], None] = clear) -> None:
                clear()
                _drop_caches()

            out.append(Case("`verify --deep`, cold, disk cold", name, deep, env, both))
        return out


def _rounds(cases: list[Case], runs: int, warmup: int = 0) -> None:
    for _ in range(warmup):
        for case in cases:
            case.once()
    for case in cases:
        case.times.clear()
    for _ in range(runs):
        for case in cases:
            case.once()


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--python", default="/root/.pyenv/versions/3.12.1/bin/python3")
    parser.add_argument("--runs", type=int, default=15, help="rounds (every case but disk cold)")
    parser.add_argument("--disk-runs", type=int, default=3, help="runs after drop_caches")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--baseline", metavar="REV", help="also time pthguard as of REV")
    parser.add_argument(
        "--drop-caches",
        action=argparse.BooleanOptionalAction,
        default=os.access(DROP_CACHES, os.W_OK),
    )
    parser.add_argument("--rebuild", action="store_true", help="build the kept venvs again")
    parser.add_argument("--out", default=str(HERE / "results-verify.md"))
    return parser.parse_args()


def _report(bench: Bench, groups: list[list[Case]], facts: str) -> str:
    warm, cold, disk = groups
    bare = warm[0].median
    sha = warm[-1].median
    order = ["`pthguard verify`", "`pthguard snapshot`", "`pthguard scan --python`"]
    lines = [
        "| case | pthguard | median (min .. max) | runs | vs bare start | vs sha256sum |",
        "|---|---|---:|---:|---:|---:|",
        *(c.row(bare, None) for c in warm[:2]),
        *(c.row(bare, None) for label in order for c in warm if c.label == label),
        *(c.row(bare, sha) for c in warm[2:] if "deep" in c.label),
        *(c.row(bare, sha) for c in cold),
        warm[-1].row(bare, sha),
        *(c.row(bare, disk[0].median) for c in disk),
    ]
    args = bench.args
    version = _must([args.python, "-c", "import sys; print(sys.version.split()[0])"]).strip()
    command = " ".join(["python", "benchmarks/verify.py", *sys.argv[1:]])
    return "\n".join(
        [
            "# `pthguard verify` benchmark",
            "",
            f"{time.strftime('%Y-%m-%d')}, Python {version} ({args.python}), {os.cpu_count()} "
            f"cores; {facts}",
            "",
            f"Command: `{command}`. Whole-process wall time, the cases alternated round by "
            "round. Cold: pthguard's digest cache removed before each run (its records cache, "
            "which every `verify` keeps, stays); first run: every pthguard cache removed; "
            "both with the page cache warm. Disk cold: `sync; echo 3 > "
            "/proc/sys/vm/drop_caches` before each "
            f"run (and pthguard's digest cache removed). `sha256sum` checks the same files "
            f"split over {args.procs} processes; "
            "pthguard hashes on threads of one process. Ratios compare medians; the bare start "
            "is the interpreter's own `python -c pass`; disk-cold rows are compared with the "
            "disk-cold `sha256sum`.",
            "",
            *lines,
            "",
        ]
    )


def main() -> None:
    args = _parse()
    venv = _kept_venv(args.python, REQUIREMENTS, "env", args.rebuild)
    tool_venv = _kept_venv(args.python, RUNTIME_LOCK, "tool", args.rebuild)
    target = str(venv / "bin" / "python")
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_must([target, "-c", purelib]).strip())
    work = Path(tempfile.mkdtemp(prefix="pthguard-bench-verify-"))
    sources = {THIS_TREE: ROOT}
    if args.baseline:
        label, where = _export(args.baseline, work / "baseline")
        sources[label] = where
    base = _env()
    base.update(HOME=str(work / "home"), PTHGUARD_CONFIG_DIR=str(work / "config"))
    envs = {
        name: dict(base, PYTHONPATH=str(src), XDG_CACHE_HOME=str(work / f"cache-{i}"))
        for i, (name, src) in enumerate(sources.items())
    }
    tool = [str(tool_venv / "bin" / "python"), "-m", "pthguard"]
    bench = Bench(args, target, site, work, tool, envs, base)
    os.chdir(work)  # `python -m` puts the working directory first on sys.path
    try:
        if any(site.glob(".pthguard-*")):  # left by a run that was killed
            _must([*tool, "uninstall", "--python", target], envs[THIS_TREE])
        protect_s = bench.protect()
        files = _record_files(site)
        bench.check_files(files)
        load_before = _load()
        warm, cold = bench.warm_cases(), bench.cold_cases()
        _rounds([*warm, *cold], args.runs, warmup=1)
        disk = bench.disk_cases() if args.drop_caches else []
        _rounds(disk, args.disk_runs)
        load_after = _load()
    finally:
        _run([*tool, "uninstall", "--python", target], envs[THIS_TREE])
        os.chdir(ROOT)
        shutil.rmtree(work, ignore_errors=True)
    size = sum(os.path.getsize(path) for _, path in files)
    approved = f" ({len(bench.approvals)} startup file(s) approved)" if bench.approvals else ""
    facts = (
        f"load average {load_before} before / {load_after} after. The environment: "
        f"{len(list(site.glob('*.dist-info')))} distributions from "
        f"`benchmarks/real-requirements.txt`, {len(files)} files with a RECORD hash, "
        f"{size / 1e6:.0f} MB; `pthguard protect` took {protect_s:.1f} s{approved}."
    )
    text = _report(bench, [warm, cold, disk], facts)
    Path(args.out).write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
