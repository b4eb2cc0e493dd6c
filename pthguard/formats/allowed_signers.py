"""The ``allowed_signers`` file of ``ssh-keygen -Y verify`` and git, read for pthguard.

Pure: text in, values or :class:`~pthguard.errors.KeyFileError` out; no files.

Lines are ``principals [options] keytype base64 [comment]``; options are
``namespaces="..."`` (an OpenSSH pattern list: ``*``, ``?``, ``!negated``),
``valid-after="..."`` and ``valid-before="..."`` (``YYYYMMDD[HHMM[SS]][Z]``, local time unless
``Z``) and ``cert-authority`` (refused: pthguard checks signers' own keys, not certificates).
A line whose ``namespaces`` exclude ``pthguard`` is skipped with the reason; any other line
pthguard cannot honour (another key type, bad syntax) is an error naming ``source:line``.
Keys are read by :mod:`.openssh`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from pthguard.errors import KeyFileError
from pthguard.formats.openssh import (
    KEY_TYPES,
    NEW_KEY_REMEDY,
    SSHPublicKey,
    looks_like_keytype,
    parse_public_key_line,
    unsupported_key,
)
from pthguard.formats.sshsig import NAMESPACE

_ANCHOR_FORMS = (
    "a trust anchor is a PEM public key, an OpenSSH public key line (ssh-ed25519 AAAA...) "
    "or an allowed_signers file"
)
_OPTION_NAME = re.compile(r"[A-Za-z0-9-]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowedSigner:
    """One line of an allowed_signers file."""

    line: int
    principals: tuple[str, ...]
    key: SSHPublicKey
    namespaces: tuple[str, ...] | None = None  # patterns; None: any namespace
    valid_after: dt.datetime | None = None
    valid_before: dt.datetime | None = None

    def allows_namespace(self, namespace: str = NAMESPACE) -> bool:
        return self.namespaces is None or match_pattern_list(namespace, self.namespaces)

    def valid_at(self, moment: dt.datetime) -> bool:
        if self.valid_after is not None and moment < self.valid_after:
            return False
        return self.valid_before is None or moment <= self.valid_before


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowedSigners:
    """The lines that apply to ``namespace``; ``skipped`` says which did not and why."""

    signers: tuple[AllowedSigner, ...]
    skipped: tuple[str, ...] = field(default=())


# -- patterns and times ------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def match_pattern_list(value: str, patterns: tuple[str, ...]) -> bool:
    """OpenSSH pattern lists (``*``, ``?``, ``!negated``): a negated match wins."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _pattern_regex(pattern[1:] if negated else pattern).match(value):
            if negated:
                return False
            matched = True
    return matched


def parse_ssh_time(text: str) -> dt.datetime:
    """``YYYYMMDD[HHMM[SS]][Z]`` as ``ssh-keygen`` reads it: local time unless ``Z``."""
    utc = text.endswith(("Z", "z"))
    digits = text[:-1] if utc else text
    formats = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
    if not digits.isdigit() or len(digits) not in formats:
        raise ValueError(f"invalid time {text!r} (expected YYYYMMDD[HHMM[SS]][Z])")
    moment = dt.datetime.strptime(digits, formats[len(digits)])
    return moment.replace(tzinfo=dt.timezone.utc) if utc else moment.astimezone()


# -- lines -------------------------------------------------------------------------------------


def _take_quoted(text: str, pos: int) -> tuple[str, int]:
    """``text[pos]`` is a quote: the unescaped content and the position after the quote."""
    out = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] == '"':
            out.append('"')
            pos += 2
            continue
        if char == '"':
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    raise ValueError("unterminated quote")


def _split_options(text: str) -> tuple[list[tuple[str, str | None]], str]:
    """Options up to the first unquoted blank: ``[(name, value or None)]`` and the rest."""
    options: list[tuple[str, str | None]] = []
    pos = 0
    while True:
        match = _OPTION_NAME.match(text, pos)
        if match is None:
            raise ValueError("expected an option name")
        name, pos = match.group().lower(), match.end()
        value = None
        if text.startswith("=", pos):
            if not text.startswith('"', pos + 1):
                raise ValueError(f"the value of {name} must be in double quotes")
            value, pos = _take_quoted(text, pos + 1)
        options.append((name, value))
        if text.startswith(",", pos):
            pos += 1
            continue
        if pos == len(text) or text[pos] in " \t":
            return options, text[pos:]
        raise ValueError(f"unexpected {text[pos]!r} after option {name}")


