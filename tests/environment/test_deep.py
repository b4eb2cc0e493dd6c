"""pthguard.environment.deep on a real venv: every RECORD file checked, the same answer on
one thread or many, through its digest cache or without it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from pthguard._internal.statcache import StatCache
from pthguard.environment import deep as _deep
from pthguard.environment import probe as _probe
from pthguard.environment.layout import scan_environment
from pthguard.environment.snapshot import to_manifest
from pthguard.manifest.compare import Difference
from pthguard.manifest.model import Manifest, Policy
from tests.support.interpreters import Interpreter
from tests.support.venvs import Venv, make_venv
from tests.support.wheels import build_wheel

BIG = bytes(range(256)) * (3 * 4096 + 7)  # over 3 MiB: several reads of the 1 MiB buffer


@dataclass
class Signed:
    venv: Venv
    manifest: Manifest

    def differences(self, *, workers: int, cache: StatCache | None = None) -> list[Difference]:
        snap, _ = scan_environment(_probe.probe(self.venv.python))
        return _deep.deep_differences(
            self.manifest,
            snap,
            workers=workers,
            cache=cache if cache is not None else StatCache(None, ("test", 1)),
        )


@pytest.fixture
def signed(dev_interp: Interpreter, tmp_path: Path) -> Signed:
    files = {f"many/m{i:03}.py": f"VALUE = {i}\n".encode() for i in range(300)}
    files["many/__init__.py"] = b""
    files["big.bin"] = BIG
    wheels = [
        build_wheel(tmp_path / "w", "many", "1.0", files),
        build_wheel(tmp_path / "w", "other", "2.0", {"other.py": b"OTHER = 1\n"}),
    ]
    venv = make_venv(dev_interp, tmp_path / "venv", with_pip=False)
    venv.pip_install(*wheels)
    snap, _ = scan_environment(_probe.probe(venv.python))
    manifest = to_manifest(
        snap, version=1, created="2026-01-01T00:00:00Z", expires="2030-01-01T00:00:00Z",
        policy=Policy(),
    )  # fmt: skip
    return Signed(venv, manifest)


def tamper(site: Path) -> list[tuple[str, str]]:
    """Change the environment in every way deep verification names; returns (change,
    path) in RECORD order."""
    big = site / "big.bin"
    big.write_bytes(BIG[:-1] + b"\x00")  # the last byte, in the last read of the buffer
    (site / "many" / "m007.py").write_bytes(b"VALUE = 'x'\n")  # same size
    (site / "many" / "m100.py").unlink()
    (site / "many" / "m200.py").unlink()
    (site / "many" / "m200.py").mkdir()  # a directory where a file was
    (site / "many" / "m250.py").unlink()
    (site / "many" / "m250.py").symlink_to(site / "many" / "m251.py")
    (site / "other.py").write_bytes(b"OTHER = 2\n")
    return [
        ("changed", str(big)),
        ("changed", str(site / "many" / "m007.py")),
        ("removed", str(site / "many" / "m100.py")),
        ("changed", str(site / "many" / "m200.py")),
        ("changed", str(site / "many" / "m250.py")),
        ("changed", str(site / "other.py")),
    ]


def named(found: list[Difference]) -> list[tuple[str, str]]:
    return [(d.change, d.subject) for d in found]


def test_parallel_hashing_gives_the_serial_answer(signed: Signed) -> None:
    expected = tamper(signed.venv.site_packages)
    serial = signed.differences(workers=1)
    assert sorted(named(serial)) == sorted(expected)
    for workers in (2, 3, 8):
        assert signed.differences(workers=workers) == serial
    unreadable = next(d for d in serial if d.subject.endswith("m200.py"))
    assert unreadable.found == "unreadable: Is a directory"


def test_the_cache_gives_the_same_answer(signed: Signed, tmp_path: Path) -> None:
    cache_path = tmp_path / "deep.cache"
    fmt = ("pthguard-deep", 2)
    assert signed.differences(workers=3, cache=StatCache(cache_path, fmt)) == []
    assert cache_path.exists()
    assert signed.differences(workers=3, cache=StatCache(cache_path, fmt)) == []
    tamper(signed.venv.site_packages)
    serial = signed.differences(workers=1)
    for _ in range(2):  # the cache learnt the new digests: the same answer from it
        assert signed.differences(workers=3, cache=StatCache(cache_path, fmt)) == serial


def test_clean_environment_and_progress(signed: Signed) -> None:
    assert signed.differences(workers=1) == []
    assert signed.differences(workers=4) == []
    seen: list[tuple[int, int]] = []
    snap, _ = scan_environment(_probe.probe(signed.venv.python))
    _deep.deep_differences(
        signed.manifest,
        snap,
        workers=2,
        cache=StatCache(None, ("t", 1)),
        progress=lambda *a: seen.append(a),
    )
    total = len(_deep.jobs(signed.manifest, snap))
    assert total > 300
    assert seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_a_file_changed_while_it_was_read_is_not_remembered(
    signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fingerprint of the descriptor read is taken before and after the read: a file
    rewritten in place meanwhile gets no cache entry (and is hashed again next time)."""
    target = signed.venv.site_packages / "many" / "m042.py"
    real_readv = os.readv

    def readv_then_touch(fd: int, buffers: list[memoryview]) -> int:
        n = real_readv(fd, buffers)
        if n and os.fstat(fd).st_ino == target.stat().st_ino:
            os.utime(target, ns=(0, 0))
        return n

    monkeypatch.setattr("pthguard.environment.deep.os.readv", readv_then_touch)
    cache = StatCache(tmp_path / "deep.cache", ("pthguard-deep", 2))
    signed.differences(workers=1, cache=cache)
    assert str(target) not in cache.entries
    assert str(signed.venv.site_packages / "many" / "m043.py") in cache.entries
