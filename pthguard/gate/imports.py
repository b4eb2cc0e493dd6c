"""The import guard: every module file loaded from a guarded site directory is checked
against the signed manifest before its code runs.

Part of the hot half (compiled and executed with it, in one namespace, before :mod:`.hot`).
The gate arms it (:func:`_arm_imports`) before site runs any allowed import line, and the
sealed launcher before ``site.main()``. It adds one path hook in front of
``sys.path_hooks``: for a directory inside a guarded site directory (the sealed ones and a
processed user site) it returns a :class:`FileFinder` whose loaders check what they load:

* source: the bytecode ``pthguard install`` compiled from the verified source in a clean
  process into its own store (``bytecode/`` in the state directory: ``__pycache__`` is never
  read), trusted by its sealed stat fingerprint or digest, while the source still has its
  signed bytes; else the source itself, read once, checked and compiled (never written back);
* sourceless bytecode and extension modules: their RECORD digest;
* any other module file (a dropped ``extra.py``, a ``.so`` beside a ``.py``) is unlisted.

A fingerprint is taken from the descriptor the bytes were read from (``fstat``), so the bytes
checked are the bytes executed. A warm import costs one ``fstat`` and a dictionary lookup.

In enforce mode a refused module never executes: during startup the interpreter refuses to
start (exit 78); later the import fails with :class:`UnverifiedModuleError` (an
``ImportError``) naming the file, the expected and the found digest, and one line on stderr.
In warn mode the line is a warning and the module runs.

Digest tables are per distribution (``modules/N.bin`` in the state directory, each checked
against the checksum the seal carries) and load on the first import that needs them.
"""

# ruff: noqa: ANN001, ANN202, BLE001, PLW0603, SIM105
# mypy: disable-error-code="no-untyped-def,attr-defined,name-defined,misc"
import sys

from pthguard.gate.schema import checksum, file_fingerprint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pthguard.gate.cold import _project_module
    from pthguard.gate.hot import (
        _SEAL,
        _SEP,
        _dirname,
        _event,
        _internal_error,
        _io,
        _join,
        _marshal,
        _need_cold,
        _posix,
        _python,
        _read,
        _refuse,
        _report,
        _State,
        _Violation,
    )
else:
    Any = object

_external: Any = sys.modules["_frozen_importlib_external"]
_IMPORTS: Any = None  # the _ImportGuard of this process, once armed


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
    loader = _external.ExtensionFileLoader(name, path)
    spec = _external.spec_from_file_location(name, path, loader=loader)
    module = bootstrap._load(spec)
    return getattr(module, "openssl_sha256", None) or module.sha256


class UnverifiedModuleError(ImportError):
    """A module file of a guarded site directory that the signed manifest does not allow."""


def _read_fstat(path: str) -> tuple[bytes, Any]:
    """The bytes of ``path`` and the stat of the descriptor they were read from, taken after
    reading: a write during the read changes the fingerprint, and the bytes are hashed."""
    with _io.FileIO(path, "r") as handle:
        data: bytes = handle.readall()
        st = _posix.fstat(handle.fileno())
    return data, st


def _normpath(path: str) -> str:
    """Absolute, without ``.``, ``..`` and doubled separators (no file-system access)."""
    if not path.startswith(_SEP):
        path = _join(_posix.getcwd(), path) if path not in ("", ".") else _posix.getcwd()
    parts: list[str] = []
    for part in path.split(_SEP):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return _SEP + _SEP.join(parts)


