"""What loading the compiled gate costs every start: unmarshal + exec of its module body.

The gate is compiled by the interpreter under test exactly as ``pthguard install`` compiles
it (``pthguard.guard.gatebuild``); the hot half is what every start loads, the cold half
what a start loads only when it needs more (a changed site directory, a report, 3.15, the
sealed launcher). ``--compare-file`` adds one more file compiled as a single module (for
example an older gate's source), for a before/after figure.

    .venv-dev/bin/python benchmarks/gate_load.py [--python PY] [--runs N] [--compare-file F]

Each figure is the median (and min) of ``--runs`` loads inside one process of the interpreter
under test, in microseconds of ``time.perf_counter_ns``: CPU work, little disturbed by other
load on the machine, unlike whole-process start times (``startup.py``).
"""

from __future__ import annotations

import argparse
import json
import marshal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pthguard.guard import gatebuild  # noqa: E402

_MEASURE = r"""
import marshal, sys, time
blobs = marshal.loads(sys.stdin.buffer.read())
runs = int(sys.argv[1])
out = {}
for label, blob, base in blobs:
    times = []
    for _ in range(runs):
        g = {"__name__": "__bench__"}
        for code in marshal.loads(base):  # untimed: what is loaded before (the hot half)
            exec(code, g)
        t0 = time.perf_counter_ns()
        for code in marshal.loads(blob):
            exec(code, g)
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    out[label] = [len(blob), times[len(times) // 2] / 1e3, times[0] / 1e3]
import json
print(json.dumps(out))
"""


def compile_single(python: str, path: Path) -> bytes:
    """``path`` compiled by ``python`` as one module, marshalled in a one-element tuple."""
    script = (
        "import marshal, sys\n"
        "src = open(sys.argv[1], 'rb').read()\n"
        "code = compile(src, sys.argv[1], 'exec', dont_inherit=True)\n"
        "sys.stdout.buffer.write(marshal.dumps((code,)))\n"
    )
    done = subprocess.run(
        [python, "-S", "-I", "-c", script, str(path)], capture_output=True, check=True
    )
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter under test")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--compare-file", type=Path, help="a gate source compiled as one module")
    args = parser.parse_args()
    build = gatebuild.build(args.python, "bench", ("python-guarded", "pass\n"))
    nothing = marshal.dumps(())
    blobs = [
        ("hot half (every start)", build.hot, nothing),
        ("the sealed launcher's gate (hot half + sealed.py)", build.sealed, nothing),
        ("cold half (when needed, after the hot half)", build.cold[4:], build.hot),
    ]
    if args.compare_file is not None:
        label = f"{args.compare_file.name} (one module)"
        blobs.append((label, compile_single(args.python, args.compare_file), nothing))
    done = subprocess.run(
        [args.python, "-S", "-I", "-c", _MEASURE, str(args.runs)],
        input=marshal.dumps(blobs, 4),
        capture_output=True,
        check=True,
    )
    results = json.loads(done.stdout)
    version = subprocess.run(
        [args.python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"Python {version}, {args.runs} loads each; unmarshal + exec of the module body")
    print("| code | bytes | median | min |")
    print("|---|---:|---:|---:|")
    for label, (size, median, best) in results.items():
        print(f"| {label} | {size:,} | {median:.1f} us | {best:.1f} us |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
