"""The startup gate's cold half: what a warm start never needs.

Executed by :func:`.hot._need_cold` into the hot half's namespace (the ``from
pthguard.gate...`` imports are blanked by the build; they are there for the type checker and
for tests that import this file as a module). Loaded when a site directory's stamp is not
the sealed one (the hash cache, a listing, the distributions), when a file differs from its
sealed copy (the report: digests, what ran), on 3.15 (PEP 829), for the watchdog and the
sealed launcher, and for ``PTHGUARD_DEBUG=timing``. Same rules as the hot half: standard
library builtins only, fail closed.
"""

# ruff: noqa: ANN202, BLE001, PLC0415, SIM105
# mypy: disable-error-code="no-untyped-def,attr-defined"
import sys

from pthguard.gate.hot import (
    _GATE,
    _ROLE,
    _SEAL,
    _SEP,
    _T0,
    Any,
    _cache_name,
    _dirname,
    _effective_mode,
    _end_of_pth_phase,
    _guarded_module,
    _join,
    _load_seal,
    _marshal,
    _posix,
    _python,
    _read,
    _refuse,
    _report,
    _State,
    _time,
    _upfront,
)
from pthguard.gate.imports import _IMPORTS, _load_sha256
from pthguard.gate.names import name_fits
from pthguard.gate.schema import (
    CACHE_FORMAT,
    RACY_MARGIN_NS,
    SITE_PATH,
    checksum,
    file_fingerprint,
)

# -- the seal's data file ------------------------------------------------------------------


def _seal_data(state: _State) -> dict[str, Any]:
    """The seal's data file (the distributions, their import tables and scripts), read and
    checked against the checksum the seal holds the first time a start needs it."""
    if state.data is None:
        name, expected = state.seal["data"]
        path = _join(_dirname(_SEAL), name)
        raw = _read(path)
        if raw[:4] != expected or raw[:4] != checksum(raw[4:]):
            raise ValueError(f"{path} is not the file this seal was installed with")
        state.data = _marshal.loads(raw[4:])
    return state.data


# -- digests and reports ---------------------------------------------------------------------


def _digest(state: _State, data: bytes) -> str:
    if state.sha256 is None:
        state.sha256 = _load_sha256(state.seal.get("sha256_module"))
    return str(state.sha256(data).hexdigest())


def _copied_manifest(seal: dict[str, Any], manifest: str, size: int) -> bool:
    """The whole state directory was copied (COPY --from, a pulled image: new inodes) and the
    manifest has the sealed bytes. A manifest replaced inside the sealed directory is not."""
    sealed_dir = seal.get("state_dir_id")
    if sealed_dir is None or size != seal["manifest_stat"][0]:
        return False
    here = _posix.stat(_dirname(manifest))
    if (here.st_dev, here.st_ino) == tuple(sealed_dir):
        return False
    digest = _load_sha256(seal.get("sha256_module"))(_read(manifest)).hexdigest()
    return bool(digest == seal["manifest_sha256"])


def _startup_names(names: list[str]) -> list[str]:
    """The names site processes as startup files, as this version filters them."""
    skip_dot = sys.version_info >= (3, 13)
    return sorted(
        n
        for n in names
        if (n.endswith(".pth") or (n.endswith(".start") and sys.version_info >= (3, 15)))
        and not (skip_dot and n.startswith("."))
    )


def _import_lines(data: bytes, *, locale_fallback: bool = False) -> list[str]:
    """The import lines of a ``.pth`` as this version's site reads them (3.15: stripped, as
    PEP 829 records them). A file that is not UTF-8 is decoded as latin-1 for a report
    (errs towards more lines), or with the locale encoding, as site does, when
    ``locale_fallback`` (the 3.15 comparison with what site holds)."""
    if sys.version_info >= (3, 13):  # utf-8-sig (BOM dropped), str.splitlines(): \x0c too
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            if locale_fallback:
                import locale  # noqa: F401  (already loaded by site on this path)

                text = data.decode(sys.modules["locale"].getencoding())
            else:
                text = data.decode("latin-1")
        lines = text.splitlines()
    else:  # universal newlines only; a BOM stays on line 1
        lines = [raw.decode("latin-1") for raw in data.splitlines()]
    if sys.version_info >= (3, 15):
        return list(_pep829_import_lines("\n".join(lines)))
    return [line for line in lines if line.startswith(("import ", "import\t"))]


