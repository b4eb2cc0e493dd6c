"""Every performance figure of the README, from one command.

    python benchmarks/performance.py              # about 30 minutes (the venvs kept after)
    python benchmarks/performance.py --quick      # sizes 10,100,300 and fewer runs

Standard library only. Three parts, one report (``benchmarks/results-performance.md``), one
chart (``benchmarks/performance.svg``) and the table between the performance markers of
the README:

* **a real environment**: the ~100 hash-pinned registry distributions of
  ``real-requirements.txt`` (litellm, boto3, pandas, fastapi, pytest-cov, coverage,
  setuptools, ...; with their real ``.pth`` files), installed twice, once guarded with
  ``pthguard protect`` and once left bare (both venvs built once and kept in ``/tmp``, see
  ``verify.py``). Alternated against the bare copy: the warm ``python -c pass``, the sealed
  launcher ``python-guarded -c pass`` and an import-heavy program (about 1,900 modules).
  Then ``verify``, ``snapshot``, ``scan`` and ``verify --deep`` warm, cold and after
  ``drop_caches`` against ``sha256sum --check`` of the same files over the same number of
  processes (the cases of ``verify.py``);
* **growth**: synthetic venv pairs of N distributions (``startup.py``'s), N = 10, 100, 300,
  1000, 3000: the warm start, guarded / bare, and ``verify`` and ``verify --deep`` (warm);
* the chart: guarded / bare warm start against N, with the real environment's point.

pthguard runs from a copy of this tree's package taken at start, with the tool venv of
``requirements/runtime.lock``; every key, config and cache lives in a temporary directory
removed at the end, and the real environment's guard is removed again (the kept venv stays
stock). ``--no-readme`` leaves the README alone; ``--no-real`` / ``--sizes`` choose parts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import startup as st
import verify as vf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
README = ROOT / "README.md"
BEGIN = "<!-- performance:begin (written by benchmarks/performance.py) -->"
END = "<!-- performance:end -->"
DEFAULT_SIZES = "10,100,300,1000,3000"
WORKLOAD = (
    "import boto3, pandas, fastapi, uvicorn, pytest, sqlalchemy.orm, pydantic, numpy\n"
    "import rich.console, rich.table, jinja2, cryptography.x509, httpx, flask, alembic\n"
    "import redis, black, hypothesis, orjson, tenacity, psutil, requests\n"
)
TARGETS = {"start": 1.02, "sealed": 1.05, "verify": 5.0, "deep cold": 1.0, "deep warm": 0.25}


@dataclass
class Pair:
    """A/B wall times (ns) of one case: bare and guarded, alternated."""

    label: str
    bare: list[int]
    guarded: list[int]
    quiet: st.Quiet

    @property
    def ratio(self) -> float:
        return st.median(self.guarded) / st.median(self.bare)

    def row(self) -> str:
        return (
            f"| {self.label} | {st.ms(st.median(self.bare))} ({st.span(self.bare)}) | "
            f"{st.ms(st.median(self.guarded))} ({st.span(self.guarded)}) | {self.ratio:.3f}x | "
            f"{len(self.bare)} | {self.quiet.note() or ''} |"
        )


@dataclass
class Growth:
    size: int
    start: Pair
    verify: list[int]
    deep: list[int]


@dataclass
class Results:
    real: list[Pair] = field(default_factory=list)
    real_dists: int = 0
    real_timing: list[str] = field(default_factory=list)
    verify: list[list[vf.Case]] = field(default_factory=list)
    verify_facts: str = ""
    growth: list[Growth] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _tools(args: argparse.Namespace, work: Path, tool_python: str) -> st.Tools:
    """A frozen copy of this tree's pthguard, run by the tool venv, and a throwaway key."""
    command, env = st.frozen_pthguard(tool_python, ROOT / "pthguard", work)
    env.update(HOME=str(work / "home"), PTHGUARD_CONFIG_DIR=str(work / "config"))
    pip_wheel = st.bundled_pip(args.python)
    keys = work / "keys"
    keys.mkdir()
    tools = st.Tools(
        python=args.python,
        pip_wheel=pip_wheel,
        real_wheel=st.real_wheel(args.python, pip_wheel),
        workdir=work,
        pthguard=command,
        pthguard_env=env,
        private_key=keys / "bench.key",
        public_key=keys / "bench.pub",
    )
    st.pthguard(
        tools, "keygen", "--no-passphrase",
        "--private-key", str(tools.private_key), "--public-key", str(tools.public_key),
    )  # fmt: skip
    return tools


