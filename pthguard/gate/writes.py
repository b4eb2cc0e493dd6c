"""The write guard: a guarded environment's own processes do not change it.

Part of the hot half (compiled and executed with it, in one namespace, after
:mod:`.imports`). The gate arms it (:func:`_arm_writes`) before site runs any allowed import
line, and the sealed launcher before ``site.main()``: one audit hook (PEP 578) that refuses,
before the operating system is asked, to create, replace, move, remove, truncate, link or
change the mode of anything under the environment's site directories and its scripts
directory (``seal["writes"]``). The refusal is a :class:`PermissionError` (``EPERM``) whose
message names the path and ``pthguard change``, and one line on stderr per process, so
``pip install`` fails at its first write with nothing written.

An audit hook cannot be removed, and the hook holds its own references to the functions it
calls: code that runs later cannot switch it off by replacing ``os.path``. It is a guardrail
for the environment's own tools (pip, setuptools, a runtime ``pip install``), not a
sandbox: native code (``ctypes``, an extension) and other programs (``uv``, ``cp``) write
without raising audit events. What they change is refused at the next start.

Writes under ``__pycache__`` are refused silently: the import system treats a failed
bytecode write as a cache miss, and the import guard never reads ``__pycache__``.

During ``pthguard change`` (``state.changing``) the hook is not armed.
"""

# ruff: noqa: SIM105
# mypy: disable-error-code="no-untyped-def,attr-defined,name-defined"
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pthguard.gate.hot import (
        _SEAL,
        _SEP,
        _cache_name,
        _dirname,
        _join,
        _posix,
        _python,
        _runtime_template,
        _State,
    )
else:
    Any = object

# event -> ((index of a path argument, index of its dir_fd argument or -1), ...), with the
# verb of the refusal; ``os.replace`` raises ``os.rename``, ``shutil.move`` raises
# ``os.rename`` or ``open`` and ``os.remove``, ``os.makedirs`` raises ``os.mkdir``
_WRITE_EVENTS = {
    "open": (((0, -1),), "write"),
    "os.remove": (((0, 1),), "remove"),
    "os.rmdir": (((0, 1),), "remove the directory"),
    "os.mkdir": (((0, 2),), "create the directory"),
    "os.rename": (((0, 2), (1, 3)), "move"),
    "os.symlink": (((1, 2),), "create the link"),
    "os.link": (((1, 3),), "create the link"),
    "os.truncate": (((0, -1),), "truncate"),
    "os.chmod": (((0, 2),), "change the mode of"),
    "os.chown": (((0, 3),), "change the owner of"),
    "os.utime": (((0, 3),), "change the times of"),
    "os.chflags": (((0, -1),), "change the flags of"),
    "os.setxattr": (((0, -1),), "change the attributes of"),
    "os.removexattr": (((0, -1),), "change the attributes of"),
    "shutil.rmtree": (((0, 1),), "remove the tree"),
}


def _arm_writes(state: "_State") -> None:
    """Refuse this process's writes under the sealed directories (not during a change)."""
    roots = state.seal["writes"]
    if not roots or state.changing:
        return
    python = _python(state.seal)
    os = sys.modules["os"]  # imported by site before any .pth file; bound now, not looked up
    fspath, fsdecode, getcwd = os.fspath, os.fsdecode, os.getcwd
    normpath, realpath = os.path.normpath, os.path.realpath
    readlink, write = _posix.readlink, _posix.write
    sep = _SEP
    prefixes = tuple(r.rstrip(sep) + sep for r in roots)
    mask = _posix.O_WRONLY | _posix.O_RDWR | _posix.O_CREAT | _posix.O_TRUNC | _posix.O_APPEND
    events = _WRITE_EVENTS
    told: list[str] = []
    own_cache = _join(_dirname(_SEAL), _cache_name())  # the gate's, when there is no home
    stat = _posix.stat
    resolved: dict[str, str] = {}
    seal = state.seal
    runtime = seal["runtime_pth"]  # startup files signed tools write at run time
    runtime_events = ("open", "os.remove")

    def target(args: Any, index: int, fd_index: int) -> Any:
        """The absolute, normalised path an event names, or None (a descriptor)."""
        path = args[index]
        if type(path) is int:
            return None
        path = fspath(path)
        if type(path) is bytes:
            path = fsdecode(path)
        if not path.startswith(sep):
            fd = args[fd_index] if fd_index >= 0 and fd_index < len(args) else None
            if type(fd) is int and fd >= 0:
                try:
                    base = readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    return None  # cannot tell where: not a path of ours as far as we know
            else:
                base = getcwd()
            path = base + sep + path
        if sep + "." in path or sep + sep in path:  # "..", ".", "//": else already normal
            path = normpath(path)
        return path

    def refuse(verb: str, path: str) -> None:
        message = (
            f"pthguard: refused to {verb} {path}: this environment is guarded; "
            f"change it with `pthguard change --python {_quote(python)} -- {_this_command()}`"
        )
        if path.rpartition(sep)[2].startswith("subcover_"):
            message += (
                " (coverage's subprocess measurement writes this file: allowed only under the"
                " exact template of a coverage 7.10-7.12 signed in this environment)"
            )
        if f"{sep}__pycache__" not in path and not told:
            told.append(path)
            try:
                write(2, (message + "\n").encode("utf-8", "backslashreplace"))
            except OSError:
                pass
        raise PermissionError(1, message, path)

    def hook(event: str, args: Any) -> None:
        spec = events.get(event)
        if spec is None:
            return
        if event == "open" and not (args[2] & mask):
            return
        places, verb = spec
        for index, fd_index in places:
            path = target(args, index, fd_index)
            if path is None or path == own_cache or path.startswith(own_cache + "."):
                continue
            if event == "os.mkdir":
                try:
                    stat(path)
                    continue  # it exists: the system refuses (os.makedirs(exist_ok=True))
                except OSError:
                    pass
            head, _, tail = path.rpartition(sep)
            if event in runtime_events and head in runtime and _runtime_template(seal, head, tail):
                continue  # coverage's subcover_<pid>.pth: its bytes are checked at each start
            if (path + sep).startswith(prefixes):
                refuse(verb, path)
            # through a symlinked directory (lib64 -> lib): the directory's real path, cached
            # (a program writes many files to few directories)
            real = resolved.get(head)
            if real is None:
                if len(resolved) >= 4096:
                    resolved.clear()
                real = resolved[head] = realpath(head or sep)
            if real != head and (real + sep + tail + sep).startswith(prefixes):
                refuse(verb, path)

    sys.addaudithook(hook)


def _quote(word: str) -> str:
    """``word`` as a POSIX shell reads it back (``shlex.quote``, without importing it)."""
    safe = "@%+=:,./-_"
    if word and all(c.isalnum() or c in safe for c in word) and word.isascii():
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def _this_command() -> str:
    """The command line of this process, as it can be run again: a script (``bin/pip
    install x``) by its path and arguments, else the interpreter's own command line."""
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    if len(argv) > 1 and sys.argv and argv[1] == sys.argv[0] and not argv[1].startswith("-"):
        argv = list(sys.argv)  # a console script or a file: its shebang names the python
    return " ".join(_quote(w) for w in argv)
