"""Startup files that signed tools write at run time, allowed by an exact signed template.

coverage 7.10-7.12 measures subprocesses (``[run] patch = subprocess``) by writing
``subcover_<pid>.pth`` into each site directory while the measured process runs and removing
it at exit. Its bytes are fixed: ``PTH_TEXT`` of the installed ``coverage/patch.py``,
``import sys; exec(PTH_CODE)``, which imports coverage (a signed distribution, import
guarded) and calls ``coverage.process_startup()``. The template is taken from that file of the
signed distribution, checked against its RECORD; the gate then allows exactly those bytes
under exactly that name pattern (``subcover_`` + digits + ``.pth``), and the write guard lets
the environment's processes create and remove such files (their bytes are checked at every
start; anything else under that name is refused as unlisted). coverage 7.13 and later ship
``a1_coverage.pth`` in the wheel instead, signed like any other startup file.

A template is ``(prefix, suffix, bytes, tool)`` per site directory, in the seal's
``runtime_pth``.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from pthguard._internal.hashing import sha256_bytes
from pthguard.formats.record import read_record
from pthguard.manifest.model import Manifest

__all__ = ["COVERAGE_PREFIX", "coverage_template", "templates"]

COVERAGE_PREFIX = "subcover_"
Template = tuple[str, str, bytes, str]


def templates(manifest: Manifest) -> dict[str, tuple[Template, ...]]:
    """{site directory: its templates} for the signed distributions that need one."""
    out: dict[str, tuple[Template, ...]] = {}
    for dist in manifest.distributions:
        if dist.name != "coverage" or dist.kind != "dist-info":
            continue
        data = coverage_template(Path(dist.site_dir), dist.metadata_dir)
        if data is not None:
            out[dist.site_dir] = (
                *out.get(dist.site_dir, ()),
                (COVERAGE_PREFIX, ".pth", data, f"coverage {dist.version} (patch = subprocess)"),
            )
    return out


def coverage_template(site_dir: Path, metadata_dir: str) -> bytes | None:
    """The bytes coverage's ``patch.py`` writes to ``subcover_<pid>.pth``, or None (another
    version, or a ``patch.py`` that is not the file its RECORD lists)."""
    patch = site_dir / "coverage" / "patch.py"
    try:
        source = patch.read_bytes()
        rows, _ = read_record((site_dir / metadata_dir / "RECORD").read_bytes())
    except OSError:
        return None
    digests = {row.path: row.sha256 for row in rows}
    if digests.get("coverage/patch.py") != sha256_bytes(source):
        return None
    text = source.decode("utf-8", "replace")
    if "subcover_{os.getpid()}.pth" not in text:
        return None
    return _pth_text(ast.parse(text, os.fspath(patch)))


def _pth_text(tree: ast.Module) -> bytes | None:
    """``PTH_TEXT = f"import sys; exec({PTH_CODE!r})\\n"`` with ``PTH_CODE`` a string
    literal, evaluated; None when the module does not say exactly that."""
    code: str | None = None
    shape: ast.expr | None = None
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Name):
            continue
        if target.id == "PTH_CODE" and isinstance(node.value, ast.Constant):
            code = node.value.value if isinstance(node.value.value, str) else None
        elif target.id == "PTH_TEXT":
            shape = node.value
    if code is None or not isinstance(shape, ast.JoinedStr) or len(shape.values) != 3:
        return None
    head, middle, tail = shape.values
    if not (
        isinstance(head, ast.Constant)
        and head.value == "import sys; exec("
        and isinstance(middle, ast.FormattedValue)
        and isinstance(middle.value, ast.Name)
        and middle.value.id == "PTH_CODE"
        and middle.conversion == ord("r")
        and middle.format_spec is None
        and isinstance(tail, ast.Constant)
        and tail.value == ")\n"
    ):
        return None
    return f"import sys; exec({code!r})\n".encode()
