"""The import guard's digest tables: every module file of every signed distribution, with
the bytecode compiled from it by the target interpreter, in the format
:mod:`pthguard.gate.imports` reads (see ``imports`` in :data:`pthguard.gate.schema.SEAL_KEYS`).

Built when a manifest is installed. A distribution's RECORD (or an egg-info's file list in
the manifest) gives each module file's digest; the RECORD's own digest is the signed one.
:mod:`.bytecode_worker`, run by the target interpreter in a clean process (``-S -I``),
checks every file against its digest and compiles the verified sources; a file that differs
stops the install.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import posixpath
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pthguard._internal.fs import read_bytes, write_atomic
from pthguard._internal.hashing import sha256_bytes
from pthguard.environment import probe as _probe
from pthguard.errors import InstallError
from pthguard.formats.record import read_record
from pthguard.gate.schema import checksum
from pthguard.manifest.model import Distribution, Manifest

WORKER = Path(__file__).resolve().parent / "bytecode_worker.py"
TABLES_PREFIX = "modules-"

# (site-relative path, sha256 hex, compile it?)
Job = tuple[str, str, bool]
BYTECODE_DIR = "bytecode"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tables:
    """What :func:`build` wrote: the directory of tables and the index the seal carries."""

    directory: str  # a name in the state directory
    index: bytes  # marshalled, for the seal's "imports" key: what any start may need
    # what only a full check of one distribution reads (the seal's data file): {"dists":
    # {site: {metadata dir: (table number, ...)}}, "scripts": {site: {metadata dir: rows}}}
    per_distribution: dict[str, Any]
    bytecode: frozenset[str]  # the store's files these tables name


def module_files(dist: Distribution, site: str, probe: _probe.Probe) -> list[Job]:
    """The module files of one distribution inside its site directory, with digests."""
    suffixes = (*probe.source_suffixes, *probe.bytecode_suffixes, *probe.extension_suffixes)
    rows: Iterable[tuple[str, str | None]]
    if dist.kind == "egg-info" or dist.record_sha256 is None:
        rows = [(f.path, f.sha256) for f in dist.files]
    else:
        path = Path(site, dist.metadata_dir, "RECORD")
        data = read_bytes(path, "RECORD", error=InstallError)
        if sha256_bytes(data) != dist.record_sha256:
            raise InstallError(f"{path} changed after the manifest was checked")
        rows = [(r.path, r.sha256) for r in read_record(data)[0]]
    jobs = []
    scripts = os.path.dirname(probe.executable)
    for raw, digest in rows:
        rel = posixpath.normpath(raw)
        parts = rel.split("/")
        if digest is not None and rel.startswith("../"):
            target = os.path.normpath(os.path.join(site, rel))
            if os.path.dirname(target) == scripts:  # a console script: checked, not imported
                jobs.append((rel, digest, False))
            continue
        if digest is None or rel.startswith(("../", "/")) or rel == "..":
            continue  # outside the site directory, or nothing to compare with
        if "__pycache__" in parts or not rel.endswith(suffixes):
            continue  # bytecode comes from our own compile step; not a module file
        jobs.append((rel, digest, rel.endswith(tuple(probe.source_suffixes))))
    return jobs


def build(
    manifest: Manifest, probe: _probe.Probe, python: str, state_dir: str, *, workers: int = 0
) -> Tables:
    """Check and compile every module file, write the tables into a new directory of
    ``state_dir``, and return the index for the seal."""
    per_dist: list[tuple[str, Distribution, list[Job]]] = []
    for site_dir in manifest.site_dirs:
        for dist in manifest.distributions:
            if dist.site_dir == site_dir.path:
                per_dist.append((site_dir.path, dist, module_files(dist, site_dir.path, probe)))
    site_numbers = {s.path: n for n, s in enumerate(manifest.site_dirs)}
    store = os.path.join(state_dir, BYTECODE_DIR)

    def target(site: str, rel: str) -> str:
        stem = rel.rpartition(".")[0]
        return os.path.join(store, str(site_numbers[site]), f"{stem}.{probe.cache_tag}.pyc")

    def is_script(rel: str) -> bool:
        return rel.startswith("../")

    # A file several signed distributions claim (one overwrote the other's) must have the
    # digest one of them gives it: the last writer's, which that one's RECORD vouches for.
    claimed: dict[str, tuple[set[bytes], str | None]] = {}
    for site, _, files in per_dist:
        for rel, digest, code in files:
            digests, pyc = claimed.setdefault(
                os.path.normpath(os.path.join(site, rel)),
                (set(), target(site, rel) if code else None),
            )
            digests.add(bytes.fromhex(digest))
    jobs = [(path, tuple(sorted(d)), pyc) for path, (d, pyc) in claimed.items()]
    results = _run_workers(python, jobs, workers or os.cpu_count() or 1)
    problems = [f"{path}: {problem}" for path, problem, *_ in results.values() if problem]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InstallError(
            "module files differ from their signed RECORD: " + "; ".join(problems[:3]) + more,
            remedy="run `pthguard verify --deep` for the list; reinstall those distributions",
        )
    # One table per (site directory, first path component): an import loads only the table
    # of its top-level name (``_distutils_hack`` is two files, setuptools hundreds).
    shards: dict[tuple[str, str], dict[str, tuple[Any, ...]]] = {}
    owners: dict[tuple[str, str], set[tuple[str, str]]] = {}
    scripts: dict[str, dict[str, list[tuple[str, bytes, Any]]]] = {}
    for site, dist, files in per_dist:
        for rel, _, _ in files:
            path = os.path.normpath(os.path.join(site, rel))
            _, _, fp, pyc, pyc_fp, pyc_digest, found = results[path]
            if is_script(rel):  # re-checked with its distribution (a same-version reinstall)
                scripts.setdefault(site, {}).setdefault(dist.metadata_dir, []).append(
                    (path, found, fp)
                )
                continue
            key = (site, rel.split("/")[0])
            # the bytecode's path follows from the site's number and rel (see target())
            shards.setdefault(key, {})[rel] = (found, fp, pyc_fp, pyc_digest if pyc else None)
            owners.setdefault((site, dist.metadata_dir), set()).add(key)
    keys = sorted(shards)
    payloads = [marshal.dumps(shards[k], 4) for k in keys]
    numbers = {k: n for n, k in enumerate(keys)}
    # named by content: a reinstall of the same state writes the same directory
    name = TABLES_PREFIX + hashlib.sha256(b"".join(payloads)).hexdigest()[:12]
    directory = os.path.join(state_dir, name)
    os.makedirs(directory, exist_ok=True)
    for number, payload in enumerate(payloads):
        write_atomic(Path(directory, f"{number}.bin"), checksum(payload) + payload)
    sites: dict[str, tuple[int, dict[str, int]]] = {
        path: (n, {}) for path, n in site_numbers.items()
    }
    for (site, top), number in numbers.items():
        sites[site][1][top] = number
    dists: dict[str, dict[str, tuple[int, ...]]] = {}
    for (site, metadata_dir), found_keys in owners.items():
        dists.setdefault(site, {})[metadata_dir] = tuple(sorted(numbers[k] for k in found_keys))
    index = {
        "dir": name,
        "store": store,
        "sites": sites,
        "tables": tuple(checksum(p) for p in payloads),
    }
    per_distribution = {
        "dists": dists,
        "scripts": {
            site: {meta: tuple(rows) for meta, rows in by_dist.items()}
            for site, by_dist in scripts.items()
        },
    }
    return Tables(
        directory=name,
        index=marshal.dumps(index, 4),
        per_distribution=per_distribution,
        bytecode=frozenset(r[3] for r in results.values() if r[3] is not None),
    )


def remove_old(state_dir: str, tables: Tables) -> None:
    """Tables of earlier installs (the seal that named them has been replaced)."""
    for entry in os.listdir(state_dir):
        if entry.startswith(TABLES_PREFIX) and entry != tables.directory:
            shutil.rmtree(os.path.join(state_dir, entry), ignore_errors=True)
    store = os.path.join(state_dir, BYTECODE_DIR)
    for root, _, names in os.walk(store, topdown=False):
        for name in names:
            path = os.path.join(root, name)
            if path not in tables.bytecode:
                os.unlink(path)
        if root != store and not os.listdir(root):
            os.rmdir(root)


def _run_workers(
    python: str, jobs: Sequence[tuple[str, tuple[bytes, ...], str | None]], workers: int
) -> dict[str, tuple[Any, ...]]:
    """Split ``jobs`` over ``workers`` processes of the target interpreter."""
    source = WORKER.read_text(encoding="utf-8")
    chunks = [list(jobs[i::workers]) for i in range(workers) if jobs[i::workers]]
    results: dict[str, tuple[Any, ...]] = {}
    with contextlib.ExitStack() as stack:
        procs = []
        try:
            for chunk in chunks:  # inputs and outputs in files: the workers run side by side
                stdin, stdout, stderr = (
                    stack.enter_context(tempfile.TemporaryFile()) for _ in range(3)
                )
                stdin.write(marshal.dumps(chunk, 4))
                stdin.seek(0)
                proc = subprocess.Popen(
                    [python, "-S", "-I", "-c", source], stdin=stdin, stdout=stdout, stderr=stderr
                )
                stack.callback(_stop, proc)
                procs.append((proc, stdout, stderr))
            for proc, stdout, stderr in procs:
                proc.wait(timeout=3600)
                if proc.returncode != 0:
                    stderr.seek(0)
                    text = stderr.read().decode(errors="replace").strip()
                    raise InstallError(f"{python} failed checking module files: {text}")
                stdout.seek(0)
                # a list of tuples from our own worker: the host never loads foreign bytecode
                for row in marshal.loads(stdout.read()):  # noqa: S302
                    results[row[0]] = row
        except OSError as exc:
            raise InstallError(f"cannot run {python}: {exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise InstallError(f"{python} took too long checking module files") from exc
    return results


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
