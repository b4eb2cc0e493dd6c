"""Recognise legitimate startup files by content, never by name.

Two rules, both over the data in :mod:`pthguard.analysis.known` (generated from real wheels):

* :func:`known_file`: the sha256 of the file's exact bytes is in ``KNOWN_FILES``.
* :func:`template_line`: a line is exactly what setuptools writes for some package name.
  setuptools' ``-nspkg.pth`` lines and its PEP 660 ``__editable__.*.pth`` finder line embed
  the package name (and ``setup.py develop`` embeds the project path as a string literal),
  so their bytes differ per package. This is the one template-based rule, and it still
  trusts nothing it has not regenerated: the name is taken from the line, checked to be a
  plain dotted identifier (a path must be a plain string literal), the line is rebuilt from
  the template with it, and only an identical line is recognised. A file's name plays no
  part.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from pthguard.analysis.known import EDITABLE_FINDER_TEMPLATES, KNOWN_FILES, NSPKG_TEMPLATES

__all__ = ["TemplateMatch", "known_file", "template_line"]

_DOTTED: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_QUOTED_NAME: Final = re.compile(r"'([A-Za-z_][A-Za-z0-9_.]*)'")
_FINDER: Final = re.compile(r"__editable___[A-Za-z0-9_]*_finder\Z")
_DEVELOP_ROOT: Final = re.compile(r"p = os\.path\.join\(('(?:[^'\\]|\\.)*'), \*\(")


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateMatch:
    """A line rebuilt exactly from a setuptools template."""

    #: What the line is, for reports.
    description: str
    #: The package name (or finder module) substituted into the template.
    name: str


def known_file(data: bytes) -> str | None:
    """What the file is when its exact bytes are a known legitimate file, else ``None``."""
    return KNOWN_FILES.get(hashlib.sha256(data).hexdigest())


def template_line(text: str) -> TemplateMatch | None:
    """The template ``text`` (one ``.pth`` line, without its line ending) was written from."""
    line = text.rstrip("\n")
    return _nspkg(line) or _editable(line)


def _nspkg(line: str) -> TemplateMatch | None:
    if not line.startswith("import sys, types, os;"):
        return None
    candidates = list(dict.fromkeys(_QUOTED_NAME.findall(line)))
    develop = _DEVELOP_ROOT.search(line)
    for parts, versions in NSPKG_TEMPLATES:
        root, lines = parts[0], parts[1 : parts.index("|")]
        multi = parts[parts.index("|") + 1 :]
        roots = [root]
        if develop is not None and _is_plain_literal(develop.group(1)):
            roots.append(develop.group(1))
        for pkg in candidates:
            if not _DOTTED.match(pkg):
                continue
            for chosen in roots:
                if _render_nspkg(lines, multi, chosen, pkg) == line:
                    mode = "setup.py develop " if chosen != root else ""
                    return TemplateMatch(
                        description=(
                            f"setuptools {mode}namespace-package line for {pkg!r} "
                            f"(template of setuptools {', '.join(versions)})"
                        ),
                        name=pkg,
                    )
    return None


def _render_nspkg(lines: tuple[str, ...], multi: tuple[str, ...], root: str, pkg: str) -> str:
    """``Installer._gen_nspkg_line`` of setuptools, without its ``\\n``."""
    parent, _, child = pkg.rpartition(".")
    chosen = lines + multi if parent else lines
    values = {"root": root, "pth": tuple(pkg.split(".")), "pkg": pkg}
    values |= {"parent": parent, "child": child}
    return ";".join(chosen) % values


def _is_plain_literal(text: str) -> bool:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return False
    return isinstance(value, str) and repr(value) == text


def _editable(line: str) -> TemplateMatch | None:
    if not line.startswith("import __editable___"):
        return None
    finder = line[len("import ") :].split(";", 1)[0]
    if not _FINDER.match(finder) or not finder.isidentifier():
        return None
    for template, versions in EDITABLE_FINDER_TEMPLATES:
        if template.format(finder=finder) == line:
            return TemplateMatch(
                description=(
                    f"setuptools PEP 660 editable finder line for {finder} "
                    f"(template of setuptools {', '.join(versions)}; imports the generated "
                    f"{finder}.py)"
                ),
                name=finder,
            )
    return None
