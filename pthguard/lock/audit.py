"""``pthguard audit-lock``: is a lock file really a lock? And does an environment match it?

``audit-lock LOCK... [--python PY] [--format text|json]``

A lock is either a pip requirements file (``requirements.txt``, ``*.lock``, as
``pip-compile --generate-hashes`` writes them) or a PEP 751 ``pylock.toml``.

Requirements files are read as pip reads them: physical lines ending in ``\\`` are joined,
``#`` comments (at the start of a line or after whitespace) are dropped, ``-r``/``-c``
includes are followed relative to the including file (each file once; a cycle is an
error, as it is for pip). Every requirement must be an exact pin (``==V`` without a
wildcard, or ``===V``) with at least one ``--hash=sha256:``; a requirement with only md5 or
sha1 hashes, an editable (``-e``), a VCS URL or any other direct URL or path is reported: it
cannot be pinned by hash. Environment markers are kept (and evaluated against ``--python``).
Entries of ``-c`` constraint files must be exact pins; they need no hash and install nothing.

``pylock.toml`` (PEP 751, read with :mod:`tomllib`, so Python 3.11+): every package needs a
``version`` and artifacts (``wheels``, ``sdist`` or ``archive``) that each carry
``hashes.sha256``; ``vcs`` and ``directory`` packages cannot be pinned by hash.

With ``--python PY`` (one lock only) the distributions installed in ``PY``'s site
directories (found as ``snapshot`` finds them: ``PY -S -I``, none of its startup code runs)
are compared with the locked packages whose markers hold for ``PY``: installed but not
locked, locked but not installed, and a different version (names PEP 503 normalised,
versions compared as PEP 440 versions).

Exit codes: 0 clean, 1 any finding, 3 a lock that cannot be read or parsed (one line that
names the file and line).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pthguard.errors import PthguardError, UsageError

__all__ = [
    "Finding",
    "Lock",
    "LockedPackage",
    "audit",
    "audit_environment",
    "canonical_version",
    "evaluate_marker",
    "is_pylock",
    "load",
    "parse_marker",
    "parse_pylock",
    "parse_requirements",
    "render_json",
    "render_text",
]

SCHEMA = "pthguard-audit-lock/1"
EXIT_OK, EXIT_FINDINGS = 0, 1

Source = Literal["pin", "url", "vcs", "editable", "directory", "archive", "artifacts"]


class LockError(PthguardError):
    """A lock file cannot be read or parsed (exit code 3)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    kind: str
    file: str
    line: int | None
    name: str | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "name": self.name,
            "message": self.message,
        }

    def text(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        name = f"{self.name}: " if self.name else ""
        return f"{where}: {name}{self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedPackage:
    """One requirement line or ``[[packages]]`` entry."""

    name: str | None  # PEP 503 normalised; None for a bare URL or path
    version: str | None  # the exact version, when pinned
    arbitrary: bool  # ``===``: string equality
    marker: str | None
    marker_tree: Any
    source: Source
    file: str
    line: int | None
    constraint: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "marker": self.marker,
            "source": self.source,
            "file": self.file,
            "line": self.line,
            "constraint": self.constraint,
        }


@dataclass(slots=True, kw_only=True)
class Lock:
    path: str
    kind: Literal["requirements", "pylock"]
    files: list[str] = field(default_factory=list)
    packages: list[LockedPackage] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def normalize_name(name: str) -> str:
    """PEP 503."""
    return re.sub(r"[-_.]+", "-", name).lower()


# -- PEP 440 versions (enough to compare pins with installed versions, and for markers) -----

