"""Real wheels (and legacy ``.egg-info`` installs) built inside the tests.

:func:`build_wheel` writes a spec-conforming, deterministic wheel (zip): the payload files,
optional ``.data/purelib`` and ``.data/platlib`` trees, and ``{dist}-{version}.dist-info``
with ``METADATA``, ``WHEEL`` (``Root-Is-Purelib: true``) and ``RECORD`` (``sha256=`` +
urlsafe base64 without padding, sizes; RECORD's own row has neither). ``pip install
--no-index`` accepts it. Knobs to make it wrong on purpose: ``corrupt_record`` (a wrong hash
for the first payload file; pip still installs it, pip does not check RECORD hashes),
``record=False`` (no RECORD; pip refuses it) and ``extra_record_rows`` (rows for files the
wheel does not hold).

:func:`litellm_like_pth` makes a ``.pth`` with the shape of litellm 1.82.8's
``litellm_init.pth``: one import line that ``exec``\\ s a base64 blob. Ours only appends a
line (its pid) to a marker file, so a test can tell whether and how often it ran.

:func:`egg_info_install` writes what ``python setup.py install`` (pip's legacy path) left
behind: the files plus ``{name}-{version}-pyX.Y.egg-info/`` with ``PKG-INFO`` and
``installed-files.txt``. Modern pip cannot produce it, so it is written by hand.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = [
    "RecordRow",
    "build_wheel",
    "dist_info_name",
    "egg_info_install",
    "escape_name",
    "litellm_like_pth",
    "read_record",
    "record_hash",
    "verify_record",
]

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_GENERATOR = "pthguard-tests (tests/support/wheels.py)"


@dataclass(frozen=True)
class RecordRow:
    path: str
    hash: str
    size: str


def escape_name(name: str) -> str:
    """The name as it appears in wheel and dist-info file names (PEP 427/503 escaping)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def dist_info_name(name: str, version: str) -> str:
    return f"{escape_name(name)}-{version}.dist-info"