class _ImportGuard:
    """What one process knows about the module files of its guarded site directories."""

    def __init__(self, state: "_State", roots: list[str]) -> None:
        self.state = state
        # (spelling, guarded root): the sealed spellings, then aliases met through symlinks
        self.prefixes: list[tuple[str, str]] = [(r, r) for r in roots]
        self.names = {r.rpartition(_SEP)[2] for r in roots}
        self.ids: dict[tuple[int, int], str] = {}
        for root in roots:
            try:
                st = _posix.stat(root)
            except OSError:
                continue
            self.ids[(st.st_dev, st.st_ino)] = root
        self.index: Any = None
        self.tables: dict[int, Any] = {}
        self.sha256: Any = None
        self.reported: set[str] = set()

    # -- where a file belongs ------------------------------------------------------------

    def root_of(self, path: str) -> tuple[str, str] | None:
        """(guarded root, the same root as ``path`` spells it), or None."""
        path = _normpath(path)
        for spelled, root in self.prefixes:
            if path == spelled or path.startswith(spelled + _SEP):
                return root, spelled
        if path.rpartition(_SEP)[2] not in self.names:
            return None  # not even named like a guarded root: no stat for stdlib paths
        try:  # the root itself reached through another spelling (a symlink)
            st = _posix.stat(path)
        except OSError:
            return None
        alias = self.ids.get((st.st_dev, st.st_ino))
        if alias is None:
            return None
        self.prefixes.append((path, alias))
        return alias, path

    def entry(self, path: str) -> tuple[str, str, Any]:
        """(root, path relative to it, sealed entry or None) of a module file."""
        found = self.root_of(path)
        if found is None:  # a finder of ours only serves guarded directories
            raise UnverifiedModuleError(f"{path} is outside every guarded site directory")
        root, spelled = found
        rel = _normpath(path)[len(spelled) + 1 :]
        site = self.load_index()["sites"].get(root)
        if site is None:
            return root, rel, None
        number = site[1].get(rel.partition(_SEP)[0])
        return root, rel, None if number is None else self.table(number).get(rel)

    def load_index(self) -> Any:
        if self.index is None:
            blob = self.state.seal["imports"]
            empty = {"dir": "", "store": "", "sites": {}, "tables": ()}
            self.index = _marshal.loads(blob) if blob else empty
        return self.index

    def table(self, number: int) -> Any:
        table = self.tables.get(number)
        if table is None:
            self.load_index()
            path = _join(_join(_dirname(_SEAL), self.index["dir"]), f"{number}.bin")
            raw = _read(path)
            if raw[:4] != self.index["tables"][number] or raw[:4] != checksum(raw[4:]):
                raise ValueError(f"{path} is not the file this seal was installed with")
            table = self.tables[number] = _marshal.loads(raw[4:])
        return table

    def bytecode(self, root: str, rel: str) -> str:
        """Where install put the bytecode compiled from ``rel`` (see ``guard.modules``)."""
        number = self.index["sites"][root][0]
        stem = rel.rpartition(".")[0]
        return f"{self.index['store']}{_SEP}{number}{_SEP}{stem}.{sys.implementation.cache_tag}.pyc"

    def digest(self, data: bytes) -> bytes:
        if self.sha256 is None:
            self.sha256 = _load_sha256(self.state.seal.get("sha256_module"))
        return bytes(self.sha256(data).digest())

    # -- verdicts ------------------------------------------------------------------------

    def checked(self, path: str, fullname: str, *, code: bool) -> bytes:
        """A sourceless (``code``: its bytes are returned and executed) or extension module
        file, checked against its digest; an unchanged fingerprint spares the read of an
        extension, which the dynamic loader opens by name anyway."""
        _, _, entry = self.entry(path)
        with _io.FileIO(path, "r") as handle:
            unchanged = entry is not None and not code
            if unchanged and file_fingerprint(_posix.fstat(handle.fileno())) == entry[1]:
                return b""
            data: bytes = handle.readall()
            st = _posix.fstat(handle.fileno())
        if entry is None:
            if not self.project_file(path, data):
                self.refuse(fullname, path, "unlisted module file", None, data)
        elif file_fingerprint(st) != entry[1] and self.digest(data) != entry[0]:
            self.refuse(fullname, path, "changed module file", entry[0], data)
        return data

    def source_code(self, loader: Any, fullname: str) -> Any:
        """The code object of a source module: sealed bytecode, or the verified source."""
        path = loader.path
        root, rel, entry = self.entry(path)
        if entry is None:
            data, _ = _read_fstat(path)
            if not self.project_file(path, data):
                self.refuse(fullname, path, "unlisted module file", None, data)
            return loader.source_to_code(data, path)
        digest, fingerprint, pyc_fingerprint, pyc_digest = entry
        if pyc_digest is not None and not sys.flags.optimize:  # compiled from verified source
            pyc = self.bytecode(root, rel)
            cached: bytes | None = None
            try:
                cached, st = _read_fstat(pyc)
            except OSError:
                pass
            if (
                cached is not None
                and (file_fingerprint(st) == pyc_fingerprint or self.digest(cached) == pyc_digest)
                and self.source_unchanged(fullname, path, digest, fingerprint)
            ):
                return _external._compile_bytecode(
                    memoryview(cached)[16:],
                    name=fullname,
                    bytecode_path=pyc,
                    source_path=path,
                )
        data, st = _read_fstat(path)
        if file_fingerprint(st) != fingerprint and self.digest(data) != digest:
            self.refuse(fullname, path, "changed module file", digest, data)
        return loader.source_to_code(data, path)

    def project_file(self, path: str, data: bytes) -> bool:
        """Is this file of ``policy.project``'s own distribution, as its RECORD says?"""
        if self.state.seal.get("project") is None:
            return False
        root, rel, _ = self.entry(path)
        _need_cold(self.state.seal)
        return bool(_project_module(self.state, root, rel, self.digest(data)))

    def source_unchanged(self, fullname: str, path: str, digest: bytes, fingerprint: Any) -> bool:
        """Sealed bytecode stands for the signed source: the source must still be it. False:
        run the source instead (a change's command runs what it has just installed)."""
        try:
            st = _posix.stat(path)
        except OSError:
            st = None
        if st is not None and file_fingerprint(st) == fingerprint:
            return True
        data, _ = _read_fstat(path)
        if self.digest(data) != digest:
            # warn mode: the bytecode compiled from the signed source runs, not this file
            signed = "NOT executed (the signed bytecode runs)"
            self.refuse(fullname, path, "changed module file", digest, data, warn_fate=signed)
            return not self.state.changing
        return True

    def refuse(
        self,
        fullname: str,
        path: str,
        what: str,
        expected: bytes | None,
        data: bytes | None,
        *,
        warn_fate: str = "imported (warn mode)",
    ) -> None:
        """Enforce: never run it (refuse to start, or fail the import). Warn: say so once
        (``warn_fate``: what then becomes of it, for the report)."""
        found = "unreadable" if data is None else f"sha256 {self.digest(data).hex()}"
        detail = found + (f", expected sha256 {expected.hex()}" if expected else ", not signed")
        state = self.state
        if state.changing:
            # `pthguard change`: unverified code never runs as startup code (the line that
            # imports it fails); the command's own imports may run what it just installed
            if state.active:
                raise UnverifiedModuleError(
                    f"pthguard change: not running {what} {path} at startup ({detail})",
                    name=fullname,
                    path=path,
                )
            return
        enforce = state.mode == "enforce"
        fate = "NOT executed" if enforce else warn_fate
        if state.active:  # startup: .pth import lines and what they import
            state.violate(what, path, detail, fate)
            if enforce:
                _refuse(state, "refusing to start: a module does not match the signed manifest")
            _report(state, "warning: a module does not match the signed manifest (warn mode)", [])
            state.violations = []
            return
        if enforce:
            # one line for a program that catches the ImportError, and the exception
            headline = f"refused to import {fullname}"
            sys.stderr.write(f"pthguard: {headline}: {what} {path} ({detail})\n")
            _event(state, headline, "refused", [_Violation(what, path, detail, fate)], "import")
            raise UnverifiedModuleError(f"{what} {path} ({detail})", name=fullname, path=path)
        if path not in self.reported:
            self.reported.add(path)
            headline = f"warning: importing {fullname}"
            sys.stderr.write(f"pthguard: {headline}: {what} {path} ({detail})\n")
            _event(state, headline, "warned", [_Violation(what, path, detail, fate)], "import")


