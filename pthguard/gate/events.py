"""Refusal events: each refusal (and each warn-mode report) as one JSON line, for log
pipelines, where the signed policy asks for it (``policy.events``).

Part of the cold half (executed after :mod:`.cold` into the hot half's namespace; the
``from pthguard.gate...`` imports are blanked by the build): a warm start never loads it,
and the hot half calls it only through :func:`.hot._event`, when the seal names a target.
Same rules as the rest of the gate: standard library builtins only (no ``json``, no
``syslog``: a small encoder here, and the syslog protocol spoken over ``_socket``, builtin or
loaded by the absolute path the seal records).

Writing an event never changes what the gate decides: a target that cannot be written
(a missing directory, a symbolic link, no syslog socket) gets one line on stderr, and the
refusal goes on (exit 78) or the warn-mode start continues.

* file: one line (``\\n``-terminated, ASCII: every other character escaped), written with a
  single ``write`` on a descriptor opened ``O_WRONLY | O_APPEND | O_CREAT`` (mode 0640,
  never through a symbolic link, only to a regular file), so lines of concurrent processes
  never interleave;
* syslog: one datagram ``<PRI>Mmm dd hh:mm:ss pthguard[PID]: {json}`` (RFC 3164, as
  syslog(3) sends it) to the unix socket (a stream socket gets the message and a NUL);
  severity ``err`` for a refusal, ``warning`` for a report; the JSON is shortened to
  :data:`SYSLOG_MAX` bytes by leaving out trailing violations (``violations_omitted``).
"""

# ruff: noqa: BLE001, UP031
# mypy: disable-error-code="no-untyped-def,attr-defined"
import sys

from pthguard.gate.hot import Any, _posix, _State, _time, _Violation
from pthguard.gate.imports import _external

EVENT_NAME = "pthguard.refusal"
EVENT_SCHEMA = "pthguard-event/1"
#: The longest syslog message sent (rsyslog's default limit is 8 KiB).
SYSLOG_MAX = 8000
_SEVERITY = {"refused": 3, "warned": 4}  # LOG_ERR, LOG_WARNING
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_S_IFMT = 0o170000
_S_IFREG = 0o100000


# -- JSON ------------------------------------------------------------------------------------


def _json_str(text: str) -> str:
    """A JSON string in ASCII: anything else (lone surrogates of undecodable file names
    too) as ``\\uXXXX``."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'
    out = []
    for ch in text:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            code = ord(ch)
            if code > 0xFFFF:
                code -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 | (code >> 10), 0xDC00 | (code & 0x3FF)))
            else:
                out.append("\\u%04x" % code)
    return '"' + "".join(out) + '"'


def _json(value: Any) -> str:
    """Compact JSON of ``None``, ``bool``, ``int``, ``str``, lists, tuples and dicts with
    string keys (in their order)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is str:
        return _json_str(value)
    if kind is list or kind is tuple:
        return "[" + ",".join(_json(v) for v in value) + "]"
    if kind is dict:
        if any(type(k) is not str for k in value):
            raise TypeError("JSON object names are strings")
        return "{" + ",".join(_json_str(k) + ":" + _json(v) for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {kind.__name__} as JSON")


def _rfc3339(ns: int) -> str:
    """UTC, microseconds: ``2026-12-08T10:11:12.345678Z``."""
    seconds, rest = divmod(ns, 1_000_000_000)
    t = _time.gmtime(seconds)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
        t.tm_year,
        t.tm_mon,
        t.tm_mday,
        t.tm_hour,
        t.tm_min,
        t.tm_sec,
        rest // 1000,
    )


# -- the event -------------------------------------------------------------------------------


def _violation_doc(violation: _Violation) -> dict[str, Any]:
    fate = violation.executed
    return {
        "what": violation.what,
        "path": violation.path,
        "detail": violation.detail,
        # the code ran: before the gate could check it, or imported in warn mode
        "executed": "EXECUTED" in fate or fate.startswith("imported"),
        "fate": fate or None,
    }


def _event_doc(
    state: _State | None,
    seal: dict[str, Any],
    *,
    headline: str,
    action: str,
    violations: list[_Violation],
    stage: str,
    now_ns: int,
) -> dict[str, Any]:
    """The event, its fields in the documented order (README, "Refusal events")."""
    mode = state.mode if state is not None else ("enforce" if action == "refused" else "warn")
    argv = getattr(sys, "orig_argv", None) or sys.argv
    prefix = sys.prefix
    if prefix == sys.base_prefix:  # a venv's site has not run yet (-S): the signed prefix
        prefix = seal["events"]["prefix"]
    return {
        "event": EVENT_NAME,
        "schema": EVENT_SCHEMA,
        "time": _rfc3339(now_ns),
        "action": action,
        "stage": stage,
        "mode": mode,
        "headline": headline,
        "host": _posix.uname().nodename,
        "pid": _posix.getpid(),
        "uid": _posix.getuid(),
        "argv": [str(a) for a in argv],
        "environment": {
            "prefix": prefix,
            "executable": sys.executable,
            "python": "%d.%d.%d" % sys.version_info[:3],
            "manifest": seal["manifest_path"],
        },
        "manifest_version": seal["manifest_version"],
        "signers": seal["signers"],
        "violations": [_violation_doc(v) for v in violations],
    }


