"""The seal: everything the gate compares, built from the live files and checked against the
manifest, in the format :mod:`pthguard.gate.schema` defines."""

from __future__ import annotations

import marshal
import os
import time
from pathlib import Path
from typing import Any

from pthguard._internal.fs import read_bytes
from pthguard._internal.hashing import sha256_bytes, sha256_file, stat_fingerprint
from pthguard.environment import probe as _probe
from pthguard.environment import snapshot as _snapshot
from pthguard.environment.finder import module_chain
from pthguard.errors import InstallError
from pthguard.formats.pth import exec_source, executable_lines
from pthguard.gate.schema import (
    DATA_NAME,
    RACY_MARGIN_NS,
    SEAL_FORMAT,
    SEAL_KEYS,
    checksum,
    dir_stamp,
)
from pthguard.guard import runtime_pth as _runtime_pth
from pthguard.manifest import envelope as _envelope
from pthguard.manifest import project as _project
from pthguard.manifest.model import EventTargets


def seal_bytes(seal: dict[str, Any]) -> bytes:
    """The seal file: a 4-byte checksum the gate checks before unmarshalling, then the seal."""
    if tuple(seal) != SEAL_KEYS:
        raise InstallError(f"internal error: the seal's keys are not {SEAL_KEYS}")
    payload = marshal.dumps(seal, 4)
    return checksum(payload) + payload


