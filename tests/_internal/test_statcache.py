"""pthguard._internal.statcache: a stat-keyed digest cache, trusted only when it should be."""

from __future__ import annotations

import hashlib
import marshal
import os
import time
from pathlib import Path
from typing import Any

import pytest

from pthguard._internal import statcache as _statcache
from pthguard._internal.hashing import sha256_file, stat_fingerprint
from pthguard._internal.statcache import StatCache
from pthguard.gate.schema import RACY_MARGIN_NS

FMT = ("pthguard-test", 1)
#: A marshal stream whose tuple contains itself: unmarshalling it crashes the interpreter (the
#: checksum keeps it from being read; the cache guards against damage, not against its owner).
SELF_REFERENCING = b"{\xa8\x01\x00\x00\x00r\x00\x00\x00\x00N0"


def old_file(path: Path, data: bytes) -> str:
    """``path`` with ``data`` and an mtime a minute ago (older than any cache written now)."""
    path.write_bytes(data)
    past = time.time_ns() - 60 * 10**9
    os.utime(path, ns=(past, past))
    return str(path)


def learn(cache_path: Path, files: list[str]) -> None:
    cache = StatCache(cache_path, FMT)
    for name in files:
        cache.remember(name, stat_fingerprint(name), sha256_file(name))
    cache.save()