# Loaders are the import system's own, made by factories that put the check in front of
# the one method that reads what runs: no class is created at startup (a subclass of an
# importlib loader costs tens of microseconds), and a guarded loader is still a
# SourceFileLoader to whoever asks (pkg_resources, importlib.resources).


def _failed(fullname: str, exc: Exception) -> Any:
    """The guard itself failed (a missing or changed digest table): fail closed. During
    startup the interpreter refuses to start (enforce); later the import fails."""
    if isinstance(exc, ImportError):
        raise exc
    state = _IMPORTS.state
    if state.active:
        _internal_error(state, exc)  # enforce: exit 78; warn: reported
    message = (
        f"the import guard cannot check {fullname} ({type(exc).__name__}: {exc}); "
        f"run `pthguard status --python {_python(state.seal)}`"
    )
    if not state.active:
        _event(state, f"refused to import {fullname}: {message}", "refused", [], "import")
    raise UnverifiedModuleError(message, name=fullname) from exc


def _source_loader(fullname: str, path: str) -> Any:
    loader = _external.SourceFileLoader(fullname, path)

    def get_code(name):
        try:
            return _IMPORTS.source_code(loader, name)
        except Exception as exc:
            return _failed(name, exc)

    loader.get_code = get_code
    return loader


def _sourceless_loader(fullname: str, path: str) -> Any:
    loader = _external.SourcelessFileLoader(fullname, path)

    def get_code(name):
        try:
            data = _IMPORTS.checked(path, name, code=True)
        except Exception as exc:
            return _failed(name, exc)
        return _external._compile_bytecode(memoryview(data)[16:], name=name, bytecode_path=path)

    loader.get_code = get_code
    return loader


