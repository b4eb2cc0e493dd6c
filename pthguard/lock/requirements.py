"""pip requirements files (``requirements.txt``, ``*.lock``) read as pip reads them.

Physical lines ending in ``\\`` are joined, ``#`` comments (at the start of a line or after
whitespace) are dropped, ``-r``/``-c`` includes are followed relative to the including file
(each file once; a cycle is an error, as it is for pip). pip's options are checked here;
each requirement itself is judged by :mod:`pthguard.lock.pins`. Entries of ``-c``
constraint files must be exact pins; they need no hash and install nothing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from pthguard._internal.fs import read_bytes
from pthguard.errors import LockError
from pthguard.findings import Finding
from pthguard.lock.model import Lock, LockedPackage
from pthguard.lock.pins import EGG_RE, requirement_entry
from pthguard.lock.rules import RULES

__all__ = ["parse_requirements", "read_file"]

_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_HASH_RE = re.compile(r"([A-Za-z0-9]+):(.*)\Z")
_KNOWN_HASHES = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}
_VALUE_OPTIONS = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--trusted-host",
        "--no-binary",
        "--only-binary",
        "--use-feature",
    }
)
_FLAG_OPTIONS = frozenset({"--no-index", "--pre", "--prefer-binary", "--require-hashes"})
_REQ_VALUE_OPTIONS = frozenset({"--hash", "--global-option", "--config-settings", "-C"})


def read_file(path: Path) -> bytes:
    """The bytes of a lock file; raises :class:`LockError` naming it."""
    return read_bytes(path, "lock file", error=LockError)


@dataclass(slots=True)
class _Reader:
    """What has been read so far, across every included file."""

    read: Callable[[Path], bytes]
    files: list[str] = field(default_factory=list)
    packages: list[LockedPackage] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    seen: set[Path] = field(default_factory=set)
    stack: list[Path] = field(default_factory=list)


def parse_requirements(path: Path, read: Callable[[Path], bytes] = read_file) -> Lock:
    """Parse a requirements file and everything it includes; raises :class:`LockError`."""
    reader = _Reader(read=read)
    _parse_file(reader, path, constraint=False)
    return Lock(
        path=str(path),
        kind="requirements",
        files=tuple(reader.files),
        packages=tuple(reader.packages),
        findings=tuple(reader.findings),
    )


def _parse_file(reader: _Reader, path: Path, *, constraint: bool) -> None:
    key = Path(path).resolve()
    if key in reader.stack:
        chain = " -> ".join(str(p) for p in [*reader.stack[reader.stack.index(key) :], key])
        raise LockError(f"include cycle: {chain}", remedy="remove one of the -r lines")
    if key in reader.seen:
        return  # included twice (not a cycle): read once
    reader.seen.add(key)
    reader.stack.append(key)
    data = reader.read(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LockError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    reader.files.append(str(path))
    for number, line in _logical_lines(text):
        if line.startswith("-"):
            _parse_options(reader, path, number, line, constraint=constraint)
        elif line:
            _parse_requirement_line(reader, path, number, line, constraint=constraint)
    reader.stack.pop()


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


def _parse_options(
    reader: _Reader, path: Path, number: int, line: str, *, constraint: bool
) -> None:
    """A line of options: includes, editables, and the options pip accepts in a file."""
    where = f"{path}:{number}"
    tokens = _shlex(line, where)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        name = _option_name(token)
        if name in ("-r", "--requirement", "-c", "--constraint"):
            value, index = _option_value(tokens, index, name, where)
            nested = name in ("-c", "--constraint")
            if "://" in value:
                reader.findings.append(
                    RULES["remote-include"].finding(
                        f"includes {value}: a remote file cannot be audited",
                        path=str(path),
                        line=number,
                    )
                )
                continue
            target = Path(value) if Path(value).is_absolute() else path.parent / value
            _parse_file(reader, target, constraint=constraint or nested)
        elif name in ("-e", "--editable"):
            value, index = _option_value(tokens, index, name, where)
            _add_editable(reader, path, number, value, constraint=constraint)
        elif name in _VALUE_OPTIONS:
            _, index = _option_value(tokens, index, name, where)
        elif name in _FLAG_OPTIONS:
            index += 1
        else:
            raise LockError(f"{where}: unknown option {token!r}")


def _add_editable(
    reader: _Reader, path: Path, number: int, value: str, *, constraint: bool
) -> None:
    egg = EGG_RE.search(value)
    name = canonicalize_name(egg.group(1)) if egg else None
    reader.packages.append(
        LockedPackage(
            name=name,
            version=None,
            arbitrary=False,
            marker=None,
            parsed_marker=None,
            source="editable",
            file=str(path),
            line=number,
            constraint=constraint,
        )
    )
    reader.findings.append(
        RULES["not-hashable"].finding(
            f"editable requirement {value}: not pinnable by hash",
            path=str(path),
            line=number,
            subject=name,
        )
    )


def _parse_requirement_line(
    reader: _Reader, path: Path, number: int, line: str, *, constraint: bool
) -> None:
    """A requirement and the per-requirement options after it (``--hash``)."""
    where = f"{path}:{number}"
    requirement, options = _split_args_options(line)
    hashes: list[str] = []
    tokens = _shlex(options, where) if options else []
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
    package, findings = requirement_entry(
        requirement, hashes, file=str(path), line=number, constraint=constraint
    )
    reader.findings.extend(findings)
    for other in reader.packages:
        if package.name is not None and (
            (other.name, other.parsed_marker, other.constraint)
            == (package.name, package.parsed_marker, package.constraint)
        ):
            reader.findings.append(
                RULES["duplicate"].finding(
                    f"also listed at {other.file}:{other.line}",
                    path=str(path),
                    line=number,
                    subject=package.name,
                )
            )
            break
    reader.packages.append(package)


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


def _check_hash(value: str, where: str) -> str:
    """``ALGORITHM:HEX`` as pip accepts it, normalised to lower case."""
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