def read_doc(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    assert raw[:32] == hashlib.sha256(raw[32:]).digest()
    doc: dict[str, Any] = marshal.loads(raw[32:])  # noqa: S302 (written by the test)
    return doc


def write_doc(path: Path, doc: dict[str, Any]) -> None:
    payload = marshal.dumps(doc, 4)
    path.write_bytes(hashlib.sha256(payload).digest() + payload)


def test_an_entry_vouches_for_an_unchanged_old_file(tmp_path: Path) -> None:
    name = old_file(tmp_path / "a", b"one")
    cache_path = tmp_path / "c" / "x.cache"
    learn(cache_path, [name])
    cache = StatCache(cache_path, FMT)
    assert cache.digest(name, stat_fingerprint(name)) == sha256_file(name)
    Path(name).write_bytes(b"two")  # another size, mtime and ctime
    assert cache.digest(name, stat_fingerprint(name)) is None


def test_a_file_changed_within_the_racy_margin_is_not_trusted(tmp_path: Path) -> None:
    """The entry matches the file's fingerprint exactly (as a change within one clock tick
    leaves it) but the cache was written less than the margin after the file's mtime."""
    name = old_file(tmp_path / "a", b"one")
    cache_path = tmp_path / "x.cache"
    fingerprint = stat_fingerprint(name)
    mtime = fingerprint[3]
    for written, trusted in ((mtime + RACY_MARGIN_NS // 2, False), (mtime + 10**9, True)):
        doc = {"format": FMT, "written_ns": written, "entries": {name: (fingerprint, "0" * 64)}}
        write_doc(cache_path, doc)
        found = StatCache(cache_path, FMT).digest(name, fingerprint)
        assert found == ("0" * 64 if trusted else None)


def test_a_file_written_now_is_hashed_again_next_time(tmp_path: Path) -> None:
    name = tmp_path / "fresh"
    name.write_bytes(b"now")
    cache_path = tmp_path / "x.cache"
    learn(cache_path, [str(name)])
    # the cache was written when its run began: before the file's mtime
    assert StatCache(cache_path, FMT).digest(str(name), stat_fingerprint(str(name))) is None


def test_only_what_a_run_used_is_written_back(tmp_path: Path) -> None:
    """An entry not looked up falls out (a racily clean one is never carried to a later
    write time, where it would be trusted); one looked up and trusted stays."""
    kept = old_file(tmp_path / "kept", b"k")
    racy = tmp_path / "racy"
    racy.write_bytes(b"r")
    cache_path = tmp_path / "x.cache"
    learn(cache_path, [kept, str(racy)])
    assert set(read_doc(cache_path)["entries"]) == {kept, str(racy)}
    time.sleep(2 * RACY_MARGIN_NS / 1e9)
    cache = StatCache(cache_path, FMT)
    assert cache.digest(kept, stat_fingerprint(kept)) is not None
    other = old_file(tmp_path / "other", b"o")
    cache.remember(other, stat_fingerprint(other), sha256_file(other))
    cache.save()
    assert set(read_doc(cache_path)["entries"]) == {kept, other}


def test_nothing_learnt_nothing_written(tmp_path: Path) -> None:
    name = old_file(tmp_path / "a", b"one")
    cache_path = tmp_path / "x.cache"
    learn(cache_path, [name])
    before = cache_path.stat()
    cache = StatCache(cache_path, FMT)
    assert cache.digest(name, stat_fingerprint(name)) is not None
    cache.save()
    after = cache_path.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def _damaged(path: Path, good: bytes) -> list[bytes]:
    payload = marshal.dumps({"format": FMT, "written_ns": 1, "entries": 5}, 4)
    junk = marshal.dumps(
        {"format": FMT, "written_ns": time.time_ns(), "entries": {"x": 5, "y": (1, 2)}}, 4
    )
    return [
        os.urandom(len(good)),
        good[: len(good) // 2],  # truncated
        good[:-1] + bytes([good[-1] ^ 1]),  # one flipped bit
        SELF_REFERENCING,  # caught by the checksum: never unmarshalled
        hashlib.sha256(payload).digest() + payload,  # entries not a dict
        hashlib.sha256(junk).digest() + junk,  # entries of the wrong shape
        b"",
    ]


def test_a_damaged_cache_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    name = old_file(tmp_path / "a", b"one")
    cache_path = tmp_path / "x.cache"
    learn(cache_path, [name])
    good = cache_path.read_bytes()
    for damage in _damaged(cache_path, good):
        cache_path.write_bytes(damage)
        cache = StatCache(cache_path, FMT)
        assert cache.digest(name, stat_fingerprint(name)) is None, damage[:40]
        assert cache.digest("x", (1, 2, 3, 4, 5)) is None
        cache.remember(name, stat_fingerprint(name), sha256_file(name))
        cache.save()
        assert read_doc(cache_path)["entries"] == {
            name: (stat_fingerprint(name), sha256_file(name))
        }


def test_a_foreign_format_is_ignored(tmp_path: Path) -> None:
    name = old_file(tmp_path / "a", b"one")
    cache_path = tmp_path / "x.cache"
    learn(cache_path, [name])
    assert StatCache(cache_path, ("pthguard-other", 1)).digest(name, stat_fingerprint(name)) is None


def test_a_cache_that_cannot_be_written_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = old_file(tmp_path / "a", b"one")
    blocked = tmp_path / "not-a-directory"
    blocked.write_bytes(b"")
    learn(blocked / "x.cache", [name])  # its directory cannot be made: nothing raised
    learn(tmp_path / "ro" / "x.cache", [name])
    before = (tmp_path / "ro" / "x.cache").read_bytes()

    def refuse(*args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    cache = StatCache(tmp_path / "ro" / "x.cache", FMT)
    assert cache.digest(name, stat_fingerprint(name)) is not None  # still read
    other = old_file(tmp_path / "b", b"two")
    cache.remember(other, stat_fingerprint(other), sha256_file(other))
    cache.save()
    assert (tmp_path / "ro" / "x.cache").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "ro").iterdir()) == ["x.cache"]


def test_parsed_values_follow_the_digests_in_use(tmp_path: Path) -> None:
    one = old_file(tmp_path / "one", b"1")
    two = old_file(tmp_path / "two", b"2")
    cache_path = tmp_path / "x.cache"
    cache = StatCache(cache_path, FMT)
    for name in (one, two):
        digest = sha256_file(name)
        cache.remember(name, stat_fingerprint(name), digest)
        cache.remember_parsed("kind", digest, ("parsed", name))
    cache.save()
    cache = StatCache(cache_path, FMT)
    found = cache.digest(one, stat_fingerprint(one))
    assert found is not None
    digest = found
    assert cache.parsed_value("kind", digest) == ("parsed", one)
    assert cache.parsed_value("other-kind", digest) is None
    cache.changed = True
    cache.save()  # two was not looked up: its entry and its parsed value fall out
    doc = read_doc(cache_path)
    assert set(doc["entries"]) == {one}
    assert doc["parsed"] == {("kind", digest): ("parsed", one)}


def test_no_home_no_cache_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert _statcache.cache_file("records", "/some/prefix") is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    found = _statcache.cache_file("records", "/some/prefix")
    assert found is not None
    assert found.parent == tmp_path / "pthguard"
    assert found.name.startswith("records-")
    assert found != _statcache.cache_file("records", "/other/prefix")


@pytest.mark.parametrize(
    "environ",
    [
        {"HOME": "/home/u"},
        {"HOME": "/home/u/", "XDG_CACHE_HOME": "/xdg"},
        {"HOME": "/home/u", "XDG_CACHE_HOME": "relative"},
        {"HOME": "/home/u", "XDG_CACHE_HOME": ""},
        {"HOME": "relative"},
        {"XDG_CACHE_HOME": "/xdg"},
    ],
)
def test_the_cache_directory_is_platformdirs_choice(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> None:
    import platformdirs

    for name in ("HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert _statcache._cache_dir() == Path(platformdirs.user_cache_dir("pthguard"))
