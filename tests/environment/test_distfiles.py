"""pthguard.environment.distfiles: METADATA and RECORD read through the stat-keyed cache give
what reading them gives, and the cache is trusted only when it should be."""

from __future__ import annotations

import base64
import hashlib
import marshal
import os
import time
from pathlib import Path
from typing import Any

import pytest

from pthguard._internal.statcache import StatCache
from pthguard.environment import distfiles as _distfiles
from pthguard.environment.claims import Claims
from pthguard.environment.distfiles import CACHE_FORMAT, DistFiles, RecordTable
from pthguard.errors import ScanError
from pthguard.formats.metadata import name_and_version
from pthguard.formats.record import read_record
from pthguard.gate.schema import RACY_MARGIN_NS


def row(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
    return f"{path},sha256={digest},{len(data)}\n"


RECORD = (
    row("pkg/__init__.py", b"A = 1\n")
    + row("pkg/sub/mod.py", b"B = 2\n")
    + row("pkg.pth", b"import pkg\n")
    + row("../../../bin/tool", b"#!python\n")
    + row("./pkg/dotted.py", b"C\n")
    + "pkg-1.0.dist-info/RECORD,,\n"
    + "pkg/bad.py,md5=abc,3\n"
).encode()
METADATA = b"Metadata-Version: 2.1\nName: Pkg\nVersion: 1.0\n\nbody\n"


def aged(path: Path, data: bytes) -> str:
    """Write ``data`` with an mtime a minute ago: older than any cache this test writes."""
    path.write_bytes(data)
    past = time.time_ns() - 60 * 10**9
    os.utime(path, ns=(past, past))
    return str(path)


def test_record_table_is_read_record_as_columns() -> None:
    table = RecordTable.parse(RECORD)
    rows, problems = read_record(RECORD)
    assert table.rows() == rows
    assert table.problems == tuple(problems)
    assert len(problems) == 1
    assert table.inside == (
        "pkg/__init__.py",
        "pkg/sub/mod.py",
        "pkg.pth",
        "pkg-1.0.dist-info/RECORD",
    )
    assert table.others == ("../../../bin/tool", "./pkg/dotted.py")
    assert table.tops == ("pkg", "pkg.pth", "pkg-1.0.dist-info")
    assert RecordTable.from_plain(table.to_plain()) == table


@pytest.mark.parametrize(
    "junk",
    [
        None,
        5,
        (),
        ((),) * 6,
        ((1,), (None,), (None,), (), (), (), ()),  # a path that is not a string
        (("a",), ("x", "y"), (None,), (), (), (), ()),  # columns of different lengths
        (("a",), (None,), ("3",), (), (), (), ()),  # a size that is not an int
        (("a",), (None,), (None,), (), ((),), (), ()),
        [("a",), (None,), (None,), (), (), (), ()],
    ],
)
def test_a_cached_table_of_the_wrong_shape_is_refused(junk: object) -> None:
    assert RecordTable.from_plain(junk) is None


def make_dist(tmp_path: Path) -> tuple[str, str]:
    info = tmp_path / "pkg-1.0.dist-info"
    info.mkdir(exist_ok=True)
    return aged(info / "METADATA", METADATA), aged(info / "RECORD", RECORD)


def expected(metadata: str, record: str) -> tuple[Any, Any]:
    meta = Path(metadata).read_bytes()
    data = Path(record).read_bytes()
    return (
        _distfiles.MetadataFile(
            sha256=hashlib.sha256(meta).hexdigest(),
            name=name_and_version(meta)[0],
            version=name_and_version(meta)[1],
        ),
        (hashlib.sha256(data).hexdigest(), RecordTable.parse(data)),
    )


def read_both(files: DistFiles, metadata: str, record: str) -> tuple[Any, Any]:
    return files.metadata(metadata), files.record(record)


class Counting:
    """Counts reads and parses of the module under test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[str] = []
        self.parses = 0
        real_read = _distfiles.read_optional
        real_parse = _distfiles.RecordTable.parse.__func__  # type: ignore[attr-defined]
        real_fields = name_and_version

        def read(path: str) -> bytes | None:
            self.reads.append(os.path.basename(path))
            return real_read(path)

        def parse(cls: type[RecordTable], data: bytes) -> RecordTable:
            self.parses += 1
            return real_parse(cls, data)  # type: ignore[no-any-return]

        def fields(data: bytes) -> tuple[str, str]:
            self.parses += 1
            return real_fields(data)

        monkeypatch.setattr(_distfiles, "read_optional", read)
        monkeypatch.setattr(_distfiles.RecordTable, "parse", classmethod(parse))
        monkeypatch.setattr("pthguard.environment.distfiles.name_and_version", fields)


def test_warm_reads_and_parses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    metadata, record = make_dist(tmp_path)
    cache_path = tmp_path / "records.cache"
    want = expected(metadata, record)
    count = Counting(monkeypatch)
    cold = StatCache(cache_path, CACHE_FORMAT)
    assert read_both(DistFiles(cold), metadata, record) == want
    cold.save()
    assert (count.reads, count.parses) == (["METADATA", "RECORD"], 2)
    warm = StatCache(cache_path, CACHE_FORMAT)
    assert read_both(DistFiles(warm), metadata, record) == want
    assert (count.reads, count.parses) == (["METADATA", "RECORD"], 2)  # nothing more
    assert read_both(DistFiles(None), metadata, record) == want


def test_a_changed_record_is_read_and_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metadata, record = make_dist(tmp_path)
    cache_path = tmp_path / "records.cache"
    cache = StatCache(cache_path, CACHE_FORMAT)
    read_both(DistFiles(cache), metadata, record)
    cache.save()
    changed = RECORD + row("pkg/new.py", b"evil\n").encode()
    aged(Path(record), changed)
    want = (hashlib.sha256(changed).hexdigest(), RecordTable.parse(changed))
    count = Counting(monkeypatch)
    cache = StatCache(cache_path, CACHE_FORMAT)
    found = DistFiles(cache).record(record)
    assert found == want
    assert "pkg/new.py" in want[1].paths
    assert (count.reads, count.parses) == (["RECORD"], 1)


def test_same_bytes_in_a_new_file_are_hashed_not_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A same-version reinstall writes a RECORD with the same bytes (a new inode)."""
    metadata, record = make_dist(tmp_path)
    cache_path = tmp_path / "records.cache"
    cache = StatCache(cache_path, CACHE_FORMAT)
    read_both(DistFiles(cache), metadata, record)
    cache.save()
    for name in (metadata, record):
        data = Path(name).read_bytes()
        os.unlink(name)
        aged(Path(name), data)
    want = expected(metadata, record)
    count = Counting(monkeypatch)
    cache = StatCache(cache_path, CACHE_FORMAT)
    assert read_both(DistFiles(cache), metadata, record) == want
    assert (count.reads, count.parses) == (["METADATA", "RECORD"], 0)


def test_a_racily_clean_record_is_read_again(tmp_path: Path) -> None:
    """The cache's entry for the RECORD has the file's exact fingerprint (as a change within
    one clock tick leaves it) and the digest of other bytes. Written less than the margin
    after the file's mtime, it is not trusted: the file is read. Written a second after, it
    is (so the first outcome is the rule's doing)."""
    metadata, record = make_dist(tmp_path)
    cache_path = tmp_path / "records.cache"
    cache = StatCache(cache_path, CACHE_FORMAT)
    read_both(DistFiles(cache), metadata, record)
    cache.save()
    raw = cache_path.read_bytes()
    doc = marshal.loads(raw[32:])  # noqa: S302 (written by the test)
    st = os.stat(record)
    fingerprint = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    other = RECORD.replace(b"pkg/sub", b"pkg/bus")
    other_digest = hashlib.sha256(other).hexdigest()
    doc["entries"][record] = (fingerprint, other_digest)
    doc["parsed"][("record", other_digest)] = RecordTable.parse(other).to_plain()
    for written, trusted in (
        (st.st_mtime_ns + RACY_MARGIN_NS // 2, False),
        (st.st_mtime_ns + 10**9, True),
    ):
        doc["written_ns"] = written
        payload = marshal.dumps(doc, 4)
        cache_path.write_bytes(hashlib.sha256(payload).digest() + payload)
        found = DistFiles(StatCache(cache_path, CACHE_FORMAT)).record(record)
        assert found is not None
        assert found[0] == (other_digest if trusted else hashlib.sha256(RECORD).hexdigest())


def test_a_damaged_cache_is_never_trusted(tmp_path: Path) -> None:
    metadata, record = make_dist(tmp_path)
    cache_path = tmp_path / "records.cache"
    cache = StatCache(cache_path, CACHE_FORMAT)
    read_both(DistFiles(cache), metadata, record)
    cache.save()
    good = cache_path.read_bytes()
    raw = marshal.loads(good[32:])  # noqa: S302 (written by the test)
    junk_parsed = {**raw, "parsed": dict.fromkeys(raw["parsed"], ("junk",))}
    junk = marshal.dumps(junk_parsed, 4)
    for damage in (
        good[: len(good) // 2],
        good[:-1] + bytes([good[-1] ^ 1]),
        os.urandom(64),
        hashlib.sha256(junk).digest() + junk,
    ):
        cache_path.write_bytes(damage)
        cache = StatCache(cache_path, CACHE_FORMAT)
        assert read_both(DistFiles(cache), metadata, record) == expected(metadata, record)
        cache.save()
        warm = StatCache(cache_path, CACHE_FORMAT)
        assert read_both(DistFiles(warm), metadata, record) == expected(metadata, record)


def test_missing_and_unreadable_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = StatCache(tmp_path / "records.cache", CACHE_FORMAT)
    for files in (DistFiles(cache), DistFiles(None)):
        assert files.metadata(str(tmp_path / "none" / "METADATA")) is None
        assert files.record(str(tmp_path / "none" / "RECORD")) is None
        directory = tmp_path / "RECORD"
        directory.mkdir(exist_ok=True)
        with pytest.raises(ScanError, match="cannot read"):
            files.record(str(directory))


ODD_PATHS = [
    "pkg/mod.py",
    "pkg/./mod.py",
    "pkg//mod.py",
    "pkg/",
    "pkg/.",
    "./pkg/mod.py",
    "../../../bin/tool",
    "pkg/../other.py",
    "..hidden",
    "a..b/c.py",
    ".",
    "pkg/.hidden",
]


@pytest.mark.parametrize("site", ["/venv/lib/site-packages", "/venv/./lib/site-packages", "/"])
def test_full_paths_are_normpath_of_the_join(site: str) -> None:
    record = "".join(f"{p},,\n" for p in ODD_PATHS).encode()
    table = RecordTable.parse(record)
    assert table.paths == tuple(ODD_PATHS)
    assert table.full_paths(site) == [os.path.normpath(os.path.join(site, p)) for p in ODD_PATHS]
    assert set(table.inside) == {"pkg/mod.py", "pkg/.hidden"}


def _claims_as_before(site: str, records: list[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """The scan's claims as a dict of lists, computed row by row as the scan always did."""
    claims: dict[str, list[str]] = {}
    for owner, paths in records:
        for rel in paths:
            if not rel.startswith(("/", "./")) and ".." not in rel and "//" not in rel:
                claims.setdefault(rel, []).append(owner)
                continue
            inside = os.path.relpath(os.path.normpath(os.path.join(site, rel)), site)
            if not inside.startswith(("..", "/")):
                claims.setdefault(inside.replace(os.sep, "/"), []).append(owner)
    return claims


def test_claims_are_the_row_by_row_claims() -> None:
    site = "/venv/lib/site-packages"
    records = [
        ("alpha", [*ODD_PATHS, "shared/x.py", "alpha.pth"]),
        ("beta", ["shared/x.py", "pkg/mod.py", "pkg/./mod.py", "beta.py"]),
        ("alpha", ["shared/x.py"]),  # a second metadata directory of the same name
        ("gamma", ["beta.py", "shared/./x.py"]),
    ]
    claims = Claims(site)
    for owner, paths in records:
        table = RecordTable.parse("".join(f"{p},,\n" for p in paths).encode())
        claims.add_plain(table.inside, table.tops, owner)
        for rel in table.others:
            claims.add(site, rel, owner)
    expected = _claims_as_before(site, records)
    for name in [*expected, "missing", "alpha.pth"]:
        assert claims.owner(name) == (expected[name][0] if name in expected else None)
    assert claims.claimed_top_level() == {rel.split("/", 1)[0] for rel in expected}
    twice = [(rel, owners) for rel, owners in sorted(expected.items()) if len(set(owners)) > 1]
    assert [(r, o) for r, o in claims.claimed_twice() if len(set(o)) > 1] == twice