def _extension_loader(fullname: str, path: str) -> Any:
    # The check reads the file, the dynamic loader opens it again by name: an extension is
    # checked by content, a writer racing the import in between is outside the threat model.
    loader = _external.ExtensionFileLoader(fullname, path)
    create = loader.create_module

    def create_module(spec):
        try:
            _IMPORTS.checked(path, spec.name, code=False)
        except Exception as exc:
            return _failed(spec.name, exc)
        return create(spec)

    loader.create_module = create_module
    return loader


_LOADERS = (
    (_extension_loader, _external.EXTENSION_SUFFIXES),
    (_source_loader, _external.SOURCE_SUFFIXES),
    (_sourceless_loader, _external.BYTECODE_SUFFIXES),
)


def _refusing_finder(path: str) -> Any:
    """Stands for a guarded path that is not a directory (a zip archive dropped into a site
    directory, or named by a path line): its members are in no RECORD."""

    class _RefusingFinder:
        def find_spec(self, fullname, target=None):
            _IMPORTS.refuse(
                fullname, path, "unverifiable archive", None, None, warn_fate="NOT executed"
            )

        def invalidate_caches(self):
            pass

    return _RefusingFinder()


def _guarded_path_hook(path: str) -> Any:
    guard = _IMPORTS
    if guard is None or guard.root_of(path) is None:
        raise ImportError("not a guarded site directory", path=path)
    if _external._path_isfile(path):
        return _refusing_finder(path)
    if not _external._path_isdir(path or "."):
        raise ImportError("not a directory", path=path)
    return _external.FileFinder(path, *_LOADERS)


def _arm_imports(state: "_State", site: Any) -> None:
    """Put the import guard in front of every other path hook, for this process."""
    global _IMPORTS
    roots = [s[0] for s in state.seal["sites"]]
    try:
        user = site.getusersitepackages() if site.ENABLE_USER_SITE is not False else None
    except Exception:
        user = None
    if user and user not in roots:
        roots.append(user)
    _IMPORTS = _ImportGuard(state, roots)
    hooks = sys.path_hooks
    hooks[:] = [h for h in hooks if getattr(h, "__name__", "") != "_guarded_path_hook"]
    hooks.insert(0, _guarded_path_hook)
    cache = sys.path_importer_cache
    for key in list(cache):
        if _IMPORTS.root_of(key) is not None:
            del cache[key]
