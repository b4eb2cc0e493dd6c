"""The startup gate: runs inside every start of a guarded interpreter.

This file is never imported by its name at startup. ``pthguard install`` compiles it with
the target interpreter and marshals the code object beside the seal; a one-line ``.pth``
file that sorts first loads that code by absolute path and executes it with ``_ROLE``,
``_SEAL`` and ``_GATE`` in its namespace. Rules for this file, which every Python process of
a guarded environment pays for:

* standard library builtins only, taken from ``sys.modules`` or ``sys.builtin_module_names``
  (``posix``, ``marshal``, ``time``, ``_io``): nothing a ``PYTHONPATH`` entry can shadow;
* no hashing and no parsing on the warm path: ``.pth``/``.start`` files and startup
  modules are compared byte for byte with the copies in the seal; a site directory whose
  stamp (inode, mtime, ctime) the seal or the per-user hash cache vouches for costs one
  ``stat``; otherwise it is listed, its distributions compared, a RECORD hashed only when
  its stat fingerprint changed, and the result recorded in the cache (git's racily-clean
  rule decides what a recorded stamp or fingerprint is worth);
* every failure of the gate itself refuses to start in enforce mode (fail closed).

Roles:

``gate`` (3.10-3.14)
    Replaces ``site.addpackage`` so that each later ``.pth`` is compared with the seal
    before any of its lines runs; an allowed file is processed by CPython's own
    ``addpackage`` reading the verified bytes (no second read). Wraps
    ``site.execsitecustomize``: when ``.pth`` processing ends it restores ``site`` to stock,
    reconciles every site directory (files that sorted before the gate, unknown site
    directories, distributions) and runs ``sitecustomize`` from its verified bytes.
``gate`` (3.15, PEP 829)
    Runs as the first import line of the batch: everything has been read but no import
    line or ``.start`` entry point has run. It empties the import lines and entry points of
    files that are not allowed, removes the paths they added from ``sys.path``, and checks
    the modules allowed entry points name, without importing them.
``watchdog``
    Runs from pthguard's ``sitecustomize``; the gate never lets it run, so reaching it means
    the gate did not run (removed, hidden, suppressed by a ``.start`` file, or skipped).
``sealed``
    ``bin/python-guarded`` starts the interpreter with ``-S`` and calls the gate before
    ``site.main()``: every ``.pth`` of every directory goes through the checks.
"""

# ruff: noqa: ANN001, ANN202, BLE001, PLW0603, S102, PLC0415, SIM105
# mypy: disable-error-code="no-untyped-def,attr-defined"
import sys

# Neither ``from __future__ import annotations`` nor ``typing`` at run time: both import a
# module from sys.path (which a PYTHONPATH entry can shadow) and typing alone costs
# milliseconds and a dozen modules on 3.10-3.13. Annotations are evaluated when each
# function is defined (cheap: builtins and PEP 604 unions only); ``Any`` is a stand-in.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
else:
    Any = object

EXIT_REFUSED = 78
# Given by the line that executes this file; empty when it is imported (by tests).
_ROLE: str = globals().get("_ROLE", "")
_SEAL: str = globals().get("_SEAL", "")
_GATE: str = globals().get("_GATE", "")
_STDLIB: str = globals().get("_STDLIB", "")

_posix: Any = sys.modules.get("posix") or sys.modules.get("nt")
_marshal: Any = sys.modules.get("marshal") or __import__("marshal")
_time: Any = sys.modules.get("time") or __import__("time")
_io: Any = sys.modules.get("_io") or __import__("_io")
_SEP = "/" if _posix.__name__ == "posix" else "\\"
_START_NS = _time.perf_counter_ns()


def _join(a: str, b: str) -> str:
    return a + b if a.endswith(_SEP) else a + _SEP + b


def _dirname(path: str) -> str:
    head = path.rpartition(_SEP)[0]
    return head or _SEP


def _read(path: str) -> bytes:
    with _io.open(path, "rb") as handle:
        data: bytes = handle.read()
    return data


class _Violation:
    __slots__ = ("detail", "executed", "path", "what")

    def __init__(self, what: str, path: str, detail: str, executed: str) -> None:
        self.what = what
        self.path = path
        self.detail = detail
        self.executed = executed

    def line(self) -> str:
        tail = f" - {self.executed}" if self.executed else ""
        return f"  {self.what} {self.path} ({self.detail}){tail}"