def _parse_signer_line(text: str, number: int, source: str) -> AllowedSigner | str:
    """A signer, or (a string) the reason the line does not apply to pthguard."""
    where = f"{source}:{number}"
    rest = text.strip()
    if rest.startswith('"'):
        try:
            principal_text, end = _take_quoted(rest, 0)
        except ValueError as exc:
            raise KeyFileError(f"{where}: unterminated quote in the principals") from exc
        rest = rest[end:]
        if rest and rest[0] not in " \t":
            raise KeyFileError(f"{where}: expected a blank after the quoted principals")
    else:
        principal_text, _, rest = re.sub(r"[ \t]", " ", rest, count=1).partition(" ")
    principals = tuple(p for p in principal_text.split(",") if p)
    rest = rest.lstrip(" \t")
    if not principals or not rest:
        raise KeyFileError(
            f"{where}: expected `principal[,principal...] [options] keytype base64key`",
            remedy=_ANCHOR_FORMS,
        )
    options: list[tuple[str, str | None]] = []
    first = rest.split(None, 1)[0]
    if not looks_like_keytype(first):
        try:
            options, rest = _split_options(rest)
        except ValueError as exc:
            raise KeyFileError(f"{where}: bad options: {exc}", remedy=_ANCHOR_FORMS) from exc
    namespaces: tuple[str, ...] | None = None
    valid_after = valid_before = None
    cert_authority = False
    seen: set[str] = set()
    for name, value in options:
        if name in seen:
            raise KeyFileError(f"{where}: bad options: {name} given twice")
        seen.add(name)
        if name == "cert-authority" and value is None:
            cert_authority = True
        elif name == "namespaces" and value is not None:
            namespaces = tuple(n.strip() for n in value.split(",") if n.strip())
        elif name in ("valid-after", "valid-before") and value is not None:
            try:
                moment = parse_ssh_time(value)
            except ValueError as exc:
                raise KeyFileError(f"{where}: {name}: {exc}") from exc
            if name == "valid-after":
                valid_after = moment
            else:
                valid_before = moment
        else:
            raise KeyFileError(
                f"{where}: unknown or malformed option {name!r}",
                remedy="allowed_signers options are namespaces=, valid-after=, valid-before=; "
                + _ANCHOR_FORMS,
            )
    if namespaces is not None and not match_pattern_list(NAMESPACE, namespaces):
        return f"{where}: namespaces={','.join(namespaces)} does not include {NAMESPACE}"
    keytype = rest.split(None, 1)[0] if rest.strip() else ""
    if cert_authority:
        raise KeyFileError(
            f"{where}: cert-authority lines are not supported: pthguard trusts signers' own "
            "keys, not certificate authorities",
            remedy="list each signer's ssh-ed25519 key, or restrict the line with "
            'namespaces="git"',
        )
    if keytype not in KEY_TYPES:
        raise KeyFileError(
            unsupported_key(keytype or "nothing", where),
            remedy=f'{NEW_KEY_REMEDY}, or restrict the line with namespaces="git"',
        )
    key = parse_public_key_line(rest, where)
    return AllowedSigner(
        line=number,
        principals=principals,
        key=key,
        namespaces=namespaces,
        valid_after=valid_after,
        valid_before=valid_before,
    )


def parse_allowed_signers(text: str, source: str = "allowed_signers") -> AllowedSigners:
    """Parse every line; lines whose ``namespaces`` exclude pthguard are skipped, any other
    line pthguard cannot honour (other key types, ``cert-authority``, bad syntax) is an error."""
    signers: list[AllowedSigner] = []
    skipped: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        made = _parse_signer_line(stripped, number, source)
        if isinstance(made, str):
            skipped.append(made)
        else:
            signers.append(made)
    return AllowedSigners(signers=tuple(signers), skipped=tuple(skipped))