def build_seal(
    *,
    envelope: _envelope.Envelope,
    result: _envelope.VerificationResult,
    snap: _snapshot.Snapshot,
    probe: _probe.Probe,
    manifest_file: Path,
    mode: str,
    watchdog: str | None,
    watchdog_bytes: bytes | None,
    sha256_module: tuple[str, str] | None,
    cold: tuple[str, bytes],
    imports: bytes,
    imports_per_distribution: dict[str, Any],
    socket_module: tuple[str, str] | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Everything the gate compares, from the live files, checked against the manifest:
    the seal, and the content of its data file (``DATA_NAME``, whose checksum it holds)."""
    manifest = envelope.manifest
    # A stat fingerprint counts only for files whose mtime is older than this (git's
    # racily-clean rule, with a margin for coarse file-system clocks).
    sealed_at = time.time_ns() - RACY_MARGIN_NS
    sites = []
    distributions: dict[str, bytes] = {}
    pth_imports: dict[str, dict[str, tuple[str, ...]]] = {}
    for site in manifest.site_dirs:
        startup: dict[str, bytes] = {}
        for entry in site.startup_files:
            data = read_bytes(Path(site.path, entry.name), "startup file")
            if sha256_bytes(data) != entry.sha256:
                raise InstallError(f"{site.path}/{entry.name} changed while installing")
            startup[entry.name] = data
            lines = _pep829_lines(probe, entry.name, data)
            if lines is not None:
                pth_imports.setdefault(site.path, {})[entry.name] = lines
        dists: dict[str, tuple[str | None, str, tuple[int, ...]]] = {}
        for dist in manifest.distributions:
            if dist.site_dir != site.path:
                continue
            rel = "RECORD" if dist.record_sha256 else None
            digest = dist.record_sha256 or dist.metadata_sha256
            if rel is None and os.path.isdir(os.path.join(site.path, dist.metadata_dir)):
                rel = "METADATA" if dist.kind == "dist-info" else "PKG-INFO"
            if rel is None:
                dists[dist.metadata_dir] = (None, digest, ())
                continue
            path = os.path.join(site.path, dist.metadata_dir, rel)
            fingerprint = stat_fingerprint(path)
            if sha256_file(path) != digest:
                raise InstallError(f"{path} changed while installing")
            dists[dist.metadata_dir] = (rel, digest, fingerprint)
        st = os.stat(site.path)
        stamp = dir_stamp(st)  # what changes when entries are added, removed or renamed
        # The distributions are in the data file, one marshalled blob per site: a warm
        # start whose directory stamp is trusted never reads them, so its cost does not
        # grow with the number of distributions.
        distributions[site.path] = marshal.dumps(dists, 4)
        sites.append((site.path, site.role, startup, stamp, (st.st_dev, st.st_ino)))
    modules: dict[str, tuple[str | None, bytes | None]] = {}
    for module in manifest.startup_modules:
        if module.path is None:
            modules[module.name] = (None, None)
            continue
        data = read_bytes(Path(module.path), module.name)
        if sha256_bytes(data) != module.sha256:
            raise InstallError(f"{module.path} changed while installing")
        modules[module.name] = (module.path, data)
    entry_modules: dict[str, dict[str, bytes]] = {}
    search = snap.import_search(probe)
    for site in manifest.site_dirs:
        for entry in site.startup_files:
            if entry.name.endswith(".start"):
                for point in entry.code_lines:
                    dotted = point.partition(":")[0]
                    chain = module_chain(probe, search, dotted)
                    entry_modules[dotted] = {p: read_bytes(Path(p), "module") for p in chain}
    st = os.stat(manifest_file)
    signers = ", ".join(f"{k.name} (keyid {k.keyid[:16]})" for k in result.signed_by)
    payload = marshal.dumps({"distributions": distributions, **imports_per_distribution}, 4)
    data = checksum(payload) + payload
    seal = {
        "format": SEAL_FORMAT,
        "cache_tag": probe.cache_tag,
        "manifest_path": str(manifest_file),
        "manifest_stat": (st.st_size, st.st_mtime_ns, st.st_ino),
        "manifest_sha256": sha256_file(manifest_file),
        # a copy of the whole state directory (a pulled image) may hold the same manifest
        "state_dir_id": _dir_id(manifest_file.parent),
        "manifest_version": manifest.version,
        "signers": signers,
        "expires": int(manifest.expires_at.timestamp()),
        "expires_text": manifest.expires,
        "mode": mode,
        "allow_env_override": manifest.policy.allow_env_override,
        "unlisted_distributions": manifest.policy.unlisted_distributions,
        "sealed_at_ns": sealed_at,
        "sites": sites,
        "modules": modules,
        "entry_modules": entry_modules,
        "watchdog": watchdog,
        # the gate checks that nothing overwrote the watchdog (it never runs it)
        "watchdog_source": watchdog_bytes,
        "sha256_module": sha256_module,
        # policy.project compiled: (name, dist-info prefix, ((file pattern, code lines), ...))
        "project": _project.seal_rule(manifest.policy.project),
        "events": events_rule(manifest.policy.events, socket_module, manifest.environment.prefix),
        "cold": cold,
        "imports": imports,
        "data": (DATA_NAME, checksum(payload)),
        "interpreter": _interpreter_files(probe),
        "writes": _write_roots(probe, [site.path for site in manifest.site_dirs]),
        "runtime_pth": _runtime_pth.templates(manifest),
        "environment": (probe.executable, manifest.environment.prefix),
        "pth_imports": pth_imports,
    }
    return seal, data


def events_rule(
    events: EventTargets | None, socket_module: tuple[str, str] | None, prefix: str
) -> dict[str, Any] | None:
    """``policy.events`` as the gate reads it (see ``SEAL_KEYS``)."""
    if events is None:
        return None
    syslog = events.syslog
    return {
        "path": events.path,
        "syslog": None if syslog is None else (syslog.socket, syslog.facility_code),
        "socket_module": socket_module if syslog is not None else None,
        "prefix": prefix,
    }


def _interpreter_files(probe: _probe.Probe) -> tuple[Any, ...]:
    """A venv's ``pyvenv.cfg`` and ``bin/python*`` (a symlink's target, or a copy's stat
    fingerprint and sha256), and ``sys.base_prefix``: what the gate compares first."""
    files: list[tuple[str, str, Any]] = []
    if probe.pyvenv_cfg is not None:
        cfg = read_bytes(Path(probe.pyvenv_cfg), "pyvenv.cfg")
        files.append((probe.pyvenv_cfg, "bytes", cfg))
        scripts = os.path.dirname(probe.executable)
        for name in sorted(os.listdir(scripts)):
            path = os.path.join(scripts, name)
            if not name.startswith("python") or name == "python-guarded":
                continue
            if os.path.islink(path):
                files.append((path, "link", os.readlink(path)))
            elif os.path.isfile(path):
                files.append((path, "file", (stat_fingerprint(path), sha256_file(path))))
    return (tuple(files), probe.base_prefix)


def _write_roots(probe: _probe.Probe, sites: list[str]) -> tuple[str, ...]:
    """The directories the write guard protects: the sealed site directories and the
    scripts directory, each also by its real path (``lib64`` is a link to ``lib``)."""
    roots: list[str] = []
    for path in [*sites, probe.scripts or os.path.dirname(probe.executable)]:
        for form in (os.path.normpath(path), os.path.realpath(path)):
            if form not in roots:
                roots.append(form)
    return tuple(roots)


def _dir_id(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def _pep829_lines(probe: _probe.Probe, name: str, data: bytes) -> tuple[str, ...] | None:
    """What 3.15's site records as the import lines of ``name``, computed once here; None
    before 3.15, for a ``.start`` file, and for a file that is not UTF-8 (site decodes it
    with the locale's encoding: the gate reads that one at each start)."""
    if probe.minor < (3, 15) or not name.endswith(".pth"):
        return None
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return tuple(exec_source(line, probe.minor) for line in executable_lines(data, probe.minor))