def _emit_event(
    state: _State | None,
    seal: dict[str, Any],
    *,
    headline: str,
    action: str,
    violations: list[_Violation],
    stage: str,
) -> None:
    """Write the event to every target of ``seal["events"]``; a target that fails gets one
    line on stderr (the others are still written)."""
    targets = seal["events"]
    now_ns = _time.time_ns()
    doc = _event_doc(
        state,
        seal,
        headline=headline,
        action=action,
        violations=violations,
        stage=stage,
        now_ns=now_ns,
    )
    path = targets["path"]
    if path is not None:
        try:
            _append_line(path, (_json(doc) + "\n").encode("ascii"))
        except Exception as exc:
            _say(f"pthguard: could not write the refusal event to {path}: {_reason(exc)}")
    syslog = targets["syslog"]
    if syslog is not None:
        try:
            _send_syslog(syslog, targets["socket_module"], _SEVERITY[action], doc, now_ns)
        except Exception as exc:
            _say(
                f"pthguard: could not send the refusal event to syslog ({syslog[0]}): "
                f"{_reason(exc)}"
            )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def _say(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except Exception:
        _posix.write(2, (line + "\n").encode("utf-8", "backslashreplace"))


# -- the file --------------------------------------------------------------------------------


def _append_line(path: str, data: bytes) -> None:
    """One ``write`` in append mode: whole lines, whatever other processes append."""
    flags = _posix.O_WRONLY | _posix.O_APPEND | _posix.O_CREAT
    # never through a symbolic link; a FIFO without a reader fails instead of blocking
    flags |= getattr(_posix, "O_NOFOLLOW", 0) | getattr(_posix, "O_NONBLOCK", 0)
    flags |= getattr(_posix, "O_CLOEXEC", 0)
    try:
        fd = _posix.open(path, flags, 0o640)
    except OSError as exc:
        if exc.errno == _errno().ELOOP:
            raise OSError(exc.errno, "a symbolic link (never written through)") from None
        raise
    try:
        if _posix.fstat(fd).st_mode & _S_IFMT != _S_IFREG:
            raise OSError(0, "not a regular file")
        written = _posix.write(fd, data)
        if written != len(data):
            raise OSError(0, f"wrote {written} of {len(data)} bytes")
    finally:
        _posix.close(fd)


def _errno() -> Any:
    return sys.modules.get("errno") or __import__("errno")  # builtin


# -- syslog ----------------------------------------------------------------------------------


def _load_socket(location: Any) -> Any:
    """``_socket``: builtin, or the interpreter's own extension loaded by its absolute path
    (a private module object: ``sys.modules`` is left as it is)."""
    if "_socket" in sys.builtin_module_names:
        return __import__("_socket")
    if not location:
        raise RuntimeError("no _socket module recorded in the seal")
    name, path = location
    bootstrap = sys.modules["_frozen_importlib"]
    loader = _external.ExtensionFileLoader(name, path)
    spec = _external.spec_from_file_location(name, path, loader=loader)
    module = bootstrap.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _syslog_message(
    doc: dict[str, Any], priority: int, now_ns: int, pid: int, limit: int = SYSLOG_MAX
) -> bytes:
    """``<PRI>Mmm dd hh:mm:ss pthguard[PID]: JSON``, at most ``limit`` bytes: trailing
    violations are left out (and counted in ``violations_omitted``) until it fits."""
    t = _time.localtime(now_ns // 1_000_000_000)
    head = "<%d>%s %2d %02d:%02d:%02d pthguard[%d]: " % (
        priority,
        _MONTHS[t.tm_mon - 1],
        t.tm_mday,
        t.tm_hour,
        t.tm_min,
        t.tm_sec,
        pid,
    )
    text = _json(doc)
    if len(head) + len(text) <= limit:
        return (head + text).encode("ascii")
    violations = doc["violations"]
    encoded = [_json(v) for v in violations]
    short = dict(doc)
    short["violations"] = []
    short["violations_omitted"] = len(violations)
    budget = limit - len(head) - len(_json(short))
    kept = 0
    for item in encoded:
        budget -= len(item) + (1 if kept else 0)
        if budget < 0:
            break
        kept += 1
    short["violations"] = violations[:kept]
    short["violations_omitted"] = len(violations) - kept
    return (head + _json(short)).encode("ascii")


def _send_syslog(
    target: Any, socket_module: Any, severity: int, doc: dict[str, Any], now_ns: int
) -> None:
    """One message to the syslog socket: a datagram, or on a stream socket the message and a
    NUL (as syslog(3) does); a daemon that does not take it within a second is given up."""
    address, facility = target
    sock_mod = _load_socket(socket_module)
    message = _syslog_message(doc, facility * 8 + severity, now_ns, doc["pid"])
    sock = sock_mod.socket(sock_mod.AF_UNIX, sock_mod.SOCK_DGRAM)
    try:
        sock.settimeout(1.0)
        try:
            sock.connect(address)
        except OSError as exc:
            if exc.errno != _errno().EPROTOTYPE:
                raise
            sock.close()
            sock = sock_mod.socket(sock_mod.AF_UNIX, sock_mod.SOCK_STREAM)
            sock.settimeout(1.0)
            sock.connect(address)
            sock.sendall(message + b"\0")
            return
        sock.send(message)
    finally:
        sock.close()