class _State:
    """Everything one interpreter start knows about its gate."""

    def __init__(self, seal: dict[str, Any]) -> None:
        self.seal = seal
        self.sites: dict[str, Any] = {s[0]: s for s in seal["sites"]}
        self.mode: str = seal["mode"]
        self.violations: list[_Violation] = []
        self.seen: set[str] = set()
        self.verdicts: dict[str, bytes | None] = {}
        self.active = True
        self.timing: list[tuple[str, int]] = []
        self.sha256: Any = None
        self.aliases: dict[str, str] = {}
        self.pth_ns = 0
        self.rechecked = False
        self.pth_files = 0
        self.cache: dict[str, Any] | None = None
        self.cache_trusted_before = 0
        self.fresh_sites: dict[str, Any] = {}
        self.fresh_records: dict[str, Any] = {}

    def cache_dirty(self) -> bool:
        """Did this start verify something the seal and the cache do not already vouch for?"""
        if self.rechecked:
            return True
        if not self.fresh_records:
            return False
        cache = self.cache or {"sites": {}, "records": {}}
        return any(cache["sites"].get(k) != v for k, v in self.fresh_sites.items()) or any(
            cache["records"].get(k) != v for k, v in self.fresh_records.items()
        )

    def canon(self, sitedir: str) -> str:
        """The sealed path of ``sitedir``, also when it is reached through a symlink."""
        if sitedir in self.sites:
            return sitedir
        alias = self.aliases.get(sitedir)
        if alias is None:
            alias = sitedir
            try:
                st = _posix.stat(sitedir)
            except OSError:
                st = None
            if st is not None:
                for path, entry in self.sites.items():
                    if entry[5] == (st.st_dev, st.st_ino):
                        alias = path
                        break
            self.aliases[sitedir] = alias
        return alias

    def allowed(self, sitedir: str, name: str) -> bytes | None:
        site = self.sites.get(self.canon(sitedir))
        return None if site is None else site[2].get(name)

    def project_file(self, sitedir: str, name: str, data: bytes | None) -> bool:
        """A ``.pth`` of a sealed site directory that ``policy.project`` allows: its name
        fits a listed pattern and its import lines are exactly the listed code lines."""
        rule = self.seal.get("project")
        if rule is None or data is None or self.canon(sitedir) not in self.sites:
            return False
        lines = _pth_code_lines(data) if name.endswith(".pth") else None
        return lines is not None and any(
            _name_fits(pattern, name) and lines == tuple(code) for pattern, code in rule[2]
        )

    def violate(self, what: str, path: str, detail: str, executed: str = "") -> None:
        self.violations.append(_Violation(what, path, detail, executed))

    def digest(self, data: bytes) -> str:
        if self.sha256 is None:
            self.sha256 = _load_sha256(self.seal.get("sha256_module"))
        return str(self.sha256(data).hexdigest())


def _load_sha256(location: Any) -> Any:
    """sha256 from a builtin module, or an extension loaded by its absolute path."""
    for name in ("_sha2", "_sha256", "_hashlib"):
        if name in sys.builtin_module_names:
            module = __import__(name)
            return getattr(module, "openssl_sha256", None) or module.sha256
    if not location:
        raise RuntimeError("no sha256 implementation recorded in the seal")
    name, path = location
    bootstrap = sys.modules["_frozen_importlib"]
    external = sys.modules["_frozen_importlib_external"]
    loader = external.ExtensionFileLoader(name, path)
    spec = external.spec_from_file_location(name, path, loader=loader)
    module = bootstrap._load(spec)
    return getattr(module, "openssl_sha256", None) or module.sha256


# -- loading -------------------------------------------------------------------------------


def _load_seal() -> dict[str, Any]:
    raw = _read(_SEAL)
    if len(raw) < 5 or raw[:4] != _checksum(raw[4:]):  # before marshal sees a byte of it
        raise ValueError(f"the seal {_SEAL} is corrupt (checksum mismatch)")
    seal = _marshal.loads(raw[4:])
    if not isinstance(seal, dict) or seal.get("format") != 1:
        raise ValueError("unknown seal format")
    if seal["cache_tag"] != sys.implementation.cache_tag:
        raise ValueError(
            f"the seal was compiled for {seal['cache_tag']}, this is {sys.implementation.cache_tag}"
        )
    if _time.time() >= seal["expires"]:
        raise ValueError(f"the installed manifest expired at {seal['expires_text']}")
    manifest = seal["manifest_path"]
    try:
        st = _posix.stat(manifest)
    except OSError as exc:
        raise ValueError(f"the installed manifest {manifest} is missing") from exc
    if (st.st_size, st.st_mtime_ns, st.st_ino) != tuple(seal["manifest_stat"]) and (
        not _copied_manifest(seal, manifest, st.st_size)
    ):
        raise ValueError(f"the installed manifest {manifest} changed after it was sealed")
    return seal


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


