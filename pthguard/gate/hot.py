"""The startup gate's hot half: the code every start of a guarded interpreter runs.

Never imported by its name at startup. ``pthguard install`` compiles :mod:`.schema` and this
file with the target interpreter (``optimize=2``) and marshals both code objects beside the
seal; a one-line ``.pth`` file that sorts first loads them by absolute path and executes
them in one namespace holding ``_ROLE``, ``_SEAL``, ``_GATE``, ``_STDLIB`` and ``_T0`` (the
clock when the line started); the sealed launcher loads the same files with :mod:`.sealed`
before this one. ``from pthguard.gate...`` imports are blanked by the build:
the names they import are already in that namespace.

A warm start of a 3.10-3.14 interpreter (``_ROLE == "gate"``) does only this: read and
check the seal; compare each ``.pth`` byte for byte with its sealed copy before CPython's own
``addpackage`` processes the verified bytes; take one ``stat`` of each processed site
directory and find its stamp sealed; check ``sitecustomize``/``usercustomize`` against their
sealed bytes and run them. Anything else (a stamp that changed, a file that differs, the
hash cache, reports, PEP 829 on 3.15, the watchdog) is the cold half, :mod:`.cold`, loaded
by :func:`_need_cold` from a file whose checksum the seal carries (missing or different:
the gate fails, closed in enforce mode).

Rules, which every Python process of a guarded environment pays for:

* standard library builtins only, taken from ``sys.modules`` or ``sys.builtin_module_names``
  (``posix``, ``marshal``, ``time``, ``_io``): nothing a ``PYTHONPATH`` entry can shadow;
* no hashing and no parsing on the warm path;
* every failure of the gate itself refuses to start in enforce mode (fail closed).
"""

# ruff: noqa: ANN001, ANN202, BLE001, PLW0603, S102
# mypy: disable-error-code="no-untyped-def,attr-defined"
import sys

from pthguard.gate.names import hidden_flag
from pthguard.gate.schema import (
    EXIT_REFUSED,
    SEAL_FORMAT,
    SITE_ID,
    SITE_PATH,
    SITE_ROLE,
    SITE_STAMP,
    SITE_STARTUP,
    checksum,
    dir_stamp,
    file_fingerprint,
)

# Neither ``from __future__ import annotations`` nor ``typing`` at run time: both import a
# module from sys.path (which a PYTHONPATH entry can shadow) and typing alone costs
# milliseconds and a dozen modules on 3.10-3.13. Annotations are evaluated when each
# function is defined (cheap: builtins and PEP 604 unions only); ``Any`` is a stand-in.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pthguard.gate.cold import (
        _check_sites,
        _copied_manifest,
        _digest,
        _foreign_start,
        _gate_pep829,
        _pth_violation,
        _report_startup_modules,
        _run_watchdog,
        _startup_module_violation,
        _timing,
    )
    from pthguard.gate.events import _emit_event
    from pthguard.gate.imports import _arm_imports
    from pthguard.gate.sealed import _run_sealed
    from pthguard.gate.writes import _arm_writes
else:
    Any = object

_posix: Any = sys.modules.get("posix") or sys.modules.get("nt")
_marshal: Any = sys.modules.get("marshal") or __import__("marshal")
_time: Any = sys.modules.get("time") or __import__("time")
_io: Any = sys.modules.get("_io") or __import__("_io")
# Given by the line that executes this file; empty when it is imported (by tests).
_ROLE: str = globals().get("_ROLE", "")
_SEAL: str = globals().get("_SEAL", "")
_GATE: str = globals().get("_GATE", "")
_STDLIB: str = globals().get("_STDLIB", "")
_T0: int = globals().get("_T0") or _time.perf_counter_ns()
_SEP = "/" if _posix.__name__ == "posix" else "\\"


def _join(a: str, b: str) -> str:
    return a + b if a.endswith(_SEP) else a + _SEP + b


def _dirname(path: str) -> str:
    head = path.rpartition(_SEP)[0]
    return head or _SEP


def _read(path: str) -> bytes:
    with _io.open(path, "rb") as handle:
        data: bytes = handle.read()
    return data


