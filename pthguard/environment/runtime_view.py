"""The runtime's own view of the distributions in a site directory, to cross-check a snapshot.

pthguard reads metadata directories itself (it must hash RECORD as bytes and see every entry
of a directory), but what counts as installed at run time is what ``importlib.metadata``
finds: it matches ``.dist-info``/``.egg-info`` names case-insensitively, reads ``.egg-info``
files as well as directories, and takes the version from the metadata. A distribution it
finds that the snapshot does not describe (``six-9.9.DIST-INFO``, say) is one pthguard would
neither sign nor check: the snapshot refuses it. ``importlib-metadata`` (the maintained
backport of ``importlib.metadata``, the same code for every supported Python) is the right
tool for that view; it only reads files and runs nothing of the environment. Never used at
interpreter start (the gate) or on ``verify``'s fast path.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_name


@dataclass(frozen=True, slots=True)
class SeenDistribution:
    name: str  # canonical (PEP 503)
    version: str
    where: str  # the metadata directory or file, as importlib-metadata found it


def runtime_distributions(site_dir: str) -> list[SeenDistribution]:
    """Every distribution ``importlib.metadata`` would report for ``site_dir``."""
    import importlib_metadata  # noqa: PLC0415 (about 40 ms: only on the signing path)

    found = []
    for dist in importlib_metadata.distributions(path=[site_dir]):
        metadata = dist.metadata  # read and parsed once (each access reads the file again)
        raw_name = metadata["Name"] if metadata is not None else None
        try:
            version = metadata["Version"] if metadata is not None else dist.version
        except KeyError:
            version = dist.version  # raises as importlib-metadata does for a missing field
        where = str(getattr(dist, "_path", site_dir))
        found.append(
            SeenDistribution(
                name=canonicalize_name(raw_name) if raw_name else "",
                version=str(version or ""),
                where=where,
            )
        )
    return found


def unseen_by_snapshot(site_dir: str, described: set[tuple[str, str]]) -> list[SeenDistribution]:
    """What the runtime sees in ``site_dir`` that is not among ``described`` (canonical name,
    version) pairs of the snapshot."""
    return [d for d in runtime_distributions(site_dir) if (d.name, d.version) not in described]