_VERSION_RE = re.compile(
    r"""\s*v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*\Z""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE = {"a": "a", "alpha": "a", "b": "b", "beta": "b", "c": "rc", "pre": "rc", "preview": "rc"}
_PRE_ORDER = {"a": 0, "b": 1, "rc": 2}

VersionKey = tuple[Any, ...]


def _parse_version(text: str) -> dict[str, Any] | None:
    match = _VERSION_RE.match(text)
    if match is None:
        return None
    segments = tuple(int(p) for p in match.group("release").split("."))
    release = list(segments)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    pre = None
    if match.group("pre"):
        label = match.group("pre_l").lower()
        pre = (_PRE.get(label, label), int(match.group("pre_n") or 0))
    post = None
    if match.group("post"):
        post = int(match.group("post_n1") or match.group("post_n2") or 0)
    dev = int(match.group("dev_n") or 0) if match.group("dev") else None
    local = match.group("local")
    return {
        "epoch": int(match.group("epoch") or 0),
        "release": tuple(release),
        "segments": segments,
        "pre": pre,
        "post": post,
        "dev": dev,
        "local": re.sub(r"[-_]", ".", local.lower()) if local else None,
    }


def canonical_version(text: str) -> str | None:
    """PEP 440 normal form without trailing ``.0`` (``1.0.0`` -> ``1``), or None."""
    v = _parse_version(text)
    if v is None:
        return None
    out = f"{v['epoch']}!" if v["epoch"] else ""
    out += ".".join(map(str, v["release"]))
    if v["pre"]:
        out += f"{v['pre'][0]}{v['pre'][1]}"
    if v["post"] is not None:
        out += f".post{v['post']}"
    if v["dev"] is not None:
        out += f".dev{v['dev']}"
    if v["local"]:
        out += f"+{v['local']}"
    return out


def _version_key(text: str) -> VersionKey | None:
    """An ordering key following PEP 440 (local versions ignored)."""
    v = _parse_version(text)
    if v is None:
        return None
    low, high = (0,), (2,)
    if v["pre"] is None and v["post"] is None and v["dev"] is not None:
        pre: tuple[Any, ...] = low
    elif v["pre"] is None:
        pre = high
    else:
        pre = (1, _PRE_ORDER[v["pre"][0]], v["pre"][1])
    post = low if v["post"] is None else (1, v["post"])
    dev = high if v["dev"] is None else (1, v["dev"])
    return (v["epoch"], v["release"], pre, post, dev)


def versions_match(locked: str, installed: str, *, arbitrary: bool = False) -> bool:
    """Does ``==locked`` (``===locked`` when ``arbitrary``) accept ``installed``?"""
    if arbitrary:
        return locked.strip().lower() == installed.strip().lower()
    want, have = _parse_version(locked), _parse_version(installed)
    if want is None or have is None:
        return locked.strip().lower() == installed.strip().lower()
    if want["local"] is None:  # ==1.0 accepts 1.0+anything (PEP 440)
        have = {**have, "local": None}
    drop = ("segments",)
    return {k: v for k, v in want.items() if k not in drop} == {
        k: v for k, v in have.items() if k not in drop
    }


# -- PEP 508 environment markers -----------------------------------------------------------

MARKER_VARIABLES = frozenset(
    {
        "implementation_name",
        "implementation_version",
        "os_name",
        "platform_machine",
        "platform_python_implementation",
        "platform_release",
        "platform_system",
        "platform_version",
        "python_full_version",
        "python_version",
        "sys_platform",
        "extra",
    }
)
_LEGACY_VARIABLES = {
    "os.name": "os_name",
    "sys.platform": "sys_platform",
    "platform.version": "platform_version",
    "platform.machine": "platform_machine",
    "platform.python_implementation": "platform_python_implementation",
    "python_implementation": "platform_python_implementation",
}
_MARKER_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'[^']*'|"[^"]*")
    | (?P<op>===|==|!=|<=|>=|~=|<|>|not\s+in\b|in\b)
    | (?P<paren>[()])
    | (?P<bool>and\b|or\b)
    | (?P<var>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


class MarkerError(ValueError):
    pass


#: ``("cmp", left, op, right)``, ``("and", a, b)`` or ``("or", a, b)``; a value is
#: ``("var", name)`` or ``("str", text)``.
MarkerTree = tuple[Any, ...]


def _marker_tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _MARKER_TOKEN.match(text, pos)
        if match is None:
            raise MarkerError(f"unexpected {text[pos:].strip()[:20]!r} in marker")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "op":
            value = re.sub(r"\s+", " ", value)
        elif kind == "var":
            value = _LEGACY_VARIABLES.get(value, value)
            if value not in MARKER_VARIABLES:
                raise MarkerError(f"unknown marker variable {value!r}")
        tokens.append((kind, value))
        pos = match.end()
    return tokens


def parse_marker(text: str) -> MarkerTree:
    """PEP 508 marker -> a tree of tuples; raises :class:`MarkerError`."""
    tokens = _marker_tokens(text)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise MarkerError("marker ends too early")
        pos += 1
        return tokens[pos - 1]

    def value() -> tuple[str, str]:
        kind, text_ = take()
        if kind == "string":
            return ("str", text_[1:-1])
        if kind == "var":
            return ("var", text_)
        raise MarkerError(f"expected a variable or a quoted string, found {text_!r}")

    def atom() -> MarkerTree:
        token = peek()
        if token == ("paren", "("):
            take()
            inner = either()
            if take() != ("paren", ")"):
                raise MarkerError("missing ')' in marker")
            return inner
        left = value()
        kind, op = take()
        if kind != "op":
            raise MarkerError(f"expected a comparison, found {op!r}")
        return ("cmp", left, op, value())

    def both() -> MarkerTree:
        node = atom()
        while peek() == ("bool", "and"):
            take()
            node = ("and", node, atom())
        return node

    def either() -> MarkerTree:
        node = both()
        while peek() == ("bool", "or"):
            take()
            node = ("or", node, both())
        return node

    tree = either()
    if pos != len(tokens):
        raise MarkerError(f"unexpected {tokens[pos][1]!r} in marker")
    return tree


_VERSION_OPS = frozenset({"<", "<=", ">", ">=", "==", "!=", "~="})


def _compare(left: str, op: str, right: str) -> bool:
    if op == "in":
        return left in right
    if op == "not in":
        return left not in right
    if op == "===":
        return left == right
    lkey, rkey = _version_key(left), _version_key(right)
    if op in _VERSION_OPS and lkey is not None and rkey is not None:
        if op == "~=":
            return _compatible(left, right, lkey >= rkey)
        return {
            "<": lkey < rkey,
            "<=": lkey <= rkey,
            ">": lkey > rkey,
            ">=": lkey >= rkey,
            "==": versions_match(right, left),
            "!=": not versions_match(right, left),
        }[op]
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    raise MarkerError(f"cannot compare {left!r} {op} {right!r}")


def _compatible(left: str, right: str, at_least: bool) -> bool:
    """``left ~= right``: at least ``right``, same release prefix but its last segment."""
    want, have = _parse_version(right), _parse_version(left)
    if want is None or have is None or len(want["segments"]) < 2:
        raise MarkerError(f"~={right} needs a version with at least two release segments")
    prefix = tuple(want["segments"][:-1])
    padded = tuple(have["segments"]) + (0,) * len(prefix)
    return at_least and padded[: len(prefix)] == prefix


def evaluate_marker(tree: MarkerTree, env: dict[str, str]) -> bool:
    """Evaluate a tree from :func:`parse_marker`; raises :class:`MarkerError`."""
    kind = tree[0]
    if kind == "and":
        return evaluate_marker(tree[1], env) and evaluate_marker(tree[2], env)
    if kind == "or":
        return evaluate_marker(tree[1], env) or evaluate_marker(tree[2], env)

    def resolve(node: tuple[str, str]) -> str:
        return env.get(node[1], "") if node[0] == "var" else node[1]

    _, left, op, right = tree
    return _compare(resolve(left), op, resolve(right))


# -- requirements files --------------------------------------------------------------------

_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_NAME_RE = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*")
_CLAUSE_RE = re.compile(r"\s*(===|==|!=|~=|<=|>=|<|>)\s*([^\s,;()]+)\s*\Z")
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_HASH_RE = re.compile(r"([A-Za-z0-9]+):(.*)\Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")
_KNOWN_HASHES = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}
_VALUE_OPTIONS = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "--trusted-host": "--trusted-host",
    "--no-binary": "--no-binary",
    "--only-binary": "--only-binary",
    "--use-feature": "--use-feature",
}
_FLAG_OPTIONS = frozenset({"--no-index", "--pre", "--prefer-binary", "--require-hashes"})
_REQ_VALUE_OPTIONS = frozenset({"--hash", "--global-option", "--config-settings", "-C"})


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """pip's join_lines + ignore_comments: (first physical line number, logical line)."""
    pending: list[str] = []
    first = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        line = physical
        if not line.endswith("\\") or _COMMENT_RE.match(line):
            if _COMMENT_RE.match(line):
                line = " " + line
            if pending:
                pending.append(line)
                yield first, _strip_comment("".join(pending))
                pending = []
            else:
                yield number, _strip_comment(line)
        else:
            if not pending:
                first = number
            pending.append(line.strip("\\"))
    if pending:
        yield first, _strip_comment("".join(pending))


def _strip_comment(line: str) -> str:
    return _COMMENT_RE.sub("", line).strip()


def _split_args_options(line: str) -> tuple[str, str]:
    """pip's break_args_options: the requirement, then everything from the first option."""
    tokens = line.split(" ")
    args: list[str] = []
    rest = tokens[:]
    for token in tokens:
        if token.startswith("-"):
            break
        args.append(token)
        rest.pop(0)
    return " ".join(args), " ".join(rest)


def _option_value(tokens: list[str], index: int, name: str, where: str) -> tuple[str, int]:
    """The value of option ``tokens[index]`` (``--x=v``, ``--x v``, ``-xv``, ``-x v``)."""
    token = tokens[index]
    if token.startswith("--") and "=" in token:
        return token.partition("=")[2], index + 1
    if not token.startswith("--") and len(token) > 2:
        return token[2:], index + 1
    if index + 1 >= len(tokens):
        raise LockError(f"{where}: {name} needs a value")
    return tokens[index + 1], index + 2


def _option_name(token: str) -> str:
    if token.startswith("--"):
        return token.partition("=")[0]
    return token[:2]


def _shlex(text: str, where: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise LockError(f"{where}: {exc}") from exc


@dataclass(slots=True)
class _ReqContext:
    lock: Lock
    read: Callable[[Path], bytes]
    seen: set[Path] = field(default_factory=set)
    stack: list[Path] = field(default_factory=list)


def parse_requirements(path: Path, read: Callable[[Path], bytes] | None = None) -> Lock:
    """Parse a requirements file and everything it includes; raises :class:`LockError`."""
    lock = Lock(path=str(path), kind="requirements")
    ctx = _ReqContext(lock=lock, read=read or _read_file)
    _parse_req_file(ctx, path, constraint=False)
    return lock


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise LockError(f"lock file {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise LockError(f"lock file {path} is a directory") from exc
    except OSError as exc:
        raise LockError(f"cannot read lock file {path}: {exc.strerror}") from exc


def _parse_req_file(ctx: _ReqContext, path: Path, *, constraint: bool) -> None:
    key = Path(path).resolve()
    if key in ctx.stack:
        chain = " -> ".join(str(p) for p in [*ctx.stack[ctx.stack.index(key) :], key])
        raise LockError(f"include cycle: {chain}", remedy="remove one of the -r lines")
    if key in ctx.seen:
        return  # included twice (not a cycle): read once
    ctx.seen.add(key)
    ctx.stack.append(key)
    data = ctx.read(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LockError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    ctx.lock.files.append(str(path))
    for number, line in _logical_lines(text):
        if line:
            _parse_req_line(ctx, path, number, line, constraint=constraint)
    ctx.stack.pop()


def _parse_req_line(
    ctx: _ReqContext, path: Path, number: int, line: str, *, constraint: bool
) -> None:
    where = f"{path}:{number}"
    lock = ctx.lock
    if line.startswith("-"):
        tokens = _shlex(line, where)
        index = 0
        while index < len(tokens):
            token = tokens[index]
            name = _option_name(token)
            if name in ("-r", "--requirement", "-c", "--constraint"):
                value, index = _option_value(tokens, index, name, where)
                nested = name in ("-c", "--constraint")
                if "://" in value:
                    lock.findings.append(
                        Finding(
                            kind="remote-include",
                            file=str(path),
                            line=number,
                            name=None,
                            message=f"includes {value}: a remote file cannot be audited",
                        )
                    )
                    continue
                target = Path(value) if Path(value).is_absolute() else path.parent / value
                _parse_req_file(ctx, target, constraint=constraint or nested)
            elif name in ("-e", "--editable"):
                value, index = _option_value(tokens, index, name, where)
                egg = re.search(r"[#&]egg=([A-Za-z0-9._-]+)", value)
                pkg_name = normalize_name(egg.group(1)) if egg else None
                lock.packages.append(
                    LockedPackage(
                        name=pkg_name,
                        version=None,
                        arbitrary=False,
                        marker=None,
                        marker_tree=None,
                        source="editable",
                        file=str(path),
                        line=number,
                        constraint=constraint,
                    )
                )
                lock.findings.append(
                    Finding(
                        kind="not-hashable",
                        file=str(path),
                        line=number,
                        name=pkg_name,
                        message=f"editable requirement {value}: not pinnable by hash",
                    )
                )
            elif name in _VALUE_OPTIONS:
                _, index = _option_value(tokens, index, name, where)
            elif name in _FLAG_OPTIONS:
                index += 1
            else:
                raise LockError(f"{where}: unknown option {token!r}")
        return
    requirement, options = _split_args_options(line)
    hashes: list[str] = []
    if options:
        tokens = _shlex(options, where)
        index = 0
        while index < len(tokens):
            name = _option_name(tokens[index])
            if not tokens[index].startswith("-"):
                raise LockError(
                    f"{where}: {tokens[index]!r} after the options: pip ignores it silently "
                    "(a marker goes before --hash)"
                )
            if name not in _REQ_VALUE_OPTIONS:
                raise LockError(f"{where}: unknown option {tokens[index]!r} after a requirement")
            value, index = _option_value(tokens, index, name, where)
            if name == "--hash":
                hashes.append(_check_hash(value, where))
    _add_requirement(lock, path, number, requirement, hashes, constraint=constraint)


def _check_hash(value: str, where: str) -> str:
    match = _HASH_RE.match(value)
    if match is None:
        raise LockError(f"{where}: --hash {value!r} is not ALGORITHM:HEX")
    algorithm, digest = match.group(1).lower(), match.group(2)
    length = _KNOWN_HASHES.get(algorithm)
    if length is None:
        raise LockError(f"{where}: unknown hash algorithm {algorithm!r} (pip refuses it)")
    if not re.fullmatch(f"[0-9a-fA-F]{{{length}}}", digest):
        raise LockError(f"{where}: --hash {algorithm}:{digest[:16]}... is not {length} hex digits")
    return f"{algorithm}:{digest.lower()}"


def _add_requirement(
    lock: Lock, path: Path, number: int, text: str, hashes: list[str], *, constraint: bool
) -> None:
    where = f"{path}:{number}"
    file = str(path)
    marker: str | None = None
    tree: Any = None
    body = text
    match = _NAME_RE.match(text)
    is_url = (
        match is None
        or text.startswith(_VCS_PREFIXES)
        or "://" in text.split(";", 1)[0].split("@", 1)[0]
        or text.startswith((".", "/", "~"))
    )
    name: str | None = None
    version: str | None = None
    arbitrary = False
    source: Source = "pin"
    if match is not None and not is_url:
        name = normalize_name(match.group(1))
        rest = text[match.end() :]
        if rest.startswith("@"):
            url, _, marker_text = rest[1:].strip().partition(" ;")
            if not marker_text and ";" in url and " " in url:
                url, _, marker_text = url.partition(";")
            body = url.strip()
            marker = marker_text.strip() or None
            source = "vcs" if body.startswith(_VCS_PREFIXES) else "url"
        else:
            spec, _, marker_text = rest.partition(";")
            marker = marker_text.strip() or None
            spec = spec.strip()
            if spec.startswith("(") and spec.endswith(")"):
                spec = spec[1:-1]
            clauses = spec.split(",") if spec.strip() else []
            parsed = []
            for clause in clauses:
                found = _CLAUSE_RE.match(clause)
                if found is None:
                    raise LockError(
                        f"{where}: cannot parse the version specifier {clause.strip()!r}"
                    )
                parsed.append((found.group(1), found.group(2)))
            if len(parsed) == 1 and parsed[0][0] in ("==", "===") and "*" not in parsed[0][1]:
                version, arbitrary = parsed[0][1], parsed[0][0] == "==="
                if not arbitrary and _parse_version(version) is None:
                    raise LockError(f"{where}: {version!r} is not a PEP 440 version")
            else:
                shown = spec.strip() or "no version"
                lock.findings.append(
                    Finding(
                        kind="not-pinned",
                        file=file,
                        line=number,
                        name=name,
                        message=f"not an exact pin ({shown}): use =={_hint(parsed)}",
                    )
                )
    else:
        body, _, marker_text = text.partition(" ;")
        marker = marker_text.strip() or None
        source = "vcs" if body.startswith(_VCS_PREFIXES) else "url"
        egg = re.search(r"[#&]egg=([A-Za-z0-9._-]+)", body)
        name = normalize_name(egg.group(1)) if egg else None
        if source == "url" and not re.search(r"\.(whl|zip|tar\.gz|tgz|tar\.bz2)$", body):
            source = "directory"
    if marker is not None:
        try:
            tree = parse_marker(marker)
        except MarkerError as exc:
            raise LockError(f"{where}: bad environment marker {marker!r}: {exc}") from exc
    if source in ("vcs", "directory"):
        lock.findings.append(
            Finding(
                kind="not-hashable",
                file=file,
                line=number,
                name=name,
                message=f"{'VCS' if source == 'vcs' else 'local'} requirement {body.strip()}: "
                "not pinnable by hash",
            )
        )
    elif source == "url":
        lock.findings.append(
            Finding(
                kind="not-pinned",
                file=file,
                line=number,
                name=name,
                message=f"direct URL {body.strip()}: not an exact version pin",
            )
        )
    if not constraint and source not in ("vcs", "directory"):
        _hash_findings(lock, file, number, name, hashes)
    for package in lock.packages:
        if (
            name is not None
            and package.name == name
            and package.marker == marker
            and package.constraint == constraint
        ):
            lock.findings.append(
                Finding(
                    kind="duplicate",
                    file=file,
                    line=number,
                    name=name,
                    message=f"also listed at {package.file}:{package.line}",
                )
            )
            break
    lock.packages.append(
        LockedPackage(
            name=name,
            version=version,
            arbitrary=arbitrary,
            marker=marker,
            marker_tree=tree,
            source=source,
            file=file,
            line=number,
            constraint=constraint,
        )
    )


def _hint(parsed: list[tuple[str, str]]) -> str:
    for op, value in parsed:
        if op in (">=", "~=", "==") and "*" not in value:
            return f"{value} (or the version you tested)"
    return "VERSION"


def _hash_findings(lock: Lock, file: str, line: int, name: str | None, hashes: list[str]) -> None:
    algorithms = {h.partition(":")[0] for h in hashes}
    if not hashes:
        message = "no --hash=sha256: (pip install --require-hashes refuses it)"
        kind = "no-hash"
    elif "sha256" in algorithms:
        return
    elif algorithms <= {"md5", "sha1"}:
        message = f"only {'/'.join(sorted(algorithms))} hashes (weak): add --hash=sha256:"
        kind = "weak-hash"
    else:
        message = f"no sha256 hash (has {', '.join(sorted(algorithms))}): add --hash=sha256:"
        kind = "no-hash"
    lock.findings.append(Finding(kind=kind, file=file, line=line, name=name, message=message))


# -- pylock.toml (PEP 751) -----------------------------------------------------------------

_PYLOCK_NAME = re.compile(r"pylock(\.[^.]+)?\.toml\Z")


def is_pylock(path: Path) -> bool:
    return bool(_PYLOCK_NAME.match(path.name)) or path.suffix == ".toml"


def _toml(data: bytes, path: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LockError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise LockError(f"{path} is not valid TOML: {exc}") from exc
    raise LockError(
        f"cannot read {path}: pylock.toml needs Python 3.11 or later (tomllib), this is "
        f"Python {sys.version_info[0]}.{sys.version_info[1]}",
        remedy="run pthguard with Python 3.11+",
    )


def parse_pylock(data: bytes, path: str) -> Lock:
    """Parse a PEP 751 lock file; raises :class:`LockError` (always on Python 3.10)."""
    doc = _toml(data, path)
    lock = Lock(path=path, kind="pylock", files=[path])
    version = doc.get("lock-version")
    if not isinstance(version, str) or not version.startswith("1."):
        raise LockError(
            f"{path}: lock-version is {version!r}, this pthguard reads lock-version 1.x",
            remedy="is it a PEP 751 lock file?",
        )
    packages = doc.get("packages", [])
    if not isinstance(packages, list):
        raise LockError(f"{path}: packages must be an array of tables")
    for index, entry in enumerate(packages):
        _parse_pylock_package(lock, path, index, entry)
    return lock


def _parse_pylock_package(lock: Lock, path: str, index: int, entry: object) -> None:
    where = f"{path}: packages[{index}]"
    if not isinstance(entry, dict):
        raise LockError(f"{where} is not a table")
    raw_name = entry.get("name")
    if not isinstance(raw_name, str) or not _NAME_RE.fullmatch(raw_name):
        raise LockError(f"{where}.name is missing or not a valid name")
    name = normalize_name(raw_name)
    version = entry.get("version")
    if version is not None and not isinstance(version, str):
        raise LockError(f"{where}.version is not a string")
    marker = entry.get("marker")
    tree = None
    if marker is not None:
        if not isinstance(marker, str):
            raise LockError(f"{where}.marker is not a string")
        try:
            tree = parse_marker(marker)
        except MarkerError as exc:
            raise LockError(f"{where}: bad marker {marker!r}: {exc}") from exc

    def finding(kind: str, message: str) -> None:
        lock.findings.append(
            Finding(kind=kind, file=path, line=None, name=name, message=f"{message} ({where})")
        )

    source: Source = "artifacts"
    if entry.get("vcs") is not None or entry.get("directory") is not None:
        source = "vcs" if entry.get("vcs") is not None else "directory"
        finding("not-hashable", f"{source} source: not pinnable by hash")
    else:
        artifacts: list[tuple[str, object]] = []
        wheels = entry.get("wheels", [])
        if not isinstance(wheels, list):
            raise LockError(f"{where}.wheels is not an array")
        for number, wheel in enumerate(wheels):
            artifacts.append((f"wheels[{number}]", wheel))
        for kind in ("sdist", "archive"):
            if entry.get(kind) is not None:
                artifacts.append((kind, entry[kind]))
                if kind == "archive":
                    source = "archive"
        if not artifacts:
            finding("no-hash", "no artifacts (wheels, sdist or archive) to verify")
        for label, artifact in artifacts:
            if not isinstance(artifact, dict):
                raise LockError(f"{where}.{label} is not a table")
            hashes = artifact.get("hashes")
            if not isinstance(hashes, dict) or not hashes:
                finding("no-hash", f"{label} has no hashes")
                continue
            digest = hashes.get("sha256")
            if digest is None:
                algorithms = sorted(str(a) for a in hashes)
                weak = set(algorithms) <= {"md5", "sha1"}
                finding(
                    "weak-hash" if weak else "no-hash",
                    f"{label} has no sha256 hash (only {', '.join(algorithms)})",
                )
            elif not isinstance(digest, str) or not _HEX64.match(digest):
                finding("no-hash", f"{label} hashes.sha256 is not 64 hex digits")
    if version is None:
        finding("not-pinned", "no version")
    lock.packages.append(
        LockedPackage(
            name=name,
            version=version,
            arbitrary=False,
            marker=marker,
            marker_tree=tree,
            source=source,
            file=path,
            line=None,
        )
    )


# -- an environment against its lock -------------------------------------------------------

MARKER_ENV_SOURCE = r"""
import json, os, platform, sys
iv = sys.implementation.version
impl = "%d.%d.%d" % (iv.major, iv.minor, iv.micro)
if iv.releaselevel != "final":
    impl += iv.releaselevel[0] + str(iv.serial)
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": impl,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_python_implementation": platform.python_implementation(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
"""

Installed = tuple[str, str, str]  # (normalised name, version, metadata directory path)


def audit_environment(
    lock: Lock, installed: list[Installed], env: dict[str, str], python: str
) -> list[Finding]:
    """Installed but not locked, locked but not installed, other versions."""
    where = f"environment {python}"
    locked: dict[str, list[LockedPackage]] = {}
    for package in lock.packages:
        if package.constraint or package.name is None:
            continue
        if package.marker_tree is not None:
            try:
                applies = evaluate_marker(package.marker_tree, {"extra": "", **env})
            except MarkerError as exc:
                raise LockError(
                    f"{package.file}:{package.line}: cannot evaluate marker "
                    f"{package.marker!r} for {python}: {exc}"
                ) from exc
            if not applies:
                continue
        locked.setdefault(package.name, []).append(package)
    have: dict[str, list[Installed]] = {}
    for item in installed:
        have.setdefault(item[0], []).append(item)
    findings: list[Finding] = []
    for name in sorted(set(have) - set(locked)):
        versions = ", ".join(f"{v} ({p})" for _, v, p in have[name])
        findings.append(
            Finding(
                kind="not-locked",
                file=where,
                line=None,
                name=name,
                message=f"installed but not locked: {versions}",
            )
        )
    for name in sorted(set(locked) - set(have)):
        pin = locked[name][0]
        findings.append(
            Finding(
                kind="not-installed",
                file=pin.file,
                line=pin.line,
                name=name,
                message=f"locked ({pin.version or pin.source}) but not installed in {python}",
            )
        )
    for name in sorted(set(locked) & set(have)):
        pins = [p for p in locked[name] if p.version is not None]
        for _, version, meta in have[name]:
            if pins and not any(
                versions_match(p.version or "", version, arbitrary=p.arbitrary) for p in pins
            ):
                wanted = " or ".join(sorted({p.version or "" for p in pins}))
                findings.append(
                    Finding(
                        kind="version-mismatch",
                        file=pins[0].file,
                        line=pins[0].line,
                        name=name,
                        message=f"locked {wanted}, installed {version} ({meta})",
                    )
                )
    return findings


def _marker_env(python: str) -> dict[str, str]:
    try:
        done = subprocess.run(
            [python, "-S", "-I", "-c", MARKER_ENV_SOURCE],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PthguardError(f"cannot run interpreter {python}: {exc}") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise PthguardError(f"interpreter {python} failed to report its markers: {last}")
    env = json.loads(done.stdout)
    return {str(k): str(v) for k, v in env.items()}


def _installed(python: str) -> tuple[str, list[Installed]]:
    from pthguard.environment import layout as _layout  # noqa: PLC0415
    from pthguard.environment import probe as _probe  # noqa: PLC0415

    probe = _probe.probe(python)
    snap, _ = _layout.scan_environment(probe)
    if snap.errors:
        first = snap.errors[0]
        raise PthguardError(f"cannot describe {probe.executable}: {first.path}: {first.message}")
    out = [
        (d.entry.name, d.entry.version, f"{d.entry.site_dir}/{d.entry.metadata_dir}")
        for d in snap.distributions
    ]
    return probe.executable, out


# -- the command ---------------------------------------------------------------------------


def load(path: Path) -> Lock:
    """Read and parse one lock file (requirements or pylock by its name)."""
    if is_pylock(path):
        return parse_pylock(_read_file(path), str(path))
    return parse_requirements(path)


def audit(paths: list[Path], python: str | None = None) -> tuple[list[Lock], str | None]:
    """Audit each lock; with ``python``, also compare the one lock with that environment.
    Returns the locks (their findings filled in) and the interpreter's resolved path."""
    if python and len(paths) != 1:
        raise UsageError("--python compares one lock file with the environment; give one LOCK")
    locks = [load(path) for path in paths]
    resolved = None
    if python:
        resolved, installed = _installed(python)
        env = _marker_env(resolved)
        locks[0].findings.extend(audit_environment(locks[0], installed, env, resolved))
    return locks, resolved


def render_text(locks: list[Lock], python: str | None) -> str:
    lines = []
    for lock in locks:
        count = sum(not p.constraint for p in lock.packages)
        files = f" in {len(lock.files)} files" if len(lock.files) > 1 else ""
        against = f", compared with {python}" if python else ""
        verdict = f"{len(lock.findings)} finding(s)" if lock.findings else "ok"
        lines.append(f"{lock.path}: {count} package(s){files}{against}: {verdict}")
        lines.extend(f"  {finding.text()}" for finding in lock.findings)
    return "\n".join(lines) + "\n"


def render_json(locks: list[Lock], python: str | None) -> str:
    doc = {
        "schema": SCHEMA,
        "ok": not any(lock.findings for lock in locks),
        "python": python,
        "locks": [
            {
                "path": lock.path,
                "kind": lock.kind,
                "files": lock.files,
                "packages": [p.to_dict() for p in lock.packages],
                "findings": [f.to_dict() for f in lock.findings],
            }
            for lock in locks
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