def _need_cold(seal: dict[str, Any]) -> None:
    """Load the cold half into this namespace, once, after checking it against ``seal``."""
    if "_COLD_LOADED" in globals():
        return
    if not _SEAL:
        raise RuntimeError("the gate's cold half is loaded only inside a guarded start")
    name, expected = seal["cold"]
    path = _join(_dirname(_SEAL), name)
    raw = _read(path)
    if raw[:4] != expected or raw[:4] != checksum(raw[4:]):
        raise ValueError(f"{path} is not the file this seal was installed with")
    for code in _marshal.loads(raw[4:]):
        exec(code, globals())
    globals()["_COLD_LOADED"] = True


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
        self.sites: dict[str, Any] = {s[SITE_PATH]: s for s in seal["sites"]}
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
        self.data: dict[str, Any] | None = None  # the seal's data file, once read
        self.cache_trusted_before = 0
        self.fresh_sites: dict[str, Any] = {}
        self.fresh_records: dict[str, Any] = {}
        self.restore: Any = None
        self.checked: set[str] = set()  # site directories reconciled by this start
        self.before: set[str] = set()  # site directories processed before the gate ran
        self.ran_files: set[str] | None = None  # 3.15: files earlier in the gate's batch
        self.upfront = False  # the site directories were reconciled before any import line
        self.reported: set[str] = set()  # warn-mode lines already written by this process
        # run by `pthguard change`: writes allowed, nothing reported or refused, unlisted
        # startup code still not run, modules imported after startup not checked
        self.changing = False

    def ran(self, full: str) -> bool:
        """Did site run this startup file before the gate could check it? Files of a
        directory processed before the gate's, and of the gate's own directory those
        sorting before the gate's name (a 3.15 batch: those earlier in the batch)."""
        if _ROLE == "sealed":
            return False
        if self.ran_files is not None:
            return full in self.ran_files
        head = _dirname(full)
        return head in self.before or (head == _dirname(_GATE) and full < _GATE)

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
                    if entry[SITE_ID] == (st.st_dev, st.st_ino):
                        alias = path
                        break
            self.aliases[sitedir] = alias
        return alias

    def allowed(self, sitedir: str, name: str) -> bytes | None:
        """The bytes ``name`` may have in ``sitedir``: sealed, or (a file a signed tool
        writes at run time, ``coverage``'s ``subcover_<pid>.pth``) its signed template."""
        path = self.canon(sitedir)
        site = self.sites.get(path)
        found = None if site is None else site[SITE_STARTUP].get(name)
        if found is None and site is not None:
            found = _runtime_template(self.seal, path, name)
        return found

    def violate(self, what: str, path: str, detail: str, executed: str = "") -> None:
        self.violations.append(_Violation(what, path, detail, executed))


def _runtime_template(seal: dict[str, Any], sitedir: str, name: str) -> bytes | None:
    """The signed template of a startup file named ``PREFIX<digits>SUFFIX`` in ``sitedir``."""
    for prefix, suffix, data, _ in seal["runtime_pth"].get(sitedir, ()):
        middle = name[len(prefix) : len(name) - len(suffix)]
        if (
            name.startswith(prefix)
            and name.endswith(suffix)
            and middle.isascii()
            and middle.isdigit()
        ):
            return data  # type: ignore[no-any-return]
    return None


# -- loading -------------------------------------------------------------------------------


def _load_seal() -> dict[str, Any]:
    raw = _read(_SEAL)
    if len(raw) < 5 or raw[:4] != checksum(raw[4:]):  # before marshal sees a byte of it
        raise ValueError(f"the seal {_SEAL} is corrupt (checksum mismatch)")
    seal = _marshal.loads(raw[4:])
    if not isinstance(seal, dict) or seal.get("format") != SEAL_FORMAT:
        raise ValueError("unknown seal format")
    global _SEAL_READ
    _SEAL_READ = seal  # its event targets, should a check below refuse the start
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
    if (st.st_size, st.st_mtime_ns, st.st_ino) != tuple(seal["manifest_stat"]):
        _need_cold(seal)
        if not _copied_manifest(seal, manifest, st.st_size):
            raise ValueError(f"the installed manifest {manifest} changed after it was sealed")
    return seal