def _effective_mode(seal: dict[str, Any]) -> str:
    mode = str(seal["mode"])
    wanted = _posix.environ.get(b"PTHGUARD_MODE") if _SEP == "/" else None
    if wanted == b"warn" and seal["allow_env_override"]:
        return "warn"
    return mode


# -- refusing ------------------------------------------------------------------------------


def _report(state: _State | None, headline: str, extra: list[str]) -> None:
    seal = state.seal if state is not None else None
    lines = [f"pthguard: {headline}"]
    if state is not None:
        lines.extend(v.line() for v in state.violations)
    lines.extend(extra)
    if seal is not None:
        lines.append(
            f"  manifest version {seal['manifest_version']}, signed by {seal['signers']}; "
            f"run `pthguard verify --python {sys.executable}` for details"
        )
    try:
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
    except Exception:
        _posix.write(2, ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace"))


def _refuse(state: _State | None, headline: str, extra: list[str] | None = None) -> None:
    _report(state, headline, extra or [])
    _posix._exit(EXIT_REFUSED)


def _conclude(state: _State, stage: str) -> None:
    """Refuse (enforce) or warn about what was found so far."""
    if not state.violations:
        return
    if state.mode == "enforce":
        _refuse(state, "refusing to start: this environment does not match its signed manifest")
    _report(
        state,
        f"warning: this environment does not match its signed manifest ({stage}); "
        "unlisted startup code was not run",
        [],
    )
    state.violations = []


def _internal_error(state: _State | None, exc: BaseException) -> None:
    mode = state.mode if state is not None else _FALLBACK_MODE
    text = f"{type(exc).__name__}: {exc}"
    if mode == "enforce":
        _refuse(
            state,
            f"refusing to start: the startup gate failed ({text})",
            [
                "  the guard fails closed; run `pthguard status --python "
                f"{sys.executable}` and reinstall with `pthguard install`"
            ],
        )
    _report(state, f"warning: the startup gate failed ({text}); continuing in warn mode", [])


_FALLBACK_MODE = "enforce"


# -- checks shared by every role -------------------------------------------------------------


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
    strip = sys.version_info >= (3, 15)
    out = []
    for raw in lines:
        line = raw.strip() if strip else raw
        if line.startswith(("import ", "import\t")):
            out.append(line)
    return out


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
    parts = [f"sha256 {state.digest(data)}"]
    if expected is not None:
        parts.append(f"expected sha256 {state.digest(expected)}")
    if pth:
        lines = _code_lines(data)
        parts.append(f"{lines} executable line{'s' * (lines != 1)}")
    return ", ".join(parts)


def _reconcile_site(state: _State, sitedir: str, names: list[str], before_gate: bool) -> None:
    """Every startup file of ``sitedir`` that the hook did not see must be allowed."""
    site = state.sites.get(sitedir)
    for name in _startup_names(names):
        full = _join(sitedir, name)
        if full in state.seen or full == _GATE:
            continue
        expected = None if site is None else site[2].get(name)
        try:
            data = _read(full)
        except OSError:
            data = None
        if data is not None and (data == expected or state.project_file(sitedir, name, data)):
            continue
        what = "changed startup file" if expected is not None else "unlisted startup file"
        state.violate(what, full, _describe(state, data, expected), _fate(data, before_gate))
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
    key = dist.lower().replace(".", "_")
    while "__" in key:
        key = key.replace("__", "_")
    return bool(sep and version) and dist.isascii() and key + "-" == rule[1]


_VERSION_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._+!")


def _name_fits(pattern: str, name: str) -> bool:
    """``pthguard.manifest.model.name_fits``: ``*`` (at most one) stands for one version."""
    head, star, tail = pattern.partition("*")
    if not star:
        return name == pattern
    if len(name) <= len(head) + len(tail) or not name.startswith(head) or not name.endswith(tail):
        return False
    middle = name[len(head) : len(name) - len(tail)]
    return middle[0].isdigit() and all(c in _VERSION_CHARS for c in middle)


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
    dists: dict[str, Any] = site[3]
    if isinstance(dists, bytes):  # kept marshalled in the seal: only this full check reads it
        dists = _marshal.loads(dists)
    present = {n for n in names if n.endswith((".dist-info", ".egg-info"))}
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
        now = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if now == fingerprint and st.st_mtime_ns < sealed_at:
            continue
        if cached.get(path) == (now, digest) and st.st_mtime_ns < state.cache_trusted_before:
            state.fresh_records[path] = (now, digest)
            continue
        try:
            found = state.digest(_read(path))
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
        else:
            state.fresh_records[path] = (now, digest)


def _stamp(sitedir: str) -> tuple[int, int, int] | None:
    """What changes when an entry of the directory is added, removed or renamed."""
    try:
        st = _posix.stat(sitedir)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def _stamp_trusted(state: _State, sitedir: str, site: Any, stamp: Any) -> bool:
    """Unchanged since the seal, or since a start that verified it (the hash cache); an
    entry is trusted only when its mtime is older than the moment it was recorded (a change
    within the same clock tick would otherwise go unseen: git's racily-clean rule)."""
    if stamp == site[4] and stamp[1] < state.seal["sealed_at_ns"]:
        return True
    if state.cache is None:
        state.cache = _read_cache(state)
    if state.cache["sites"].get(sitedir) == stamp and stamp[1] < state.cache_trusted_before:
        state.fresh_sites[sitedir] = stamp
        return True
    return False


def _final_checks(state: _State, processed: list[str]) -> None:
    """Reconcile every processed site directory and the distributions.

    A directory whose stamp is unchanged since it was last verified has the same entries:
    no file can have been added before the gate, and no distribution added or removed. Only
    then is the per-distribution work skipped (in-place edits by code already running as the
    same user are outside the threat model)."""
    t0 = _time.perf_counter_ns()
    # What the cache vouches for is the state as of now, before the first stamp is taken:
    # a change after the listing, in the clock tick of the stamp, must stay racily clean
    # however long this start takes to write the cache.
    verified_ns = _time.time_ns()
    gate_dir = _dirname(_GATE)
    before = True
    for sitedir in processed:
        if sitedir == gate_dir:
            before = False
        site = state.sites.get(sitedir)
        stamp = _stamp(sitedir)
        if site is not None and stamp is not None and _stamp_trusted(state, sitedir, site, stamp):
            continue
        try:
            names = _posix.listdir(sitedir)
        except OSError as exc:
            state.violate("unreadable site directory", sitedir, str(exc))
            continue
        count = len(state.violations)
        _reconcile_site(state, sitedir, names, before_gate=before and _ROLE != "sealed")
        if site is not None:
            _check_distributions(state, sitedir, site, names)
        if stamp is not None and len(state.violations) == count:
            state.fresh_sites[sitedir] = stamp
            state.rechecked = True  # worth recording, even if the cache already holds it racily
    state.timing.append(("final checks", _time.perf_counter_ns() - t0))
    if not state.violations and state.cache_dirty():
        t1 = _time.perf_counter_ns()
        _write_cache(state, verified_ns)
        state.timing.append(("cache write", _time.perf_counter_ns() - t1))


# -- the hash cache: stamps and RECORD digests verified by an earlier start ---------------------

_CACHE_FORMAT = 2
_CHECK_PRIME = 1_073_741_789  # the largest prime below 2**30: one digit, a fast remainder


def _checksum(payload: bytes) -> bytes:
    """Checked before ``marshal`` reads the seal or the cache: one flipped byte can make it allocate
    gigabytes (a huge tuple length) or crash the interpreter (a self-referencing tuple used
    as a dict key overflows the C stack on 3.10-3.13). Any one changed byte is caught."""
    return (int.from_bytes(payload, "little") % _CHECK_PRIME).to_bytes(4, "little")


def _cache_path(state: _State) -> str | None:
    """Per user: ``$XDG_CACHE_HOME/pthguard`` or ``~/.cache/pthguard`` (platformdirs' choice
    on Linux); beside the seal when there is no home (an image's runtime user)."""
    env = _posix.environ
    base = env.get(b"XDG_CACHE_HOME") or (env[b"HOME"] + b"/.cache" if env.get(b"HOME") else None)
    token = _dirname(_SEAL).rpartition(_SEP)[2].lstrip(".")  # pthguard-TOKEN
    name = f"{token}-{sys.implementation.cache_tag}.cache"
    if base is None:
        return _join(_dirname(_SEAL), name)
    return _join(_join(base.decode("utf-8", "surrogateescape"), "pthguard"), name)


def _cache_key(state: _State) -> tuple[Any, ...]:
    seal = state.seal
    return (_CACHE_FORMAT, seal["manifest_sha256"], seal["sealed_at_ns"], seal["cache_tag"])


def _read_cache(state: _State) -> dict[str, Any]:
    """The cache, or an empty one: a missing, corrupt, truncated, foreign or unreadable cache
    is ignored (and rebuilt), never trusted."""
    empty: dict[str, Any] = {"sites": {}, "records": {}}
    path = _cache_path(state)
    if path is None:
        return empty
    try:
        raw = _read(path)
        if raw[:4] != _checksum(raw[4:]):
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
    state.cache_trusted_before = data["written_ns"] - _RACY_MARGIN_NS
    return data


_RACY_MARGIN_NS = 20_000_000  # coarse file-system clocks tick every few ms


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
            data = _checksum(payload) + payload
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


def _processed_site_dirs(state: _State, site: Any, pending: Any = ()) -> list[str]:
    """Site directories this start processed, in order: on sys.path (or ``pending``, about
    to be added by a 3.15 batch) and known to site."""
    sealed = [s[0] for s in state.seal["sites"]]
    candidates = list(sealed)
    user = getattr(site, "USER_SITE", None)
    if getattr(site, "ENABLE_USER_SITE", False) and user and user not in candidates:
        candidates.append(user)
    found = [d for d in candidates if d in sys.path or d in pending]
    if any(d not in found for d in sealed):  # reached through a symlinked path?
        for entry in [*sys.path, *pending]:
            alias = state.canon(entry)
            if alias != entry and alias not in found:
                found.append(alias)
        found.sort(key=candidates.index)
    return found


def _refuse_early(state: _State, site: Any, pending: Any = ()) -> None:
    """3.15, enforce mode: refuse before the batch's code runs, with the whole report (the
    distributions too, which 3.10-3.14 check at the sitecustomize stage). Warn mode reports
    once, at the sitecustomize stage."""
    if state.violations and state.mode == "enforce":
        state.active = False
        _final_checks(state, _processed_site_dirs(state, site, pending))
        _conclude(state, "startup files")


# -- startup modules -------------------------------------------------------------------------


def _on_pythonpath(spec: Any) -> bool:
    """Is this module found in a ``PYTHONPATH`` entry? That is the caller's choice for this
    process (CPython's test_site puts a sitecustomize there), not the environment's files:
    the manifest does not cover it."""
    raw = None if sys.flags.ignore_environment else _posix.environ.get(b"PYTHONPATH")
    if not raw or _SEP != "/":
        return False
    os = sys.modules["os"]  # loaded by site
    entries = {os.path.abspath(os.fsdecode(e)) for e in raw.split(b":") if e}
    where = _dirname(spec.origin)
    if spec.submodule_search_locations is not None:  # a package: .../name/__init__.py
        where = _dirname(where)
    return where in entries


def _run_startup_module(state: _State, site: Any, name: str, original: Any) -> None:
    """Import ``name`` (sitecustomize/usercustomize) only from bytes the seal allows."""
    expected_path, expected = state.seal["modules"].get(name, (None, None))
    bootstrap = sys.modules["_frozen_importlib"]
    external = sys.modules["_frozen_importlib_external"]
    own = state.seal.get("watchdog")
    spec = bootstrap._find_spec(name, None)
    if spec is not None and own and spec.origin == own:
        # pthguard's watchdog: never run here, but it must still be the file install wrote
        # (a package may overwrite site-packages/sitecustomize.py).
        try:
            data = _read(own)
        except OSError:
            data = None
        written = state.seal.get("watchdog_source")
        if data != written:
            state.violate(
                f"changed {name}", own, _describe(state, data, written, pth=False), "NOT executed"
            )
            return
        if expected_path is None:
            # Nothing to chain: whatever sorts after the watchdog on sys.path is shadowed by
            # it, as in stock Python. Stock Python imports an importable sitecustomize at
            # startup: register the watchdog as that module without running it (it would
            # only find that the gate ran).
            sys.modules[name] = bootstrap.module_from_spec(spec)
            return
        rest = [p for p in sys.path if p != _dirname(own)]
        spec = external.PathFinder.find_spec(name, rest)
    origin = None if spec is None else spec.origin
    if origin is None and expected_path is None:
        return
    if origin is not None and _on_pythonpath(spec):
        original()  # the caller's own PYTHONPATH: outside the manifest, stock behaviour
        return
    if origin is None or not spec.has_location:
        state.violate(
            f"missing {name}" if origin is None else f"unverifiable {name}",
            str(expected_path or origin),
            "in the manifest" if origin is None else "not a file",
        )
        return
    try:
        data = _read(origin)
    except OSError:
        data = None
    if data is None or origin != expected_path or data != expected:
        what = f"unlisted {name}" if expected_path is None else f"changed {name}"
        if expected_path is not None and origin != expected_path:
            what = f"unlisted {name}"
        state.violate(what, origin, _describe(state, data, expected, pth=False), "NOT executed")
        return
    if origin.endswith(tuple(external.EXTENSION_SUFFIXES)):
        original()  # a compiled module: bytes checked above, loaded by the import system
        return
    module = type(sys)(name)
    module.__file__ = origin
    module.__spec__ = spec
    module.__loader__ = spec.loader
    if spec.submodule_search_locations is not None:
        module.__path__ = list(spec.submodule_search_locations)
    module.__package__ = name if spec.submodule_search_locations is not None else ""
    sys.modules[name] = module
    try:
        if origin.endswith(".pyc"):
            code = _marshal.loads(data[16:])
        else:
            code = compile(data, origin, "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except Exception as err:
        sys.modules.pop(name, None)
        if sys.flags.verbose:
            sys.excepthook(*sys.exc_info())
        else:
            sys.stderr.write(
                f"Error in {name}; set PYTHONVERBOSE for traceback:\n"
                f"{err.__class__.__name__}: {err}\n"
            )


def _guarded_module(state: _State, site: Any, name: str, original: Any) -> None:
    """The sitecustomize/usercustomize stage: check, run verified bytes, then conclude."""
    try:
        _run_startup_module(state, site, name, original)
    except Exception as exc:
        _internal_error(state, exc)
    _conclude(state, name)
    if name == "sitecustomize":
        _timing(state)  # the end of the gate's work for this start


# -- 3.10-3.14: the addpackage hook ----------------------------------------------------------


_SITE_DECIDES = object()
_HIDDEN_FLAGS = sys.version_info >= (3, 13) and (
    hasattr(_posix.stat_result, "st_flags") or hasattr(_posix.stat_result, "st_file_attributes")
)


class _OneShotIO:
    """Stands in for ``site.io`` during one ``addpackage`` call: serves verified bytes."""

    def __init__(self, site: Any, real: Any, path: str, data: bytes) -> None:
        self._site = site
        self._real = real
        self._path = path
        self._data = data

    def open_code(self, path: str) -> Any:
        self._site.io = self._real
        if path != self._path:
            return self._real.open_code(path)
        return self._real.BytesIO(self._data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _install_hooks(state: _State, site: Any) -> None:
    original_addpackage = site.addpackage
    original_sitecustomize = site.execsitecustomize
    original_usercustomize = site.execusercustomize
    real_io = site.io

    def addpackage(sitedir, name, known_paths):
        if not state.active:
            return original_addpackage(sitedir, name, known_paths)
        t0 = _time.perf_counter_ns()
        try:
            verified = _verify_pth(sitedir, name)
        except Exception as exc:
            _internal_error(state, exc)
            return known_paths
        state.pth_ns += _time.perf_counter_ns() - t0
        state.pth_files += 1
        if verified is None:
            return known_paths
        if verified is _SITE_DECIDES:
            return original_addpackage(sitedir, name, known_paths)
        site.io = _OneShotIO(site, real_io, _join(sitedir, name), verified)  # site's own path
        try:
            return original_addpackage(sitedir, name, known_paths)
        finally:
            site.io = real_io

    def _verify_pth(sitedir: str, name: str) -> Any:
        """Verified bytes, None (skip the file), or _SITE_DECIDES (site skips it anyway)."""
        full = _join(state.canon(sitedir), name)
        if full == _GATE:
            state.seen.add(full)
            return None
        if _HIDDEN_FLAGS:  # 3.13+ skips files flagged hidden (BSD, macOS, Windows only)
            try:
                st = _posix.lstat(full)
            except OSError:
                return _SITE_DECIDES
            hidden = getattr(st, "st_flags", 0) & 0x8000  # UF_HIDDEN
            hidden |= getattr(st, "st_file_attributes", 0) & 0x2  # FILE_ATTRIBUTE_HIDDEN
            if hidden:
                return _SITE_DECIDES
        if full in state.verdicts:  # a venv's site-packages is processed twice
            return state.verdicts[full]
        state.seen.add(full)
        try:
            data = _read(full)
        except OSError:
            data = None  # site would skip an unreadable file too
        expected = state.allowed(sitedir, name)
        if data is not None and data != expected and not state.project_file(sitedir, name, data):
            what = "changed startup file" if expected is not None else "unlisted startup file"
            # In a venv, site-packages is processed twice: a file that sorts before the gate
            # ran in the first pass (before the hook existed); this is the second pass.
            before = _ROLE == "gate" and full < _GATE and _dirname(full) == _dirname(_GATE)
            state.violate(what, full, _describe(state, data, expected), _fate(data, before))
            data = None
        state.verdicts[full] = data
        return data

    def execsitecustomize():
        _end_of_pth_phase(state, site)
        _guarded_module(state, site, "sitecustomize", original_sitecustomize)

    def execusercustomize():
        site.execusercustomize = original_usercustomize
        _guarded_module(state, site, "usercustomize", original_usercustomize)

    def restore() -> None:
        if site.addpackage is addpackage:
            site.addpackage = original_addpackage
        if site.execsitecustomize is execsitecustomize:
            site.execsitecustomize = original_sitecustomize

    state.restore = restore
    site.addpackage = addpackage
    site.execsitecustomize = execsitecustomize
    site.execusercustomize = execusercustomize


def _end_of_pth_phase(state: _State, site: Any) -> None:
    state.active = False
    state.restore()
    try:
        _final_checks(state, _processed_site_dirs(state, site))
    except Exception as exc:
        _internal_error(state, exc)


# -- 3.15: PEP 829 StartupState --------------------------------------------------------------


def _check_pep829(state: _State, startup: Any, executed_before: set[str]) -> None:
    """Neutralise what the batch ``startup`` holds that the seal does not allow."""
    verdict: dict[str, bool] = {}
    verified: dict[str, bytes | None] = {}

    def allowed(filename: str) -> bool:
        if filename not in verdict:
            sitedir, _, name = filename.rpartition(_SEP)
            expected = state.allowed(sitedir, name)
            try:
                data = _read(filename)
            except OSError:
                data = None
            ok = data is not None and (data == expected or state.project_file(sitedir, name, data))
            verified[filename] = data if ok else None
            verdict[filename] = ok
            state.seen.add(filename)
            if not ok:
                what = "changed startup file" if expected is not None else "unlisted startup file"
                ran = filename in executed_before
                state.violate(what, filename, _describe(state, data, expected), _fate(data, ran))
        return verdict[filename]

    def is_gate(filename: str) -> bool:
        sitedir, _, name = filename.rpartition(_SEP)
        return _join(state.canon(sitedir), name) == _GATE

    for filename, lines in startup._importexecs.items():
        if is_gate(filename) or filename in executed_before:
            if filename in executed_before:
                allowed(filename)
            continue
        if not allowed(filename):
            lines.clear()
            continue
        expected_lines = _import_lines(verified.get(filename) or b"", locale_fallback=True)
        if list(lines) != expected_lines:
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
    _check_pep829(state, startup, executed)
    original_sitecustomize = site.execsitecustomize
    original_usercustomize = site.execusercustomize

    def execsitecustomize():
        site.execsitecustomize = original_sitecustomize
        state.active = False
        try:
            _final_checks(state, _processed_site_dirs(state, site))
        except Exception as exc:
            _internal_error(state, exc)
        _guarded_module(state, site, "sitecustomize", original_sitecustomize)

    def execusercustomize():
        site.execusercustomize = original_usercustomize
        _guarded_module(state, site, "usercustomize", original_usercustomize)

    site.execsitecustomize = execsitecustomize
    site.execusercustomize = execusercustomize
    _refuse_early(state, site)


# -- entry ---------------------------------------------------------------------------------


def _timing(state: _State) -> None:
    if _posix.environ.get(b"PTHGUARD_DEBUG") != b"timing":
        return
    if state.pth_files:
        state.timing.append((f"{state.pth_files} .pth checks", state.pth_ns))
    own = sum(ns for _, ns in state.timing) / 1e6
    span = (_time.perf_counter_ns() - _START_NS) / 1e6
    parts = ", ".join(f"{label} {ns / 1e6:.3f} ms" for label, ns in state.timing)
    sys.stderr.write(
        f"pthguard: gate {own:.3f} ms ({parts}); {span:.3f} ms from the gate to sitecustomize\n"
    )


def _run_gate() -> None:
    global _FALLBACK_MODE
    site = sys.modules["site"]
    marker = getattr(site, "_pthguard_state", None)
    if marker is not None:
        return  # second pass over a venv's site-packages: already active
    state = None
    try:
        t0 = _time.perf_counter_ns()
        seal = _load_seal()
        _FALLBACK_MODE = seal["mode"]
        state = _State(seal)
        state.mode = _effective_mode(seal)
        state.timing.append(("load seal", _time.perf_counter_ns() - t0))
        site._pthguard_state = state
        if hasattr(site, "StartupState"):
            _gate_pep829(state, site)
        else:
            _install_hooks(state, site)
    except Exception as exc:
        _internal_error(state, exc)


def _run_watchdog() -> None:
    site = sys.modules.get("site")
    if site is not None and getattr(site, "_pthguard_state", None) is not None:
        return
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
        remedy = f"  run `pthguard status --python {sys.executable}`, then reinstall the gate"
        _refuse(None, f"refusing to start: {message}", [f"  expected gate: {_GATE}", remedy])
    _report(None, f"warning: {message}", [])


def _stdlib_site() -> Any:
    """The ``site`` module from the standard library (frozen, or by its absolute path)."""
    if "site" in sys.modules:
        return sys.modules["site"]
    bootstrap = sys.modules["_frozen_importlib"]
    external = sys.modules["_frozen_importlib_external"]
    spec = bootstrap.FrozenImporter.find_spec("site")
    if spec is None:
        path = _STDLIB + _SEP + "site.py"
        spec = external.spec_from_file_location(
            "site", path, loader=external.SourceFileLoader("site", path)
        )
    module = bootstrap.module_from_spec(spec)
    sys.modules["site"] = module
    try:
        spec.loader.exec_module(module)  # under -S, site.main() does not run on import
    except BaseException:
        sys.modules.pop("site", None)
        raise
    return module


def _run_sealed() -> None:
    """``python -S`` launcher: arm every check, then run ``site.main()`` and the program."""
    global _FALLBACK_MODE
    state = None
    try:
        seal = _load_seal()
        _FALLBACK_MODE = seal["mode"]
        state = _State(seal)
        state.mode = _effective_mode(seal)
        site = _stdlib_site()
        site._pthguard_state = state
        if hasattr(site, "StartupState"):
            original_process = site.StartupState.process

            def process(self):
                if state.active:
                    try:
                        _check_pep829(state, self, set())
                    except Exception as exc:
                        _internal_error(state, exc)
                    sitedirs = [path for name, path in self._path_entries if name is None]
                    _refuse_early(state, site, sitedirs)
                return original_process(self)

            site.StartupState.process = process
            original_sitecustomize = site.execsitecustomize

            def execsitecustomize():
                site.execsitecustomize = original_sitecustomize
                site.StartupState.process = original_process
                state.active = False
                try:
                    _final_checks(state, _processed_site_dirs(state, site))
                except Exception as exc:
                    _internal_error(state, exc)
                _guarded_module(state, site, "sitecustomize", original_sitecustomize)

            site.execsitecustomize = execsitecustomize
            original_usercustomize = site.execusercustomize

            def execusercustomize():
                site.execusercustomize = original_usercustomize
                _guarded_module(state, site, "usercustomize", original_usercustomize)

            site.execusercustomize = execusercustomize
        else:
            _install_hooks(state, site)
        site.main()
    except Exception as exc:
        _internal_error(state, exc)


if _ROLE == "gate":
    _run_gate()
elif _ROLE == "watchdog":
    _run_watchdog()
elif _ROLE == "sealed":
    _run_sealed()
