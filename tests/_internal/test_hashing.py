"""pthguard._internal.hashing on real files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pthguard._internal.hashing import sha256_bytes, sha256_file, stat_fingerprint
from pthguard.gate.schema import file_fingerprint


def test_digests_are_hex_sha256(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # over one read chunk on 3.10
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_bytes(data) == expected
    assert sha256_file(path) == sha256_file(str(path)) == expected
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_file(empty) == sha256_bytes(b"") == hashlib.sha256().hexdigest()


def test_stat_fingerprint_is_the_gates(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"one")
    st = os.stat(path)
    assert stat_fingerprint(str(path)) == file_fingerprint(st)
    assert stat_fingerprint(str(path)) == (
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
    )
    link = tmp_path / "link"
    link.symlink_to(path)
    assert stat_fingerprint(str(link)) == stat_fingerprint(str(path))  # follows symlinks
    before = stat_fingerprint(str(path))
    path.write_bytes(b"three")
    assert stat_fingerprint(str(path)) != before  # the size changed
