"""Build the startup gate for one interpreter: the hot and the cold code objects.

The gate is the files of :mod:`pthguard.gate` that import each other only for the type
checker and for tests: :mod:`~pthguard.gate.schema`, :mod:`~pthguard.gate.names`,
:mod:`~pthguard.gate.imports`, :mod:`~pthguard.gate.writes` and :mod:`~pthguard.gate.hot`
run at every start, in that order, in one namespace (the sealed launcher's blob has
:mod:`~pthguard.gate.sealed` before :mod:`~pthguard.gate.hot`); :mod:`~pthguard.gate.cold` and
:mod:`~pthguard.gate.events` run into the same namespace when the hot half needs them. The
build blanks their ``from pthguard.gate...`` imports (keeping line numbers for tracebacks)
and has the target interpreter compile them with ``optimize=2`` (no docstrings, no
asserts): bytecode is specific to each version. Before compiling, the target interpreter
drops what only the type checker reads (:data:`STRIP`): annotations and ``if
TYPE_CHECKING:`` blocks. Each start loads less code, and no annotation is ever evaluated.

Files written beside the seal: ``gate.TAG.bin``, ``marshal.dumps((schema, names, imports,
writes, hot))``, which the gate ``.pth`` line loads; ``gate-sealed.TAG.bin``, the same with
``sealed`` before ``hot``, which the sealed launcher loads; ``gate-cold.TAG.bin``, ``checksum +
marshal.dumps((cold, events))``, whose name and checksum the seal carries;
``launcher.TAG.bin``, the sealed launcher's body (``python-guarded`` is a stub that runs it).
"""

from __future__ import annotations

import ast
import marshal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pthguard.environment.layout import (
    cold_bin_name,
    gate_bin_name,
    launcher_bin_name,
    sealed_bin_name,
)
from pthguard.errors import InstallError
from pthguard.gate.schema import checksum

GATE_DIR = Path(__file__).resolve().parent.parent / "gate"
HOT_FILES = ("schema.py", "names.py", "imports.py", "writes.py", "hot.py")
SEALED_FILES = (*HOT_FILES[:-1], "sealed.py", HOT_FILES[-1])  # sealed.py defines before hot runs
COLD_FILES = ("cold.py", "events.py")

# Run by the target interpreter (its own ``ast``, so line numbers stay those of the source):
# ``_strip(source, filename)`` is the module's tree without annotations (``x: T = v`` becomes
# ``x = v``, ``x: T`` goes) and without ``if TYPE_CHECKING:`` blocks (their ``else`` stays).
STRIP = """
import ast
class _Strip(ast.NodeTransformer):
    def visit_arg(self, node):
        node.annotation = None
        return node
    def _function(self, node):
        node.returns = None
        return self.generic_visit(node)
    visit_FunctionDef = visit_AsyncFunctionDef = _function
    def visit_AnnAssign(self, node):
        if node.value is None:
            return None
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)
    def visit_If(self, node):
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return [self.visit(n) for n in node.orelse] or None
        return self.generic_visit(node)
def _strip(source, filename):
    tree = _Strip().visit(ast.parse(source, filename))
    for node in ast.walk(tree):
        if getattr(node, "body", None) == [] and not isinstance(node, ast.Module):
            node.body = [ast.copy_location(ast.Pass(), node)]
    return ast.fix_missing_locations(tree)
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class GateBuild:
    hot: bytes  # the content of gate.TAG.bin
    hot_name: str
    sealed: bytes  # the content of gate-sealed.TAG.bin (the sealed launcher's)
    sealed_name: str
    cold: bytes  # the content of gate-cold.TAG.bin: checksum + code
    cold_name: str
    cold_checksum: bytes
    launcher: bytes  # the content of launcher.TAG.bin: the sealed launcher's body
    launcher_name: str


def blank_gate_imports(source: str) -> str:
    """``source`` with every top-level ``from pthguard.gate... import ...`` statement
    replaced by empty lines: at run time those names are already in the gate's namespace."""
    lines = source.split("\n")
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pthguard"):
            if not (node.module or "").startswith("pthguard.gate."):
                raise InstallError(f"the gate imports {node.module}: only pthguard.gate is allowed")
            end = node.end_lineno or node.lineno
            for index in range(node.lineno - 1, end):
                lines[index] = ""
    return "\n".join(lines)


def sources(files: tuple[str, ...]) -> list[tuple[str, str]]:
    """(file name, prepared source) of each gate file, in execution order."""
    out = []
    for name in files:
        path = GATE_DIR / name
        out.append((str(path), blank_gate_imports(path.read_text(encoding="utf-8"))))
    return out


def build(python: str, cache_tag: str, launcher: tuple[str, str]) -> GateBuild:
    """The gate for ``python``, and the sealed launcher's body ``launcher`` = (the
    launcher's path, the body's source), compiled as python compiles a script (no
    stripping, no optimisation; named by the launcher's path, for its tracebacks)."""
    hot, sealed, cold, body = _compile(python, launcher)
    return GateBuild(
        hot=hot,
        hot_name=gate_bin_name(cache_tag),
        sealed=sealed,
        sealed_name=sealed_bin_name(cache_tag),
        cold=checksum(cold) + cold,
        cold_name=cold_bin_name(cache_tag),
        cold_checksum=checksum(cold),
        launcher=body,
        launcher_name=launcher_bin_name(cache_tag),
    )


def _compile(python: str, launcher: tuple[str, str]) -> tuple[bytes, bytes, bytes, bytes]:
    """The hot half, the launcher's gate and the cold half, each one marshalled tuple of
    code objects; the launcher's body, one marshalled code object."""
    script = STRIP + (  # run with -S -I: none of the target's startup code runs
        "import marshal, sys\n"
        "groups, (name, body) = marshal.loads(sys.stdin.buffer.read())\n"
        "out = [tuple(compile(_strip(s, n), n, 'exec', dont_inherit=True, optimize=2)\n"
        "             for n, s in g) for g in groups]\n"
        "out.append(compile(body, name, 'exec', dont_inherit=True))\n"
        "sys.stdout.buffer.write(marshal.dumps([marshal.dumps(o) for o in out]))\n"
    )
    groups = [sources(HOT_FILES), sources(SEALED_FILES), sources(COLD_FILES)]
    try:
        done = subprocess.run(
            [python, "-S", "-I", "-c", script],
            input=marshal.dumps((groups, launcher), 4),
            capture_output=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"cannot run {python}: {exc}") from exc
    if done.returncode != 0:
        raise InstallError(f"{python} failed: {done.stderr.decode(errors='replace').strip()}")
    # a list of bytes from our own compile step: the host never loads foreign bytecode
    blobs = marshal.loads(done.stdout)  # noqa: S302
    if not isinstance(blobs, list) or len(blobs) != 4 or not all(type(b) is bytes for b in blobs):
        raise InstallError(f"{python} returned no compiled gate")
    return blobs[0], blobs[1], blobs[2], blobs[3]