def _alternate(label: str, a: list[str], b: list[str], pairs: int, env: dict[str, str]) -> Pair:
    print(f"timing: {label}", file=sys.stderr)
    quiet = st.Quiet(budget=60.0)
    warmup = max(3, pairs // 10)
    times_a, times_b = st.alternate(a, b, pairs=pairs, warmup=warmup, quiet=quiet, env=env)
    return Pair(label, times_a, times_b, quiet)


def real_environment(args: argparse.Namespace, tools: st.Tools, results: Results) -> None:
    """Guard the kept real venv, time its starts against the bare copy, then verify & co."""
    env_venv = vf._kept_venv(args.python, vf.REQUIREMENTS, "env", args.rebuild)
    bare_venv = vf._kept_venv(args.python, vf.REQUIREMENTS, "bare", args.rebuild)
    target, bare = str(env_venv / "bin" / "python"), str(bare_venv / "bin" / "python")
    site = st.site_packages(env_venv)
    results.real_dists = len(list(site.glob("*.dist-info")))
    work = tools.workdir
    pthguard_env = dict(tools.pthguard_env, XDG_CACHE_HOME=str(work / "cache-verify"))
    envs = {vf.THIS_TREE: pthguard_env}
    base = vf._env()
    ns = argparse.Namespace(python=args.python, procs=args.procs)
    bench = vf.Bench(ns, target, site, work, tools.pthguard, envs, base)
    if any(site.glob(".pthguard-*")):  # left by a run that was killed
        vf._must([*tools.pthguard, "uninstall", "--python", target], pthguard_env)
    try:
        protect_s = bench.protect()
        start_env = st.start_env(work / "cache-start")
        st.check_start(bare, start_env, guarded=False)
        st.check_start(target, start_env, guarded=True)
        (launcher,) = site.glob(".pthguard-*/python-guarded")
        for argv in ([target, "-c", "pass"], [str(launcher), "-c", "pass"]):
            results.real_timing.append(f"`{Path(argv[0]).name}`: {st.debug_line(argv, start_env)}")
        runs = args.runs
        results.real += [
            _alternate("warm `python -c pass`", [bare, "-c", "pass"],
                       [target, "-c", "pass"], runs, start_env),
            _alternate("sealed launcher `python-guarded -c pass`", [bare, "-c", "pass"],
                       [str(launcher), "-c", "pass"], runs, start_env),
            _alternate("import-heavy program (about 1,950 modules)", [bare, "-c", WORKLOAD],
                       [target, "-c", WORKLOAD], args.workload_runs, start_env),
        ]  # fmt: skip
        files = vf._record_files(site)
        bench.check_files(files)
        load_before = vf._load()
        warm, cold = bench.warm_cases(), bench.cold_cases()
        print("timing: verify, snapshot, scan, verify --deep", file=sys.stderr)
        vf._rounds([*warm, *cold], args.verify_runs, warmup=1)
        disk = bench.disk_cases() if args.drop_caches else []
        vf._rounds(disk, args.disk_runs)
        results.verify = [warm, cold, disk]
        size = sum(os.path.getsize(path) for _, path in files)
        results.verify_facts = (
            f"{len(files):,} files with a RECORD hash, {size / 1e6:.0f} MB; `protect` took "
            f"{protect_s:.1f} s ({len(bench.approvals)} startup file(s) approved after "
            f"review); load average {load_before} before / {vf._load()} after"
        )
    finally:
        vf._run([*tools.pthguard, "uninstall", "--python", target], pthguard_env)


def growth(args: argparse.Namespace, tools: st.Tools, results: Results) -> None:
    for size in args.sizes:
        print(f"N={size}: building two venvs", file=sys.stderr)
        venv_a, venv_b, _ = st.build_pair(tools, size)
        try:
            st.guard(tools, venv_b)
            py_a, py_b = str(venv_a / "bin" / "python"), str(venv_b / "bin" / "python")
            env = st.start_env(tools.cache_home)
            st.check_start(py_b, env, guarded=True)
            pair = _alternate(f"warm start, N={size}", [py_a, "-c", "pass"],
                              [py_b, "-c", "pass"], args.growth_runs, env)  # fmt: skip
            verify = [*tools.pthguard, "verify", "--python", py_b]
            quiet = st.Quiet(budget=30.0)
            st.pthguard(tools, "verify", "--python", py_b, "--deep")  # the digest cache, warm
            times, code = st.timed(verify, tools.pthguard_env, tools.workdir, args.verify_runs,
                                   quiet)  # fmt: skip
            deep, deep_code = st.timed([*verify, "--deep"], tools.pthguard_env, tools.workdir,
                                       args.verify_runs, quiet)  # fmt: skip
            if code or deep_code:
                raise st.BenchError(f"N={size}: verify exited {code}, verify --deep {deep_code}")
            results.growth.append(Growth(size, pair, times, deep))
        finally:
            shutil.rmtree(venv_a.parent, ignore_errors=True)


# -- the report --------------------------------------------------------------------------


def _met(value: float, target: float) -> str:
    return "met" if value <= target else "**not met**"


def _case(cases: list[vf.Case], label: str) -> vf.Case | None:
    return next((c for c in cases if c.label.startswith(label)), None)


def summary(results: Results) -> list[str]:
    """The README's table: each figure of the issue, its target, met or not."""
    out = ["| figure | measured | target | |", "|---|---:|---:|---|"]
    names = {"warm": "start", "sealed": "sealed"}
    for pair in results.real:
        key = next((v for k, v in names.items() if pair.label.startswith(k)), None)
        measured = (
            f"{pair.ratio:.3f}x ({st.ms(st.median(pair.bare))} -> {st.ms(st.median(pair.guarded))})"
        )
        if key is None:
            out.append(f"| {pair.label}, guarded / bare | {measured} | | |")
        else:
            target = TARGETS[key]
            out.append(
                f"| {pair.label}, guarded / bare | {measured} | <= {target:.2f}x "
                f"| {_met(pair.ratio, target)} |"
            )
    if results.verify:
        warm, cold, disk = results.verify
        bare, sha = warm[0].median, warm[-1].median
        for label in ("`pthguard verify`", "`pthguard snapshot`", "`pthguard scan --python`"):
            case = _case(warm, label)
            if case is None:
                continue
            x = case.median / bare
            verdict = "| |"
            if "verify" in label:
                verdict = f"<= {TARGETS['verify']:.0f}x | {_met(x, TARGETS['verify'])} |"
            out.append(f"| {label} / bare start | {x:.1f}x ({case.median:.0f} ms) | {verdict}")
        deep_rows = [
            (_case(cold, "`verify --deep`, cold"), sha, "deep cold", "page cache warm"),
            (_case(warm, "`verify --deep`, warm"), sha, "deep warm", ""),
        ]
        if disk:
            deep_rows.insert(1, (_case(disk, "`verify --deep`"), disk[0].median, "deep cold",
                                 "after drop_caches"))  # fmt: skip
        for case, versus, key, how in deep_rows:
            if case is None:
                continue
            x = case.median / versus
            label = f"`verify --deep` {key.split()[1]}{', ' + how if how else ''} / `sha256sum -c`"
            out.append(
                f"| {label} | {x:.2f}x ({case.median:.0f} / {versus:.0f} ms) "
                f"| <= {TARGETS[key]:.2f}x | {_met(x, TARGETS[key])} |"
            )
    return out


def growth_table(results: Results) -> list[str]:
    out = [
        "| N | bare start | guarded start | ratio | `verify` | `verify --deep`, warm |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for g in results.growth:
        out.append(
            f"| {g.size:,} | {st.ms(st.median(g.start.bare))} | "
            f"{st.ms(st.median(g.start.guarded))} | {g.start.ratio:.3f}x | "
            f"{st.median(g.verify) / 1e6:.0f} ms | {st.median(g.deep) / 1e6:.0f} ms |"
        )
    return out


def readme_block(args: argparse.Namespace, results: Results) -> str:
    lines = [
        BEGIN,
        "",
        f"{args.date}, CPython {args.version}, {os.cpu_count()} cores ({st.cpu_model()}), "
        f"`{args.command_line}`; medians of alternated runs (min/max and every case in "
        "[benchmarks/results-performance.md](benchmarks/results-performance.md)). The real "
        f"environment: {results.real_dists} distributions of "
        "[benchmarks/real-requirements.txt](benchmarks/real-requirements.txt), guarded, "
        "against an identical bare copy.",
        "",
        *summary(results),
    ]
    if results.growth:
        lines += [
            "",
            "Cost growth with the number of distributions (synthetic venvs of `startup.py`):",
            "",
            *growth_table(results),
            "",
            "![guarded / bare warm start against the number of distributions]"
            "(benchmarks/performance.svg)",
        ]
    return "\n".join([*lines, "", END])


def report(args: argparse.Namespace, results: Results) -> str:
    lines = [
        "# Performance",
        "",
        f"{args.date}, CPython {args.version} ({args.python}), {os.cpu_count()} cores "
        f"({st.cpu_model()}); command: `{args.command_line}`; load average "
        f"{args.load_before} before / {st.loadavg()} after.",
        "",
        "## Summary",
        "",
        *summary(results),
    ]
    if results.real:
        lines += [
            "",
            "## Starts of the real environment",
            "",
            f"{results.real_dists} distributions of `real-requirements.txt`, guarded with "
            "`pthguard protect`, against an identical bare venv, alternated (warm-up pairs "
            "discarded). The import-heavy program:",
            "",
            "```python",
            WORKLOAD.rstrip(),
            "```",
            "",
            "| case | bare (min .. max) | guarded (min .. max) | ratio | pairs | notes |",
            "|---|---:|---:|---:|---:|---|",
            *(pair.row() for pair in results.real),
            "",
            "The gate's own account of one start (`PTHGUARD_DEBUG=timing`; it loads the cold "
            "half to print this, so its span is longer than a plain start's):",
            "",
            *(f"- {line}" for line in results.real_timing),
        ]
    if results.verify:
        warm, cold, disk = results.verify
        bare, sha = warm[0].median, warm[-1].median
        lines += [
            "",
            "## `verify`, `snapshot`, `scan`, `verify --deep`",
            "",
            f"The same environment; {results.verify_facts}. Whole-process wall time, rounds "
            f"alternated; `sha256sum --check` of the same files over {args.procs} processes. "
            "Cold: pthguard's digest cache removed; first run: every pthguard cache removed; "
            "disk cold: after `sync; echo 3 > /proc/sys/vm/drop_caches`.",
            "",
            "| case | pthguard | median (min .. max) | runs | vs bare start | vs sha256sum |",
            "|---|---|---:|---:|---:|---:|",
            *(c.row(bare, None) for c in warm[:2]),
            *(c.row(bare, None) for c in warm[2:-1] if "deep" not in c.label),
            *(c.row(bare, sha) for c in warm[2:-1] if "deep" in c.label),
            *(c.row(bare, sha) for c in cold),
            warm[-1].row(bare, sha),
            *(c.row(bare, disk[0].median) for c in disk),
        ]
    if results.growth:
        lines += [
            "",
            "## Growth",
            "",
            "Synthetic venv pairs (`startup.py`: N distributions, 20 `.pth` files, `six`), "
            f"{args.growth_runs} alternated pairs per size; `verify` and `verify --deep` "
            f"(digest cache warm) medians of {args.verify_runs}.",
            "",
            *growth_table(results),
            "",
            "![guarded / bare warm start against N](performance.svg)",
        ]
    return "\n".join([*lines, *results.notes, ""])


# -- the chart -----------------------------------------------------------------------------


def chart(results: Results) -> str:
    """An SVG line chart: guarded / bare warm start against N (log scale)."""
    width, height, left, right, top, bottom = 640, 360, 64, 24, 36, 48
    points = [(g.size, g.start.ratio) for g in results.growth]
    real = next((p for p in results.real if p.label.startswith("warm")), None)
    points_real = [(results.real_dists, real.ratio)] if real is not None else []
    ys = [y for _, y in points + points_real] + [1.0, TARGETS["start"]]
    y_lo, y_hi = min(ys) - 0.02, max(ys) + 0.02
    xs = [x for x, _ in points + points_real] or [10]
    x_lo, x_hi = math.log10(min(xs)) - 0.1, math.log10(max(xs)) + 0.1

    def px(x: float) -> float:
        return left + (math.log10(x) - x_lo) / (x_hi - x_lo) * (width - left - right)

    def py(y: float) -> float:
        return top + (y_hi - y) / (y_hi - y_lo) * (height - top - bottom)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">'
        "warm start, guarded / bare, against the number of distributions</text>",
    ]
    step = 0.02 if y_hi - y_lo <= 0.2 else 0.05
    tick = math.ceil(y_lo / step) * step
    while tick <= y_hi + 1e-9:
        y = py(tick)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')  # fmt: skip
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.2f}x</text>')
        tick += step
    for x in sorted({x for x, _ in points}):  # the real environment's N: by its point
        out.append(f'<text x="{px(x):.1f}" y="{height - bottom + 18}" text-anchor="middle">'
                   f"{x:,}</text>")  # fmt: skip
    out.append(f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">'
               "distributions (log scale)</text>")  # fmt: skip
    target = py(TARGETS["start"])
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{target:.1f}" y2="{target:.1f}" '
               'stroke="#c00" stroke-dasharray="6 4"/>')  # fmt: skip
    out.append(f'<text x="{width - right}" y="{target - 6:.1f}" text-anchor="end" fill="#c00">'
               f"target {TARGETS['start']:.2f}x</text>")  # fmt: skip
    if points:
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
        for x, y in points:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="#1f77b4"/>')
    for x, y in points_real:
        out.append(f'<rect x="{px(x) - 5:.1f}" y="{py(y) - 5:.1f}" width="10" height="10" '
                   'fill="#ff7f0e"/>')  # fmt: skip
        out.append(f'<text x="{px(x) + 8:.1f}" y="{py(y) - 8:.1f}" fill="#ff7f0e">'
                   f"real environment, N={x}: {y:.3f}x</text>")  # fmt: skip
    out.append(f'<text x="{left + 8}" y="{top + 12}" fill="#1f77b4">'
               "synthetic venvs (startup.py)</text>")  # fmt: skip
    out.append("</svg>")
    return "\n".join(out) + "\n"