def _pep829_import_lines(text: str) -> tuple[str, ...]:
    """The import lines of a ``.pth`` file's text as 3.15's site records them: each line
    stripped, kept when it starts with ``import`` and a space or tab."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(("import ", "import\t")):
            out.append(line)
    return tuple(out)


def _code_lines(data: bytes) -> int:
    """How many import lines this version's site would run (for the report only)."""
    return len(_import_lines(data))


def _fate(data: bytes | None, before_gate: bool) -> str:
    """What became of a file that is not allowed: honest about what ran before the gate."""
    if before_gate:
        if data is not None and not _code_lines(data):
            return "no executable lines; its paths were added"
        return "EXECUTED before the gate ran"
    return "NOT executed"


def _describe(
    state: _State, data: bytes | None, expected: bytes | None, *, pth: bool = True
) -> str:
    """Digests, and for a .pth/.start file its import lines (a module is all code)."""
    if data is None:
        return "unreadable"
    parts = [f"sha256 {_digest(state, data)}"]
    if expected is not None:
        parts.append(f"expected sha256 {_digest(state, expected)}")
    if pth:
        lines = _code_lines(data)
        parts.append(f"{lines} executable line{'s' * (lines != 1)}")
    return ", ".join(parts)


def _pth_violation(
    state: _State,
    sitedir: str,
    name: str,
    full: str,
    data: bytes,
    *,
    expected: bytes | None,
    before: bool,
) -> bool:
    """A ``.pth`` whose bytes are not the sealed ones: allowed by ``policy.project`` (False),
    or recorded as a violation (True)."""
    if _project_file(state, sitedir, name, data):
        return False
    what = "changed startup file" if expected is not None else "unlisted startup file"
    detail = _describe(state, data, expected) + _project_hint(state, name, data)
    state.violate(what, full, detail, _fate(data, before))
    return True


def _startup_module_violation(
    state: _State, what: str, path: str, data: bytes | None, expected: bytes | None
) -> None:
    state.violate(what, path, _describe(state, data, expected, pth=False), "NOT executed")


def _report_startup_modules(state: _State) -> None:
    """Before a refusal at the start: the watchdog and the sealed startup modules whose bytes
    changed (found by their sealed paths; nothing is imported or run)."""
    own = state.seal.get("watchdog")
    checks = [("sitecustomize", own, state.seal.get("watchdog_source"))] if own else []
    checks += [(name, path, data) for name, (path, data) in state.seal["modules"].items()]
    for name, path, expected in checks:
        if path is None:
            continue
        try:
            data = _read(path)
        except OSError:
            data = None
        if data != expected:
            _startup_module_violation(state, f"changed {name}", path, data, expected)


def _project_hint(state: _State, name: str, data: bytes | None) -> str:
    """Why an unlisted ``.pth`` comes close to what ``policy.project`` allows, if it does:
    its name fits a listed pattern, but its import lines are not the signed ones (a
    flat-layout editable install names its version in its finder line)."""
    rule = state.seal.get("project")
    if rule is None or data is None:
        return ""
    lines = _pth_code_lines(data)
    if lines is None:
        return ""
    for pattern, code in rule[2]:
        if name_fits(pattern, name) and len(lines) == len(code) and lines != tuple(code):
            return (
                f"; its name fits policy.project's {pattern}, but its import lines are not "
                "the signed ones (a flat-layout editable install names its version there: "
                "snapshot and sign again after a version change; `pthguard verify` shows "
                "what differs)"
            )
    return ""