def _effective_mode(seal: dict[str, Any]) -> str:
    mode = str(seal["mode"])
    wanted = _posix.environ.get(b"PTHGUARD_MODE") if _SEP == "/" else None
    if wanted == b"warn" and seal["allow_env_override"]:
        return "warn"
    return mode


# -- refusing ------------------------------------------------------------------------------


def _report(state: _State | None, headline: str, extra: list[str], action: str = "warned") -> None:
    seal = state.seal if state is not None else None
    lines = [f"pthguard: {headline}"]
    if state is not None:
        lines.extend(v.line() for v in state.violations)
    lines.extend(extra)
    if seal is not None:
        lines.append(
            f"  manifest version {seal['manifest_version']}, signed by {seal['signers']}; "
            f"run `pthguard verify --python {_python(seal)}` for details"
        )
    try:
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
    except Exception:
        _posix.write(2, ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace"))
    _event(state, headline, action, state.violations if state is not None else [], "startup")


def _python(seal: dict[str, Any] | None) -> str:
    """The guarded environment's interpreter, for the commands a report prints (not this
    process's, which may be another environment's or the sealed launcher)."""
    return str(seal["environment"][0]) if seal is not None else sys.executable


def _cache_name() -> str:
    """The file name of the gate's hash cache (``pthguard-TOKEN-CACHE_TAG.cache``): in the
    user's cache directory, or beside the seal when there is no home."""
    token = _dirname(_SEAL).rpartition(_SEP)[2].lstrip(".")  # pthguard-TOKEN
    return f"{token}-{sys.implementation.cache_tag}.cache"


def _refuse(state: _State | None, headline: str, extra: list[str] | None = None) -> None:
    _report(state, headline, extra or [], "refused")
    _posix._exit(EXIT_REFUSED)


_SEAL_READ: Any = None  # the seal last read, also when a check of it failed


def _event(state: _State | None, headline: str, action: str, violations: Any, stage: str) -> None:
    """A refusal event (cold half), where the signed policy names a target. Never raises:
    the refusal or the report it belongs to goes on; a failure is one line on stderr."""
    try:
        seal = state.seal if state is not None else _SEAL_READ
        if seal is None or not seal.get("events"):
            return
        _need_cold(seal)
        _emit_event(
            state, seal, headline=headline, action=action, violations=violations, stage=stage
        )
    except Exception as exc:
        try:  # noqa: SIM105 (contextlib is not a builtin)
            _posix.write(2, f"pthguard: could not write the refusal event ({exc!r})\n".encode())
        except Exception:  # noqa: S110
            pass


def _conclude(state: _State, stage: str) -> None:
    """Refuse (enforce) or warn about what was found so far."""
    if not state.violations:
        return
    if state.changing:  # judged by `pthguard change` when its command has finished
        state.violations = []
        return
    if state.mode == "enforce":
        _refuse(state, "refusing to start: this environment does not match its signed manifest")
    fresh = [v for v in state.violations if v.line() not in state.reported]
    state.reported.update(v.line() for v in fresh)
    state.violations = fresh
    if fresh:
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
                f"{_python(state.seal if state is not None else None)}` and reinstall with "
                "`pthguard install`"
            ],
        )
    _report(state, f"warning: the startup gate failed ({text}); continuing in warn mode", [])


_FALLBACK_MODE = "enforce"


# -- site directories --------------------------------------------------------------------------


def _processed_site_dirs(state: _State, site: Any, pending: Any = ()) -> list[str]:
    """Site directories this start processed, in order: on sys.path (or ``pending``, about
    to be added by a 3.15 batch) and known to site."""
    sealed = [s[SITE_PATH] for s in state.seal["sites"]]
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


