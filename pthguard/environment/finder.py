"""Where a module would be imported from, found without importing anything.

An emulation of CPython's path finder (``FileFinder`` on each ``sys.path`` entry) for a
probed interpreter: along the search path, a package directory with an ``__init__`` wins over
a module file in the same entry, and suffixes are tried in the interpreter's own order
(extension modules, then source, then bytecode). Used for ``sitecustomize`` and
``usercustomize``, and for the modules ``.start`` entry points name.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from pthguard.environment.probe import Probe


def import_suffixes(probe: Probe) -> list[str]:
    """The file suffixes ``probe``'s path finder tries, in its order."""
    return [*probe.extension_suffixes, *probe.source_suffixes, *probe.bytecode_suffixes]


def locate(
    suffixes: list[str], entries: list[str], name: str, skip: Callable[[str], bool]
) -> tuple[str, str | None] | None:
    """The file the path finder loads for ``name`` along ``entries``, with the package
    directory when it is a package (a directory with an ``__init__`` wins over a module
    file in the same entry, as in ``FileFinder``); ``skip`` passes over given files."""
    for entry in entries:
        base = os.path.join(entry, name)
        if os.path.isdir(base):
            for suffix in suffixes:
                init = os.path.join(base, "__init__" + suffix)
                if os.path.isfile(init) and not skip(init):
                    return init, base
        for suffix in suffixes:
            if os.path.isfile(base + suffix) and not skip(base + suffix):
                return base + suffix, None
    return None


def find_module(
    probe: Probe, search: list[str], module: str, skip: Callable[[str], bool]
) -> str | None:
    """The file ``import module`` (a top-level name) would execute along ``search``, passing
    over the files ``skip`` names; None when there is none."""
    found = locate(import_suffixes(probe), search, module, skip)
    return None if found is None else found[0]


def module_chain(probe: Probe, search: list[str], dotted: str) -> list[str]:
    """Files that importing ``dotted`` executes (each package ``__init__``, then the module),
    found the way the path finder finds them, without importing anything."""
    chain: list[str] = []
    entries = search
    for part in dotted.split("."):
        found = locate(import_suffixes(probe), entries, part, lambda _path: False)
        if found is None:
            break
        chain.append(found[0])
        entries = [found[1]] if found[1] is not None else []
    return chain
