"""Which distribution claims which entry of a site directory, from their RECORDs (and an
egg-info's file list).

A claim is a path relative to the site directory, ``/``-separated and normal. The scan asks
three things of the claims of one site directory: the first claimant of a name (the owner of
a startup file), the top-level names claimed (what is left is unclaimed), and the paths more
than one distribution claims. A RECORD's plain rows are added as a whole (dictionary and set
operations, not a loop in Python per row): a site directory holds tens of thousands of them.
"""

from __future__ import annotations

import os

__all__ = ["Claims"]


class Claims:
    """The claims of one site directory (see the module docstring)."""

    def __init__(self, site: str) -> None:
        self.site = site
        self._first: dict[str, str] = {}  # path -> the first claimant
        self._many: dict[str, list[str]] = {}  # path -> every claimant, when more than one
        self._tops: set[str] = set()

    def add_plain(self, paths: tuple[str, ...], tops: tuple[str, ...], owner: str) -> None:
        """Claim ``paths``, already relative to the site directory and normal, whose first
        components are ``tops``."""
        first = self._first
        seen = first.keys() & paths
        if seen:
            for path in seen:
                self._many.setdefault(path, [first[path]]).append(owner)
            first.update(dict.fromkeys(paths, owner))
            first.update({path: self._many[path][0] for path in seen})
        else:
            first.update(dict.fromkeys(paths, owner))
        self._tops.update(tops)

    def add(self, base: str, rel: str, owner: str) -> None:
        """Claim ``rel``, relative to ``base`` (inside the site directory), as written in a
        RECORD or file list; a path that leaves the site directory claims nothing here."""
        site = self.site
        if base == site and not rel.startswith(("/", "./")) and ".." not in rel and "//" not in rel:
            inside = rel
        else:
            full = os.path.normpath(os.path.join(base, rel))
            inside = os.path.relpath(full, site)
            if inside.startswith(("..", "/")):
                return  # scripts, data files: outside the site directory
            inside = inside.replace(os.sep, "/")
        if inside in self._first:
            self._many.setdefault(inside, [self._first[inside]]).append(owner)
        else:
            self._first[inside] = owner
        self._tops.add(inside.split("/", 1)[0])

    def owner(self, name: str) -> str | None:
        """The first distribution that claims ``name``."""
        return self._first.get(name)

    def claimed_top_level(self) -> set[str]:
        return self._tops

    def claimed_twice(self) -> list[tuple[str, list[str]]]:
        """(path, its claimants), sorted by path, for the paths several distributions claim."""
        return [(path, owners) for path, owners in sorted(self._many.items())]