def record_hash(data: bytes) -> str:
    """RECORD's hash field: ``sha256=`` + urlsafe base64 of the digest, no padding."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _check_relpath(path: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\\" in path:
        raise ValueError(f"not a relative wheel path: {path!r}")
    return pure.as_posix()


def build_wheel(
    out_dir: Path,
    name: str,
    version: str,
    files: Mapping[str, bytes],
    *,
    purelib_data: Mapping[str, bytes] | None = None,
    platlib_data: Mapping[str, bytes] | None = None,
    extra_record_rows: Sequence[tuple[str, str, str]] = (),
    corrupt_record: bool = False,
    record: bool = True,
    requires_dist: Sequence[str] = (),
) -> Path:
    """Write ``{name}-{version}-py3-none-any.whl`` into ``out_dir`` and return its path.

    ``files`` maps paths relative to site-packages (``"pkg/__init__.py"``, ``"x.pth"``) to
    their bytes; ``purelib_data``/``platlib_data`` go under ``{dist}-{version}.data/``.
    ``extra_record_rows`` are ``(path, hash, size)`` rows appended to RECORD as they are.
    """
    dist = escape_name(name)
    info = dist_info_name(name, version)
    data_dir = f"{dist}-{version}.data"
    entries: dict[str, bytes] = {}
    for path, content in sorted(files.items()):
        entries[_check_relpath(path)] = content
    for scheme, tree in (("purelib", purelib_data), ("platlib", platlib_data)):
        for path, content in sorted((tree or {}).items()):
            entries[f"{data_dir}/{scheme}/{_check_relpath(path)}"] = content
    if any(p.split("/", 1)[0] == info for p in entries):
        raise ValueError(f"files must not write into {info}/")
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        "Summary: built by pthguard's tests",
        *(f"Requires-Dist: {req}" for req in requires_dist),
    ]
    entries[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    entries[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: {_GENERATOR}\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ).encode()

    record_path = f"{info}/RECORD"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    corrupted = False
    for path, content in entries.items():
        digest = record_hash(content)
        if corrupt_record and not corrupted and not path.startswith(info):
            digest = record_hash(content + b"\n# tampered")
            corrupted = True
        writer.writerow([path, digest, str(len(content))])
    if corrupt_record and not corrupted:
        raise ValueError("corrupt_record needs at least one payload file")
    for row in extra_record_rows:
        writer.writerow(list(row))
    writer.writerow([record_path, "", ""])
    if record:
        entries[record_path] = buf.getvalue().encode()

    out_dir.mkdir(parents=True, exist_ok=True)
    wheel_path = out_dir / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, content in entries.items():  # payload first, dist-info (RECORD) last
            zinfo = zipfile.ZipInfo(path, date_time=_ZIP_DATE)
            zinfo.external_attr = 0o644 << 16
            zinfo.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zinfo, content)
    return wheel_path


def litellm_like_pth(marker: str) -> bytes:
    """A one-line ``.pth`` shaped like litellm 1.82.8's: ``import os, base64; exec(b64...)``.

    When its import line runs, it appends ``<pid>\\n`` to ``marker`` (a path as the target
    interpreter sees it) and does nothing else.
    """
    payload = f"with open({marker!r}, 'a') as _f:\n    _f.write(str(os.getpid()) + '\\n')\n"
    blob = base64.b64encode(payload.encode()).decode("ascii")
    return f"import os, base64; exec(base64.b64decode('{blob}'))\n".encode()


def egg_info_install(
    site_packages: Path,
    name: str,
    version: str,
    files: Mapping[str, bytes],
    *,
    py_version: str | None = None,
) -> Path:
    """Install ``files`` into ``site_packages`` as ``setup.py install`` did; return the
    ``.egg-info`` directory.

    Its ``installed-files.txt`` lists every file, relative to the ``.egg-info`` directory
    (``../pkg/__init__.py``, ``PKG-INFO``), as pip's legacy install wrote it. ``py_version``
    ("3.11") defaults to the one in ``site_packages``' parent (``lib/python3.11``).
    """
    if py_version is None:
        match = re.fullmatch(r"python(\d+\.\d+)t?", site_packages.parent.name)
        if match is None:
            raise ValueError(f"cannot tell the Python version of {site_packages}")
        py_version = match.group(1)
    # setuptools' to_filename(safe_name(name)): case kept, runs of other characters -> "_"
    egg_name = re.sub(r"[^A-Za-z0-9.]+", "_", name)
    egg_info = site_packages / f"{egg_name}-{version}-py{py_version}.egg-info"
    egg_info.mkdir(parents=True)
    written: list[str] = []
    for path, content in sorted(files.items()):
        rel = _check_relpath(path)
        target = site_packages / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written.append(f"../{rel}")
    top_level = sorted(
        {p.split("/", 1)[0].removesuffix(".py") for p in files if "/" in p or p.endswith(".py")}
    )
    meta = {
        "PKG-INFO": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            "Summary: built by pthguard's tests\n"
        ),
        "SOURCES.txt": "setup.py\n" + "".join(f"{p}\n" for p in sorted(files)),
        "dependency_links.txt": "\n",
        "top_level.txt": "".join(f"{t}\n" for t in top_level),
    }
    for fname, text in meta.items():
        (egg_info / fname).write_text(text, encoding="utf-8")
        written.append(fname)
    (egg_info / "installed-files.txt").write_text(
        "".join(f"{p}\n" for p in written), encoding="utf-8"
    )
    return egg_info


def read_record(dist_info: Path) -> list[RecordRow]:
    """The rows of an installed distribution's RECORD."""
    with (dist_info / "RECORD").open(newline="", encoding="utf-8") as fh:
        return [RecordRow(*row) for row in csv.reader(fh) if row]


def verify_record(site_packages: Path, dist_info: Path) -> list[str]:
    """Problems found checking every hashed RECORD row against the installed file (empty
    when all match). Paths are relative to ``site_packages``; ``..`` rows (scripts) too."""
    problems: list[str] = []
    for row in read_record(dist_info):
        if not row.hash:
            continue
        path = site_packages / row.path
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(f"{row.path}: {exc}")
            continue
        if record_hash(data) != row.hash:
            problems.append(f"{row.path}: hash {record_hash(data)} != {row.hash}")
        if row.size and int(row.size) != len(data):
            problems.append(f"{row.path}: size {len(data)} != {row.size}")
    return problems