def _final_checks(state: _State, processed: list[str]) -> None:
    """Reconcile every processed site directory and the distributions.

    A directory whose stamp is the sealed one has the same entries as when it was sealed:
    no file can have been added before the gate, and no distribution added or removed. Only
    the others go to the cold half (the hash cache, a listing, the distributions). A
    directory is reconciled once per start; in-place edits of module files are the import
    guard's (:mod:`.imports`)."""
    t0 = _time.perf_counter_ns()
    # What the cache vouches for is the state as of now, before the first stamp is taken:
    # a change after the listing, in the clock tick of the stamp, must stay racily clean
    # however long this start takes to write the cache.
    verified_ns = _time.time_ns()
    sealed_at = state.seal["sealed_at_ns"]
    pending = []
    for sitedir in processed:
        if sitedir in state.checked:
            continue
        state.checked.add(sitedir)
        site = state.sites.get(sitedir)
        try:
            stamp = dir_stamp(_posix.stat(sitedir))
        except OSError:
            stamp = None
        if (
            site is not None
            and stamp is not None
            and stamp == site[SITE_STAMP]
            and (stamp[1] < sealed_at)
        ):
            continue
        pending.append((sitedir, site, stamp))
    if pending:
        _need_cold(state.seal)
        _check_sites(state, pending, verified_ns)
    state.timing.append(("site checks", _time.perf_counter_ns() - t0))


def _site_dirs_of_start(state: _State, site: Any) -> list[str]:
    """Every site directory this start processes, known before site has processed them
    all: the sealed ones that exist (the user site only when enabled for this start) and an
    enabled user site that was not sealed. Reconciled before any allowed import line runs."""
    enabled = getattr(site, "ENABLE_USER_SITE", None)
    if enabled is None:  # a venv with system site packages: main() decides after venv()
        enabled = site.check_enableusersite()
    user = site.getusersitepackages() if enabled else None
    found = []
    for entry in state.seal["sites"]:
        if entry[SITE_ROLE] == "user" and not enabled:
            continue
        found.append(entry[SITE_PATH])
    if user and user not in found:
        found.append(user)
    out = []
    for path in found:
        try:
            _posix.stat(path)
        except OSError:
            if path in state.sites and path in sys.path:  # processed, then removed
                out.append(path)
            continue
        out.append(path)
    return out


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
            _need_cold(state.seal)
            _startup_module_violation(state, f"changed {name}", own, data, written)
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
        what = f"changed {name}" if expected_path == origin else f"unlisted {name}"
        _need_cold(state.seal)
        _startup_module_violation(state, what, origin, data, expected)
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
    if name == "sitecustomize" and _posix.environ.get(b"PTHGUARD_DEBUG") == b"timing":
        try:
            _need_cold(state.seal)
            _timing(state)  # the end of the gate's work for this start
        except Exception as exc:
            _internal_error(state, exc)


# -- 3.10-3.14: the addpackage hook ----------------------------------------------------------


_SITE_DECIDES = object()
_HIDDEN_FLAGS = sys.version_info >= (3, 13) and (
    hasattr(_posix.stat_result, "st_flags") or hasattr(_posix.stat_result, "st_file_attributes")
)  # else no file can carry the flag: no lstat needed


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
            if not state.upfront:  # the sealed launcher: site has now set up the user site
                _upfront(state, site)
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
            if hidden_flag(st):
                return _SITE_DECIDES
        if full in state.verdicts:  # a venv's site-packages is processed twice
            return state.verdicts[full]
        if full in state.seen:  # reported by the reconciliation: never run
            state.verdicts[full] = None
            return None
        state.seen.add(full)
        try:
            data = _read(full)
        except OSError:
            data = None  # site would skip an unreadable file too
        expected = state.allowed(sitedir, name)
        if data is not None and data != expected:
            _need_cold(state.seal)
            # In a venv, site-packages is processed twice: a file that sorts before the gate
            # ran in the first pass (before the hook existed); this is the second pass.
            before = state.ran(full)
            if _pth_violation(state, sitedir, name, full, data, expected=expected, before=before):
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


# -- entry ---------------------------------------------------------------------------------


def _start() -> tuple[_State, Any]:
    """Load the seal and a fresh state for this start (the mode a failure falls back to)."""
    global _FALLBACK_MODE
    t0 = _time.perf_counter_ns()
    seal = _load_seal()
    _FALLBACK_MODE = seal["mode"]
    state = _State(seal)
    state.mode = _effective_mode(seal)
    state.changing = _changing()
    state.reported = _reported_before()
    # from the .pth line (or launcher) to here: reading and running the compiled gate
    state.timing.append(("load gate", t0 - _T0))
    state.timing.append(("load seal", _time.perf_counter_ns() - t0))
    return state, seal