def _project_file(state: _State, sitedir: str, name: str, data: bytes | None) -> bool:
    """A ``.pth`` of a sealed site directory that ``policy.project`` allows: its name
    fits a listed pattern and its import lines are exactly the listed code lines."""
    rule = state.seal.get("project")
    if rule is None or data is None or state.canon(sitedir) not in state.sites:
        return False
    lines = _pth_code_lines(data) if name.endswith(".pth") else None
    return lines is not None and any(
        name_fits(pattern, name) and lines == tuple(code) for pattern, code in rule[2]
    )


# -- site directories whose stamp is not the sealed one ----------------------------------------


def _reconcile_site(state: _State, sitedir: str, names: list[str]) -> None:
    """Every startup file of ``sitedir`` that the hook did not see must be allowed."""
    site = state.sites.get(sitedir)
    for name in _startup_names(names):
        full = _join(sitedir, name)
        if full in state.seen or full == _GATE:
            continue
        expected = None if site is None else state.allowed(sitedir, name)
        try:
            data = _read(full)
        except OSError:
            data = None
        if data is not None and (data == expected or _project_file(state, sitedir, name, data)):
            continue
        what = "changed startup file" if expected is not None else "unlisted startup file"
        detail = _describe(state, data, expected) + _project_hint(state, name, data)
        state.violate(what, full, detail, _fate(data, state.ran(full)))
        state.seen.add(full)


def _dist_label(metadata_dir: str) -> str:
    """``six-1.17.0.dist-info`` -> ``six 1.17.0`` (display only)."""
    stem = metadata_dir.rpartition(".")[0]
    name, _, rest = stem.partition("-")
    return f"{name} {rest.partition('-')[0]}".strip()


def _is_project_dir(rule: Any, name: str) -> bool:
    """Is ``name`` (``My.Proj-1.0.dist-info``) the metadata directory of ``policy.project``?
    Compared as ``{name, - and . as _, lower case}-{any version}.dist-info``."""
    if rule is None or not name.endswith(".dist-info"):
        return False
    dist, sep, version = name[: -len(".dist-info")].partition("-")
    if "-" in version or not version[:1].isdigit():  # proj-extra-1.0 is not proj's
        return False
    key = dist.lower().replace(".", "_")
    while "__" in key:
        key = key.replace("__", "_")
    return bool(sep and version) and dist.isascii() and key + "-" == rule[1]


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _record_hash(digest: bytes) -> str:
    """A sha256 digest as RECORD writes it: ``sha256=`` + URL-safe base64, no padding."""
    bits = len(digest) * 8
    chars = (bits + 5) // 6
    number = int.from_bytes(digest, "big") << (chars * 6 - bits)
    return "sha256=" + "".join(_B64[(number >> (6 * i)) & 63] for i in range(chars - 1, -1, -1))