def update_readme(block: str) -> None:
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise st.BenchError(f"{README} has no performance markers ({BEGIN} ... {END})")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    README.write_text(head + block + tail, encoding="utf-8")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--python", default="/root/.pyenv/versions/3.12.1/bin/python3")
    parser.add_argument("--quick", action="store_true", help="sizes 10,100,300; fewer runs")
    parser.add_argument("--sizes", help=f"growth sizes (default {DEFAULT_SIZES}); 0: none")
    parser.add_argument("--runs", type=int, help="start pairs of the real env (default 150)")
    parser.add_argument("--workload-runs", type=int, help="import-heavy pairs (default 15)")
    parser.add_argument("--growth-runs", type=int, help="start pairs per size (default 100)")
    parser.add_argument("--verify-runs", type=int, help="verify rounds (default 11)")
    parser.add_argument("--disk-runs", type=int, default=3, help="runs after drop_caches")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-real", dest="real", action="store_false")
    parser.add_argument("--no-readme", dest="readme", action="store_false")
    parser.add_argument(
        "--drop-caches",
        action=argparse.BooleanOptionalAction,
        default=os.access(vf.DROP_CACHES, os.W_OK),
    )
    parser.add_argument("--rebuild", action="store_true", help="build the kept venvs again")
    parser.add_argument("--out", type=Path, default=HERE / "results-performance.md")
    args = parser.parse_args()
    quick = args.quick
    sizes = args.sizes or ("10,100,300" if quick else DEFAULT_SIZES)
    args.sizes = sorted({int(s) for s in sizes.split(",") if int(s) > 0})
    args.runs = args.runs or (50 if quick else 150)
    args.workload_runs = args.workload_runs or (5 if quick else 15)
    args.growth_runs = args.growth_runs or (40 if quick else 100)
    args.verify_runs = args.verify_runs or (5 if quick else 11)
    args.command_line = shlex.join(["python", "benchmarks/performance.py", *sys.argv[1:]])
    return args


def main() -> int:
    args = parse_args()
    args.python = shutil.which(args.python) or args.python
    args.version = vf._must([args.python, "-c", "import sys; print(sys.version.split()[0])"])
    args.version = args.version.strip()
    args.date = dt.date.today().isoformat()
    args.load_before = st.loadavg()
    tool_venv = vf._kept_venv(args.python, vf.RUNTIME_LOCK, "tool", args.rebuild)
    work = Path(tempfile.mkdtemp(prefix="pthguard-bench-perf-"))
    results = Results()
    cwd = Path.cwd()
    os.chdir(work)  # `python -m pthguard`: the working directory comes first on sys.path
    try:
        tools = _tools(args, work, str(tool_venv / "bin" / "python"))
        if args.real:
            real_environment(args, tools, results)
        growth(args, tools, results)
    except st.BenchError as exc:
        print(f"performance.py: error: {exc}", file=sys.stderr)
        return 1
    finally:
        os.chdir(cwd)
        shutil.rmtree(work, ignore_errors=True)
    text = report(args, results)
    args.out.write_text(text, encoding="utf-8")
    if results.growth:
        (HERE / "performance.svg").write_text(chart(results), encoding="utf-8")
    if args.readme:
        update_readme(readme_block(args, results))
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