def _changing() -> bool:
    """Is this process part of a ``pthguard change``? Its ``PTHGUARD_CHANGE`` must be the
    token of the change in progress, which only ``pthguard change`` writes (the ``change``
    file in the state directory, where this process could not write it): a variable left in
    an image or a shell after the change counts for nothing."""
    token = _posix.environ.get(b"PTHGUARD_CHANGE") if _SEP == "/" else None
    if not token:
        return False
    try:
        data = _read(_join(_dirname(_SEAL), "change"))
    except OSError:
        return False
    return len(token) >= 32 and data.split(b"\n", 1)[0] == token


def _reported_before() -> set[str]:
    """Warn-mode lines an earlier run of the gate in this process wrote (a 3.15 venv runs
    the gate's line in two batches): found through the import guard it armed, and used
    only to not repeat a warning, never to skip a check."""
    for hook in sys.path_hooks:
        if getattr(hook, "__name__", "") == "_guarded_path_hook":
            earlier = getattr(getattr(hook, "__globals__", {}).get("_IMPORTS"), "state", None)
            reported = getattr(earlier, "reported", None)
            if type(reported) is set:
                return reported
    return set()


def _run_gate() -> None:
    """The gate ``.pth`` line: check every site directory of this start, then arm the
    import guard and the hooks, before site runs any other startup file's code. Nothing
    another module can set makes it skip a check: each run checks (a 3.15 batch that
    reaches the gate twice checks twice)."""
    site = sys.modules["site"]
    state = None
    try:
        state, _ = _start()
        if sys.prefix != state.seal["environment"][1]:
            _need_cold(state.seal)
            _foreign_start(state)  # uv run --with: another environment added this directory
        # site appends a directory to sys.path before it processes its .pth files: those
        # on sys.path now were processed before the gate (a user site outside a venv).
        state.before = {d for d in sys.path if d != _dirname(_GATE)}
        _arm_imports(state, site)
        _arm_writes(state)
        if hasattr(site, "StartupState"):
            _need_cold(state.seal)
            _gate_pep829(state, site)
        else:
            _upfront(state, site)
            _install_hooks(state, site)
    except Exception as exc:
        _internal_error(state, exc)


def _check_interpreter(state: _State) -> None:
    """``pyvenv.cfg`` and ``bin/python*`` as sealed, and the base prefix they lead to: a wheel
    can rewrite them (its ``.data``), and they run before any Python code. Found changed,
    the code they point at already ran: refused, reported EXECUTED."""
    files, base_prefix = state.seal["interpreter"]
    for path, kind, expected in files:
        try:
            if kind == "link":
                same = _posix.readlink(path) == expected
            elif kind == "bytes":
                same = _read(path) == expected
            else:  # a copied interpreter: its fingerprint, else its digest
                same = file_fingerprint(_posix.stat(path)) == expected[0]
                if not same:
                    _need_cold(state.seal)
                    same = _digest(state, _read(path)) == expected[1]
        except OSError:
            same = False
        if not same:
            state.violate(
                "changed interpreter file", path, "not as sealed", "EXECUTED before the gate ran"
            )
    if sys.base_prefix != base_prefix:
        state.violate(
            "changed interpreter",
            sys.base_prefix,
            f"sys.base_prefix, sealed {base_prefix}",
            "EXECUTED before the gate ran",
        )


def _upfront(state: _State, site: Any) -> None:
    """Reconcile the site directories of this start and refuse (enforce) before the first
    allowed import line runs."""
    state.upfront = True
    _check_interpreter(state)
    _final_checks(state, _site_dirs_of_start(state, site))
    if state.violations and state.mode == "enforce":
        _need_cold(state.seal)
        _report_startup_modules(state)  # the whole picture in the one refusal
    _conclude(state, "site directories")


def _main() -> None:
    if _ROLE == "gate":
        _run_gate()
        return
    if _ROLE == "sealed":  # the launcher's blob holds it (gate/sealed.py)
        _run_sealed()
        return
    try:
        _need_cold(_load_seal())
    except Exception as exc:
        _refuse(None, f"refusing to start: the startup gate did not run, and {exc}")
        _internal_error(None, exc)
        return
    _run_watchdog()


if _ROLE:
    _main()