def _project_module(state: _State, root: str, rel: str, digest: bytes) -> bool:
    """A module file of ``policy.project``'s own distribution (the project under test, not
    signed by design): allowed when that distribution's RECORD lists it with these bytes.
    A file another wheel overwrote is not the one the project's RECORD describes."""
    rule = state.seal.get("project")
    if rule is None or root not in state.sites:
        return False
    try:
        names = _posix.listdir(root)
    except OSError:
        return False
    wanted = rel + "," + _record_hash(digest) + ","
    for name in names:
        if _is_project_dir(rule, name):
            try:
                record = _read(_join(_join(root, name), "RECORD")).decode("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if any(line.startswith(wanted) for line in record.splitlines()):
                return True
    return False


_LINE_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\ufeff")


def _pth_code_lines(data: bytes) -> tuple[str, ...] | None:
    """The import lines of a ``.pth`` as the manifest records them, or None for a file this
    reading does not model the same way on every version (not UTF-8, a BOM, a line break
    other than ``\\n``, a non-ASCII import line): such a file is never allowed by a rule."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(c in text for c in _LINE_BREAKS):
        return None
    strip = sys.version_info >= (3, 15)
    lines = []
    for line in text.split("\n"):
        if (line.strip() if strip else line).startswith(("import ", "import\t")):
            if not line.isascii():
                return None
            lines.append(line)
    return tuple(lines)


def _check_distributions(state: _State, sitedir: str, site: Any, names: list[str]) -> None:
    # kept marshalled in the seal's data file: only this full check reads it
    dists: dict[str, Any] = _marshal.loads(_seal_data(state)["distributions"][site[SITE_PATH]])
    # as importlib.metadata finds them: the suffix in any case (six-9.9.DIST-INFO counts)
    present = {n for n in names if n.lower().endswith((".dist-info", ".egg-info"))}
    policy = state.seal["unlisted_distributions"]
    for name in sorted(present - dists.keys()):
        if policy == "refuse" and not _is_project_dir(state.seal.get("project"), name):
            state.violate(
                f"unlisted distribution {_dist_label(name)}", _join(sitedir, name), "not signed"
            )
    for name in sorted(dists.keys() - present):
        state.violate(
            f"missing distribution {_dist_label(name)}", _join(sitedir, name), "signed, not found"
        )
    sealed_at = state.seal["sealed_at_ns"]
    cached = state.cache["records"] if state.cache is not None else {}
    for name in sorted(present & dists.keys()):
        rel, digest, fingerprint = dists[name]
        if rel is None:
            continue
        path = _join(_join(sitedir, name), rel)
        try:
            st = _posix.stat(path)
        except OSError:
            state.violate(
                f"changed distribution {_dist_label(name)}", _join(sitedir, name), f"no {rel}"
            )
            continue
        now = file_fingerprint(st)
        if now == fingerprint and st.st_mtime_ns < sealed_at:
            continue
        if cached.get(path) == (now, digest) and st.st_mtime_ns < state.cache_trusted_before:
            state.fresh_records[path] = (now, digest)
            continue
        try:
            found = _digest(state, _read(path))
        except OSError as exc:
            state.violate(
                f"changed distribution {_dist_label(name)}", _join(sitedir, name), f"{rel}: {exc}"
            )
            continue
        if found != digest:
            state.violate(
                f"changed distribution {_dist_label(name)}",
                _join(sitedir, name),
                f"{rel} sha256 {found}, expected {digest}",
            )
        elif _files_unchanged(state, sitedir, name):
            # The same RECORD bytes in another file: reinstalled (pip --force-reinstall of
            # the same name and version). Its module files were checked; trust it from now.
            state.fresh_records[path] = (now, digest)


def _files_unchanged(state: _State, sitedir: str, name: str) -> bool:
    """Every module file and console script of one distribution against its signed digest
    (fingerprint first)."""
    guard = _IMPORTS
    if guard is None:
        return True  # not armed (cannot happen in a guarded start): the imports check later
    data = _seal_data(state)
    numbers = data["dists"].get(sitedir, {}).get(name, ())
    entries = sorted(
        (_join(sitedir, rel), entry[0], entry[1])
        for number in numbers
        for rel, entry in guard.table(number).items()
    )  # the tables of its top-level names: other owners' files too; then its scripts
    entries += data["scripts"].get(sitedir, {}).get(name, ())
    clean = True
    for path, digest, fingerprint in entries:
        rel = path[len(sitedir) + 1 :] if path.startswith(sitedir + _SEP) else path
        try:
            st = _posix.stat(path)
            if file_fingerprint(st) == fingerprint:
                continue
            found = guard.digest(_read(path))
        except OSError as exc:
            found = None
            detail = f"{rel}: {exc.strerror}"
        else:
            detail = f"{rel} sha256 {found.hex()}, expected {digest.hex()}"
        if found != digest:
            state.violate(f"changed distribution {_dist_label(name)}", _join(sitedir, name), detail)
            clean = False
    return clean


def _check_sites(state: _State, pending: list[Any], verified_ns: int) -> None:
    """Reconcile the site directories the hot half could not vouch for, then record what was
    verified in the hash cache."""
    for sitedir, site, stamp in pending:
        if site is not None and stamp is not None and _cache_vouches(state, sitedir, stamp):
            continue
        try:
            names = _posix.listdir(sitedir)
        except OSError as exc:
            state.violate("unreadable site directory", sitedir, str(exc))
            continue
        count = len(state.violations)
        _reconcile_site(state, sitedir, names)
        if site is not None:
            _check_distributions(state, sitedir, site, names)
        elif state.seal["unlisted_distributions"] == "refuse":  # a site nobody sealed
            for name in sorted(names):
                if name.lower().endswith((".dist-info", ".egg-info")):
                    state.violate(
                        f"unlisted distribution {_dist_label(name)}",
                        _join(sitedir, name),
                        "not signed (a site directory the manifest does not describe)",
                    )
        if stamp is not None and len(state.violations) == count:
            state.fresh_sites[sitedir] = stamp
            state.rechecked = True  # worth recording, even if the cache already holds it racily
    if not state.violations and _cache_dirty(state):
        t1 = _time.perf_counter_ns()
        _write_cache(state, verified_ns)
        state.timing.append(("cache write", _time.perf_counter_ns() - t1))


def _cache_vouches(state: _State, sitedir: str, stamp: Any) -> bool:
    """A later start verified this stamp and recorded it in the hash cache; an entry is
    trusted only when its mtime is older than the moment it was recorded (a change within
    the same clock tick would otherwise go unseen: git's racily-clean rule)."""
    if state.cache is None:
        state.cache = _read_cache(state)
    if state.cache["sites"].get(sitedir) == stamp and stamp[1] < state.cache_trusted_before:
        state.fresh_sites[sitedir] = stamp
        return True
    return False


def _cache_dirty(state: _State) -> bool:
    """Did this start verify something the seal and the cache do not already vouch for?"""
    if state.rechecked:
        return True
    if not state.fresh_records:
        return False
    cache = state.cache or {"sites": {}, "records": {}}
    return any(cache["sites"].get(k) != v for k, v in state.fresh_sites.items()) or any(
        cache["records"].get(k) != v for k, v in state.fresh_records.items()
    )


# -- the hash cache: stamps and RECORD digests verified by an earlier start ---------------------


def _cache_path(state: _State) -> str | None:
    """Per user: ``$XDG_CACHE_HOME/pthguard`` or ``~/.cache/pthguard`` (platformdirs' choice
    on Linux); beside the seal when there is no home (an image's runtime user)."""
    env = _posix.environ
    base = env.get(b"XDG_CACHE_HOME") or (env[b"HOME"] + b"/.cache" if env.get(b"HOME") else None)
    name = _cache_name()
    if base is None:
        return _join(_dirname(_SEAL), name)
    return _join(_join(base.decode("utf-8", "surrogateescape"), "pthguard"), name)


def _cache_key(state: _State) -> tuple[Any, ...]:
    seal = state.seal
    return (CACHE_FORMAT, seal["manifest_sha256"], seal["sealed_at_ns"], seal["cache_tag"])


def _read_cache(state: _State) -> dict[str, Any]:
    """The cache, or an empty one: a missing, corrupt, truncated, foreign or unreadable cache
    is ignored (and rebuilt), never trusted."""
    empty: dict[str, Any] = {"sites": {}, "records": {}}
    path = _cache_path(state)
    if path is None:
        return empty
    try:
        raw = _read(path)
        if raw[:4] != checksum(raw[4:]):
            return empty
        data = _marshal.loads(raw[4:])
    except Exception:
        return empty
    if (
        not isinstance(data, dict)
        or data.get("key") != _cache_key(state)
        or not isinstance(data.get("sites"), dict)
        or not isinstance(data.get("records"), dict)
        or not isinstance(data.get("written_ns"), int)
    ):
        return empty
    state.cache_trusted_before = data["written_ns"] - RACY_MARGIN_NS
    return data


def _carried(entries: Any, before: int, *, record: bool) -> dict[str, Any]:
    """Entries of the old cache worth keeping: well formed and trusted under its own write
    time. Junk is dropped, and a racily clean entry is not promoted by a later write time."""
    out = {}
    for key, value in entries.items():
        stamp = value
        if record:
            if type(value) is not tuple or len(value) != 2 or type(value[1]) is not str:
                continue
            stamp = value[0]
        if (
            type(key) is str
            and type(stamp) is tuple
            and len(stamp) == (5 if record else 3)
            and all(type(x) is int for x in stamp)
            and stamp[-2] < before  # the mtime, in a site stamp and in a fingerprint
        ):
            out[key] = value
    return out


def _write_cache(state: _State, verified_ns: int) -> None:
    """Atomically (temporary file, fsync, rename); a read-only or missing directory only
    makes later starts slower."""
    path = _cache_path(state)
    if path is None:
        return
    old = state.cache or {"sites": {}, "records": {}}
    sites = _carried(old["sites"], state.cache_trusted_before, record=False)
    sites.update(state.fresh_sites)
    records = _carried(old["records"], state.cache_trusted_before, record=True)
    records.update(state.fresh_records)
    doc = {
        "key": _cache_key(state),
        "written_ns": verified_ns,  # when the checks began: see _final_checks
        "sites": sites,
        "records": records,
    }
    tmp = f"{path}.{_posix.getpid()}.tmp"
    try:
        directory = _dirname(path)
        for parent in (_dirname(directory), directory):
            try:
                _posix.mkdir(parent, 0o700)
            except FileExistsError:
                pass
        fd = _posix.open(tmp, _posix.O_WRONLY | _posix.O_CREAT | _posix.O_EXCL, 0o600)
        try:
            payload = _marshal.dumps(doc, 4)
            data = checksum(payload) + payload
            while data:  # a full disk makes write() short, without an error
                written = _posix.write(fd, data)
                if not written:
                    raise OSError("no progress writing the cache")
                data = data[written:]
            _posix.fsync(fd)
        finally:
            _posix.close(fd)
        _posix.rename(tmp, path)
    except OSError:
        try:
            _posix.unlink(tmp)
        except OSError:
            pass


# -- 3.15: PEP 829 StartupState --------------------------------------------------------------


def _check_pep829(state: _State, startup: Any, executed_before: set[str]) -> None:
    """Neutralise what the batch ``startup`` holds that the seal does not allow."""
    verdict: dict[str, bool] = {}
    verified: dict[str, bytes | None] = {}
    sealed_lines: dict[str, Any] = {}  # the import lines install computed, for sealed bytes

    def allowed(filename: str) -> bool:
        if filename not in verdict:
            sitedir, _, name = filename.rpartition(_SEP)
            expected = state.allowed(sitedir, name)
            try:
                data = _read(filename)
            except OSError:
                data = None
            ok = data is not None and (
                data == expected or _project_file(state, sitedir, name, data)
            )
            if ok and data == expected:
                found = state.seal["pth_imports"].get(state.canon(sitedir), {}).get(name)
                if found is not None:
                    sealed_lines[filename] = found
            verified[filename] = data if ok else None
            verdict[filename] = ok
            state.seen.add(filename)
            if not ok:
                what = "changed startup file" if expected is not None else "unlisted startup file"
                ran = filename in executed_before
                detail = _describe(state, data, expected) + _project_hint(state, name, data)
                state.violate(what, filename, detail, _fate(data, ran))
        return verdict[filename]

    def is_gate(filename: str) -> bool:
        sitedir, _, name = filename.rpartition(_SEP)
        return _join(state.canon(sitedir), name) == _GATE

    for filename, lines in startup._importexecs.items():
        if is_gate(filename) and _ROLE == "sealed":
            lines.clear()  # the launcher armed everything already: the gate's line is a no-op
            continue
        if is_gate(filename) or filename in executed_before:
            if filename in executed_before:
                allowed(filename)
            continue
        if not allowed(filename):
            lines.clear()
            continue
        expected_lines = sealed_lines.get(filename)
        if expected_lines is None:
            expected_lines = _import_lines(verified.get(filename) or b"", locale_fallback=True)
        if list(lines) != list(expected_lines):
            state.violate("changed startup file", filename, "import lines differ", "NOT executed")
            lines.clear()
    # Path lines of files that are not allowed leave the ledger (sealed launch: checked
    # before process() applies it) and sys.path (gate: applied before the import lines).
    kept = []
    for filename, path in startup._path_entries:
        if filename is None or allowed(filename):
            kept.append((filename, path))
        elif path in sys.path:
            sys.path.remove(path)
    startup._path_entries[:] = kept
    # Entry points resolve on sys.path as process() leaves it: with the allowed paths still
    # pending in a sealed launch.
    search = [*sys.path, *(path for _, path in kept if path not in sys.path)]
    for filename, entries in startup._entrypoints.items():
        if not allowed(filename):
            entries.clear()
            continue
        for entry in list(entries):
            problem = _check_entry_point(state, entry, search)
            if problem:
                state.violate("unverified entry point", f"{filename}: {entry}", problem, "NOT run")
                entries.remove(entry)


def _check_entry_point(state: _State, entry: str, search: Any) -> str:
    """The module an entry point names must be the sealed bytes; found without importing."""
    modname = entry.partition(":")[0]
    sealed = state.seal["entry_modules"].get(modname)
    if sealed is None:
        return "its module is not in the manifest"
    external = sys.modules["_frozen_importlib_external"]
    parts = modname.split(".")
    for index in range(len(parts)):
        spec = external.PathFinder.find_spec(".".join(parts[: index + 1]), search)
        if spec is None or spec.origin is None:
            return f"{'.'.join(parts[: index + 1])} not found"
        expected = sealed.get(spec.origin)
        try:
            data = _read(spec.origin)
        except OSError:
            return f"{spec.origin} unreadable"
        if expected is None or data != expected:
            return f"{spec.origin} is not the file the manifest allows"
        search = spec.submodule_search_locations
    return ""


def _find_startup_state() -> tuple[Any, Any]:
    frame: Any = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_exec_imports" and "self" in frame.f_locals:
            return frame.f_locals["self"], frame
        frame = frame.f_back
    return None, None


def _gate_pep829(state: _State, site: Any) -> None:
    startup, frame = _find_startup_state()
    if startup is None:
        raise RuntimeError("cannot find site.StartupState: the gate must run from a .pth file")
    current = frame.f_locals.get("filename")  # the gate's own file, as site spelled it
    executed: set[str] = set()
    for filename in startup._importexecs:
        if filename in (current, _GATE):
            break
        executed.add(filename)
    state.ran_files = executed
    _check_pep829(state, startup, executed)
    _upfront(state, site)  # before the batch's other import lines and its entry points
    _arm_customize(state, site)


def _arm_customize(state: _State, site: Any, restore: Any = None) -> None:
    """3.15 (the gate and the launcher): wrap site's sitecustomize and usercustomize stage;
    ``.pth`` processing ends there (``restore`` undoes what was hooked for it)."""
    original_sitecustomize = site.execsitecustomize
    original_usercustomize = site.execusercustomize

    def execsitecustomize():
        site.execsitecustomize = original_sitecustomize
        _end_of_pth_phase(state, site)
        _guarded_module(state, site, "sitecustomize", original_sitecustomize)

    def execusercustomize():
        site.execusercustomize = original_usercustomize
        _guarded_module(state, site, "usercustomize", original_usercustomize)

    state.restore = restore or (lambda: None)
    site.execsitecustomize = execsitecustomize
    site.execusercustomize = execusercustomize


# -- the other roles -------------------------------------------------------------------------


def _timing(state: _State) -> None:
    if _posix.environ.get(b"PTHGUARD_DEBUG") != b"timing":
        return
    if state.pth_files:
        state.timing.append((f"{state.pth_files} .pth checks", state.pth_ns))
    own = sum(ns for _, ns in state.timing) / 1e6
    span = (_time.perf_counter_ns() - _T0) / 1e6
    parts = ", ".join(f"{label} {ns / 1e6:.3f} ms" for label, ns in state.timing)
    sys.stderr.write(
        f"pthguard: gate {own:.3f} ms ({parts}); {span:.3f} ms from the gate's .pth line to "
        "sitecustomize\n"
    )


def _foreign_start(state: _State) -> None:
    """This site directory was added to another environment (``sys.prefix`` is not the
    one sealed): by ``site.addsitedir`` from a startup file of that environment, as uv's
    ``_uv_ephemeral_overlay.pth`` does for ``uv run --with``. That file already ran (it is
    running now); the other environment's files are not signed. Enforce: refuse; warn:
    say so, and check this directory as usual."""
    python, prefix = state.seal["environment"]
    os = sys.modules["os"]
    if os.path.realpath(sys.prefix) == os.path.realpath(prefix) or state.changing:
        return
    site_dir = _dirname(_GATE)
    adders = []
    frame: Any = sys._getframe(1)
    while frame is not None:  # site.addpackage(sitedir, name, known_paths): its fullname
        if frame.f_code.co_name == "addpackage" and frame.f_globals.get("__name__") == "site":
            fullname = frame.f_locals.get("fullname")
            if type(fullname) is str and fullname != _GATE:
                adders.append(fullname)
        frame = frame.f_back
    if not adders:  # 3.15 runs import lines from its batch: look for uv's overlay by name
        site = sys.modules["site"]
        for directory in site.getsitepackages([sys.prefix]):
            overlay = _join(directory, "_uv_ephemeral_overlay.pth")
            try:
                if site_dir in _read(overlay).decode("utf-8", "replace"):
                    adders.append(overlay)
            except OSError:
                pass
    tool = ""
    if adders:
        tool = " (uv run --with)" if adders[-1].endswith("_uv_ephemeral_overlay.pth") else ""
        state.violate(
            "unlisted startup file",
            adders[-1],
            f"not in the manifest; it added {site_dir} with site.addsitedir{tool}",
            "EXECUTED",
        )
    headline = (
        f"the guarded site directory {site_dir} was added to another environment "
        f"({sys.prefix}){tool}"
    )
    extra = [
        f"  a guarded environment runs with its own interpreter only: install what the other "
        f"environment adds into this one (`pthguard change --python {python} -- uv pip "
        f"install PKG`), then run {python}"
    ]
    if state.mode == "enforce":
        _refuse(state, f"refusing to start: {headline}", extra)
    _report(state, f"warning: {headline} (warn mode)", extra)
    state.violations = []


def _run_watchdog() -> None:
    # The gate registers this module without running it: when it runs, the gate did not
    # arm the sitecustomize stage in this process (no attribute or variable says otherwise).
    try:
        seal = _load_seal()
        mode = _effective_mode(seal)
    except Exception as exc:
        _refuse(None, f"refusing to start: the startup gate did not run, and {exc}")
        return
    message = (
        "the startup gate did not run: its .pth file was removed, hidden, suppressed by a "
        ".start file of the same name, or skipped"
    )
    if mode == "enforce":
        remedy = f"  run `pthguard status --python {_python(seal)}`, then reinstall the gate"
        _refuse(None, f"refusing to start: {message}", [f"  expected gate: {_GATE}", remedy])
    _report(None, f"warning: {message}", [])
