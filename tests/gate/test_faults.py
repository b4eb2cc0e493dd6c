"""Fault injection: the gate's hash cache, the seal and ``verify --deep``'s cache under damage.

Real guarded venvs (``tests.support.guard``), real pip, real starts of ``bin/python`` and the
sealed launcher ``bin/python-guarded``. The dev interpreter (3.11) carries most cases; the
corrupt-cache smoke test runs on every interpreter present.

The rules every case checks (README: exit codes; DESIGN.md: fail closed, racily clean):

* every start gives the right answer: exit 0 when the environment is clean, exit 78
  (``pthguard:`` first on stderr, the offending file named, ``NOT executed``) when an
  unlisted ``.pth`` or distribution is present, whatever state the cache is in;
* the cache can only make the gate do *more* work: one the gate cannot trust (corrupt,
  truncated, foreign, poisoned, unreadable) means a full check, never a skipped one;
* a start never leaves a corrupt cache behind: afterwards the cache file is absent or a
  valid one (checksum, marshal, the expected structure and key); a refused start writes
  nothing (a file planted before it is left exactly as it was);
* no ``*.tmp`` file of the gate's is left behind.

Starts run with ``PTHGUARD_DEBUG=timing``: a clean start prints one ``pthguard: gate ...``
line, which says ``cache write`` when the start wrote the cache (it did the full check and
found something the cache did not vouch for).

Root-only tools (the suite runs as root): ``setpriv`` drops CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH so that modes 000/0500 bind (as in ``test_cli``), ``mount -t tmpfs``
makes a full file system, ``unshare --pid --fork`` makes the gate pid 1. Each case skips
when its tool does not work here.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pthguard.environment import deep as _deep
from pthguard.gate import schema
from tests.support.guard import (
    Guarded,
    Marker,
    assert_refused,
    line_with,
    make_guarded,
    marker_pth,
)
from tests.support.interpreters import (
    Interpreter,
    host_env,
    interpreter_params,
    interpreters_by_label,
)

pytestmark = pytest.mark.slow
INTERPRETERS = interpreter_params()
DEV_LABEL = f"{sys.version_info[0]}.{sys.version_info[1]}"
CONCURRENT = 50
#: A 15-byte marshal stream: a dict whose key is a tuple holding itself. Unmarshalling it
#: hashes the tuple forever: SIGSEGV (C stack overflow) on 3.10-3.13, RecursionError on
#: 3.14+. One flipped byte of a real cache (an int's type code turned into a tuple's) does
#: the same; so does a tuple length of 2**31 - 1, which first allocates 16 GiB.
SELF_REFERENCING = b"{\xa8\x01\x00\x00\x00r\x00\x00\x00\x00N0"


# -- guarded venvs with a private cache ----------------------------------------------------------


@dataclass
class Case:
    """A fresh guarded venv whose starts use a private cache location.

    ``home`` set: ``XDG_CACHE_HOME=<work>/xdg`` (the gate's cache is ``xdg/pthguard/...``);
    ``home`` unset: neither ``HOME`` nor ``XDG_CACHE_HOME``, the cache lives beside the seal.
    """

    g: Guarded
    xdg: bool = True
    prefix: tuple[str, ...] = ()  # what every start runs under (setpriv, unshare)
    planted: set[Path] = field(default_factory=set)  # *.tmp files the test put there

    @property
    def home(self) -> Path:
        return self.g.work / "xdg"

    @property
    def env(self) -> dict[str, str | None]:
        if self.xdg:
            return {"XDG_CACHE_HOME": self.g.interp.inner_path(self.home)}
        return {"XDG_CACHE_HOME": None, "HOME": None}

    def seal(self) -> dict[str, Any]:
        doc: dict[str, Any] = unmarshal((self.g.state_dir() / "seal.bin").read_bytes()[4:])
        return doc

    @property
    def cache_file(self) -> Path:
        state = self.g.state_dir()
        name = f"{state.name.lstrip('.')}-{self.seal()['cache_tag']}.cache"
        return (self.home / "pthguard" / name) if self.xdg else (state / name)

    @property
    def site(self) -> str:
        """site-packages as the gate names it (the sealed path)."""
        return str(self.seal()["sites"][0][0])

    def key(self) -> tuple[Any, ...]:
        seal = self.seal()
        return (
            schema.CACHE_FORMAT,
            seal["manifest_sha256"],
            seal["sealed_at_ns"],
            seal["cache_tag"],
        )

    def start(
        self, *, sealed: bool = False, env: dict[str, str | None] | None = None
    ) -> subprocess.CompletedProcess[str]:
        python = self.g.interp.inner_path(self.g.launcher) if sealed else self.g.venv.python
        return self.g.interp.run_program(
            [*self.prefix, python, "-c", "print('ran')"],
            env={**self.env, "PTHGUARD_DEBUG": "timing", **(env or {})},
        )

    def both(self) -> list[subprocess.CompletedProcess[str]]:
        """A normal start and a sealed launch."""
        return [self.start(), self.start(sealed=True)]

    def pip_install(self, *wheels: Path) -> None:
        self.g.venv.pip_install(*wheels, env=self.env)


def make_case(interp: Interpreter, where: Path, *, xdg: bool = True) -> Case:
    return Case(make_guarded(interp, where), xdg=xdg)


def dev_interp() -> Interpreter:
    interp = interpreters_by_label().get(DEV_LABEL)
    if interp is None:
        pytest.skip(f"no pyenv Python {DEV_LABEL}")
    return interp


def touch_entries(site_packages: Path) -> None:
    """Add and remove an entry (what pip's temporary files do): the stamp of site-packages
    changes, so the next start does the full check; then let the clock pass the racily-clean
    margin, so that what that start records is trusted by the ones after it."""
    time.sleep(0.03)
    scratch = site_packages / "~scratch"
    scratch.mkdir()
    scratch.rmdir()
    time.sleep(0.03)


def stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def assert_clean(proc: subprocess.CompletedProcess[str]) -> bool:
    """Exit 0, the program ran, stderr only the timing line. Returns: did it write the cache?"""
    detail = f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert proc.returncode == 0, detail
    assert proc.stdout == "ran\n", detail
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, detail
    assert lines[0].startswith("pthguard: gate "), detail
    return "cache write" in lines[0]


def assert_refused_pth(proc: subprocess.CompletedProcess[str], marker: Marker) -> None:
    lines = assert_refused(proc)
    assert "NOT executed" in line_with(lines, "unlisted startup file", "zz_evil.pth")
    assert proc.stdout == ""
    assert not marker.exists()


def _checked(payload: bytes) -> bytes:
    """A seal file the checksum accepts: the gate's semantic checks must refuse it."""
    return (int.from_bytes(payload, "little") % 1_073_741_789).to_bytes(4, "little") + payload


def unmarshal(data: bytes) -> Any:
    return marshal.loads(data)  # noqa: S302 (files these tests and pthguard wrote)


def encode_cache(doc: dict[str, Any]) -> bytes:
    """The gate's cache file format: a checksum, then the marshalled document."""
    payload = marshal.dumps(doc, 4)
    return schema.checksum(payload) + payload


def read_cache(case: Case) -> dict[str, Any] | None:
    """The cache file, asserted valid; None if there is none."""
    path = case.cache_file
    if not path.exists():
        return None
    raw = path.read_bytes()
    assert raw[:4] == schema.checksum(raw[4:]), f"corrupt cache left behind: {raw[:64]!r}"
    doc = unmarshal(raw[4:])
    assert isinstance(doc, dict)
    assert set(doc) == {"key", "written_ns", "sites", "records"}
    assert doc["key"] == case.key()
    assert isinstance(doc["written_ns"], int)
    for where, site_stamp in doc["sites"].items():
        assert isinstance(where, str)
        assert isinstance(site_stamp, tuple)
        assert len(site_stamp) == 3
        assert all(isinstance(x, int) for x in site_stamp)
    for where, (fingerprint, digest) in doc["records"].items():
        assert isinstance(where, str)
        assert len(fingerprint) == 5
        assert all(isinstance(x, int) for x in fingerprint)
        assert isinstance(digest, str)
    return doc


def tmp_leftovers(case: Case) -> list[Path]:
    return sorted(set(case.cache_file.parent.glob("*.tmp")) - case.planted)


def assert_no_corrupt_cache(case: Case) -> None:
    """Absent or valid (a directory in its place stays one), and no temporary file left."""
    if not case.cache_file.is_dir():
        read_cache(case)
    assert not tmp_leftovers(case)


def valid_cache(case: Case) -> bytes:
    """A cache the gate wrote itself: touch site-packages, start, return the file's bytes."""
    touch_entries(case.g.site_packages)
    assert assert_clean(case.start())  # it did the full check and wrote the cache
    assert read_cache(case) is not None
    return case.cache_file.read_bytes()


def evil_pth(case: Case) -> tuple[Path, Marker]:
    marker = case.g.marker("evil")
    path = case.g.site_packages / "zz_evil.pth"
    path.write_bytes(marker_pth(marker))
    return path, marker


def newcomer_wheel(case: Case) -> Path:
    return case.g.wheel("newcomer", "1.0", {"newcomer.py": b"X = 1\n"})


# -- root-only tools ----------------------------------------------------------------------------


def _works(argv: Sequence[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, check=False, timeout=30).returncode == 0
    except OSError:
        return False


def without_dac() -> tuple[str, ...]:
    """A prefix that runs a command as root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, so
    that modes 000 and 0500 stop it (as ``test_cli._without_dac``)."""
    tool = shutil.which("setpriv")
    if tool is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to run a process that file modes stop")
    prefix = (tool, "--bounding-set=-dac_override,-dac_read_search")
    if not _works([*prefix, "true"]):
        pytest.skip("setpriv cannot drop capabilities here")
    return prefix


def as_pid_one() -> tuple[str, ...]:
    tool = shutil.which("unshare")
    if tool is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare to start the gate as pid 1")
    prefix = (tool, "--pid", "--fork")
    if not _works([*prefix, "true"]):
        pytest.skip("unshare cannot make a pid namespace here")
    return prefix


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tiny tmpfs mounted at ``where`` (a full file system on demand)."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) for a tmpfs")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


# -- (1) the gate's cache damaged -------------------------------------------------------------


def _random_bytes(case: Case, valid: bytes) -> bytes | None:
    return random.Random(1).randbytes(  # noqa: S311
        max(len(valid), 64)
    )


def _self_referencing(case: Case, valid: bytes) -> bytes | None:
    return SELF_REFERENCING


def _flipped_byte(case: Case, valid: bytes) -> bytes | None:
    # An int's type code (with FLAG_REF, 0xe9) turned into a tuple's (0xa8): marshal reads the
    # rest of the stream as that tuple's items. Here that gives junk; in the deep cache the
    # same flip made a tuple that holds itself (see SELF_REFERENCING) and crashed 3.11.
    at = valid.index(b"\xe9", 4)
    return valid[:at] + b"\xa8" + valid[at + 1 :]


def _truncated(case: Case, valid: bytes) -> bytes | None:
    return valid[: len(valid) // 2]


def _empty(case: Case, valid: bytes) -> bytes | None:
    return b""


def _unframed(case: Case, valid: bytes) -> bytes | None:
    return valid[4:]  # a valid document without its checksum (the format before it had one)


def _wrong_structure(case: Case, valid: bytes) -> bytes | None:
    # the right key and checksum, the wrong shapes: entries that cannot be stamps
    doc = {"key": case.key(), "written_ns": "soon", "sites": [case.site], "records": None}
    return encode_cache(doc)


def _odd_entries(case: Case, valid: bytes) -> bytes | None:
    # the right key, checksum and shapes of the containers; junk inside them
    doc = {
        "key": case.key(),
        "written_ns": time.time_ns() + 10**15,
        "sites": {case.site: "fine", "/elsewhere": (1, 2)},
        "records": {case.site + "/x/RECORD": 5, "/r": ((1,), None)},
    }
    return encode_cache(doc)


def _directory(case: Case, valid: bytes) -> bytes | None:
    case.cache_file.mkdir()
    return None


def _unreadable(case: Case, valid: bytes) -> bytes | None:
    case.prefix = without_dac()
    case.cache_file.write_bytes(valid)
    case.cache_file.chmod(0)
    return None


def _read_only_directory(case: Case, valid: bytes) -> bytes | None:
    case.prefix = without_dac()
    case.cache_file.write_bytes(valid)
    case.cache_file.parent.chmod(0o500)
    return None


Fault = Callable[[Case, bytes], "bytes | None"]

#: name -> (plant the fault: return bytes to write as the cache, or None when it did it itself;
#: what a clean start leaves: "valid" (a cache the gate wrote), "kept" (the planted state,
#: because the gate cannot replace it))
CACHE_FAULTS: dict[str, tuple[Fault, str]] = {
    "random-bytes": (_random_bytes, "valid"),
    "self-referencing": (_self_referencing, "valid"),
    "one-flipped-byte": (_flipped_byte, "valid"),
    "truncated": (_truncated, "valid"),
    "empty": (_empty, "valid"),
    "no-checksum": (_unframed, "valid"),
    "wrong-structure": (_wrong_structure, "valid"),
    "odd-entries": (_odd_entries, "valid"),
    "directory": (_directory, "kept"),
    "unreadable": (_unreadable, "valid"),
    "read-only-directory": (_read_only_directory, "kept"),
}


def _plant(case: Case, fault: Fault, valid: bytes) -> None:
    """Remove what a previous start left, then plant the fault."""
    path = case.cache_file
    path.parent.chmod(0o700)
    if path.is_dir():
        path.rmdir()
    elif path.exists():
        path.unlink()
    data = fault(case, valid)
    if data is not None:
        path.write_bytes(data)


def _snapshot(case: Case) -> tuple[str, bytes | None, int]:
    path = case.cache_file
    if path.is_dir():
        return ("dir", None, 0)
    if not path.exists():
        return ("absent", None, 0)
    return ("file", path.read_bytes(), path.stat().st_mode & 0o777)


@pytest.mark.parametrize("fault", list(CACHE_FAULTS))
def test_damaged_cache(fault: str, tmp_path: Path) -> None:
    """Each kind of damage to the gate's cache, then a clean start, a start with an unlisted
    ``.pth`` and one with an unlisted distribution (each a normal start and a sealed launch).

    Expected: clean -> exit 0 with the full check done (the damaged cache vouches for
    nothing); the gate then replaces the damage with a valid cache ("valid"), or, for a
    directory in its place or a read-only cache directory, leaves it as it is ("kept") and
    stays correct, only slower. Unlisted ``.pth`` -> 78, ``NOT executed``, the marker never
    written; unlisted distribution -> 78. A refused start writes nothing: the damaged file
    is exactly as planted. No ``*.tmp`` file is left in any case.
    """
    plant, after_clean = CACHE_FAULTS[fault]
    case = make_case(dev_interp(), tmp_path)
    valid = valid_cache(case)

    # clean, site-packages changed since the cache: the full check, whatever the cache says
    touch_entries(case.g.site_packages)
    _plant(case, plant, valid)
    wrote = [assert_clean(p) for p in case.both()]
    assert wrote[0]  # the full check, and an attempt to record it
    if after_clean == "valid":
        doc = read_cache(case)
        assert doc is not None
        assert doc["sites"][case.site] == stamp(case.g.site_packages)
    else:
        assert _snapshot(case)[0] in ("dir", "file")
    assert_no_corrupt_cache(case)

    # an unlisted .pth
    _plant(case, plant, valid)
    planted = _snapshot(case)
    evil, marker = evil_pth(case)
    for proc in case.both():
        assert_refused_pth(proc, marker)
    assert _snapshot(case) == planted
    assert not tmp_leftovers(case)
    evil.unlink()

    # an unlisted distribution, installed by pip (which starts the guarded interpreter)
    case.pip_install(newcomer_wheel(case))
    _plant(case, plant, valid)
    planted = _snapshot(case)
    for proc in case.both():
        assert_refused(proc, "unlisted distribution newcomer 1.0")
    assert _snapshot(case) == planted
    assert not tmp_leftovers(case)


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_corrupt_cache_every_interpreter(interp: Interpreter, tmp_path: Path) -> None:
    """Smoke test on every interpreter: a cache of random bytes, the 15-byte self-referencing
    stream and a real cache with one byte flipped.

    Expected: each clean start exits 0, does the full check and rewrites a valid cache
    (before the cache had a checksum, the self-referencing stream crashed every start of
    3.10-3.13 with SIGSEGV, exit -11); an unlisted ``.pth`` beside the damage -> 78, not
    executed; no corrupt cache and no ``*.tmp`` left after a clean start.
    """
    case = make_case(interp, tmp_path)
    valid = valid_cache(case)
    for damage in (_random_bytes, _self_referencing, _flipped_byte):
        touch_entries(case.g.site_packages)
        _plant(case, damage, valid)
        assert assert_clean(case.start()), damage.__name__
        assert read_cache(case) is not None
        assert not tmp_leftovers(case)
        _plant(case, damage, valid)
        evil, marker = evil_pth(case)
        assert_refused_pth(case.start(), marker)
        evil.unlink()
    assert_clean(case.start(sealed=True))
    assert_no_corrupt_cache(case)


def test_foreign_cache_after_reinstall(tmp_path: Path) -> None:
    """A cache written for an earlier installation: ``pthguard install`` again (same manifest,
    same token, so the same cache file name) makes a new seal, and the cache key changes.

    The old cache is then forged to vouch for the *current* stamp of site-packages (and to be
    trusted whatever its age), which it would do if its key were not checked.

    Expected: clean -> exit 0, but the gate did the full check and wrote a cache under the new
    key; with an unlisted distribution added (which only the full check finds: an unlisted
    ``.pth`` is stopped by the hook at every start) and the foreign cache forged again for the
    stamp that includes it -> 78, and the foreign file left untouched.
    """
    case = make_case(dev_interp(), tmp_path)
    old = unmarshal(valid_cache(case)[4:])
    old_key = old["key"]
    case.g.install(case.g.work / "manifest-1.json")
    assert case.key() != old_key

    def forge() -> bytes:
        doc = {
            **old,
            "written_ns": time.time_ns() + 10**15,
            "sites": {case.site: stamp(case.g.site_packages)},
        }
        case.cache_file.write_bytes(encode_cache(doc))
        return case.cache_file.read_bytes()

    touch_entries(case.g.site_packages)
    forge()
    proc = case.start()
    assert assert_clean(proc)  # the full check, and a cache under the new key
    assert read_cache(case) is not None
    case.pip_install(newcomer_wheel(case))
    forged = forge()
    for proc in case.both():
        assert_refused(proc, "unlisted distribution newcomer 1.0")
    assert case.cache_file.read_bytes() == forged


def test_poisoned_cache_only_adds_work(tmp_path: Path) -> None:
    """A cache with the right key (as the user's own earlier start wrote it), poisoned: every
    entry claimed older than the margin (``written_ns`` far in the future), junk entries,
    and a RECORD entry with a wrong digest for the RECORD's current fingerprint.

    Expected: (a) the wrong digest cannot vouch for anything: the RECORD (rewritten with the
    same bytes, new fingerprint) is hashed again, the start exits 0 and the new cache holds
    the real digest. (b) The cache vouches for the stamp site-packages had *before* pip
    installed an unlisted distribution: the stamp no longer matches, the gate does the full
    check and refuses (78, normal start and sealed launch), and writes nothing.
    """
    case = make_case(dev_interp(), tmp_path)
    valid = unmarshal(valid_cache(case)[4:])
    record = case.g.site_packages / "plainpkg-1.0.dist-info" / "RECORD"
    record.write_bytes(record.read_bytes())  # same bytes, a new fingerprint
    st = record.stat()
    fingerprint = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    record_key = case.site + "/plainpkg-1.0.dist-info/RECORD"
    touch_entries(case.g.site_packages)
    poisoned = {
        **valid,
        "written_ns": time.time_ns() + 10**15,
        "sites": {"/nonexistent": (1, 2, 3)},
        "records": {record_key: (fingerprint, "0" * 64), "/nonexistent/RECORD": (fingerprint, "")},
    }
    case.cache_file.write_bytes(encode_cache(poisoned))
    assert assert_clean(case.start())
    doc = read_cache(case)
    assert doc is not None
    data = unmarshal((case.g.state_dir() / schema.DATA_NAME).read_bytes()[4:])
    dists = unmarshal(data["distributions"][case.site])
    seal_digest = next(d[1] for n, d in dists.items() if n.startswith("plain"))
    assert doc["records"][record_key] == (fingerprint, seal_digest)

    before = stamp(case.g.site_packages)
    case.pip_install(newcomer_wheel(case))
    assert stamp(case.g.site_packages) != before  # construction: the cache's stamp is stale
    poisoned = {**doc, "written_ns": time.time_ns() + 10**15, "sites": {case.site: before}}
    case.cache_file.write_bytes(encode_cache(poisoned))
    written = case.cache_file.read_bytes()
    for proc in case.both():
        assert_refused(proc, "unlisted distribution newcomer 1.0")
    assert case.cache_file.read_bytes() == written


@pytest.mark.parametrize("read_only", [False, True], ids=["home-unset", "home-unset-read-only"])
def test_cache_beside_the_seal(read_only: bool, tmp_path: Path) -> None:
    """No ``HOME`` and no ``XDG_CACHE_HOME`` (an image's runtime user): the cache lives in the
    state directory, beside the seal; read-only: that directory is mode 0500 and the start
    runs without CAP_DAC_OVERRIDE.

    Expected: clean -> 0 (normal start and sealed launch); the cache beside the seal is
    valid, or (read-only) there is none and each start does the full check again; unlisted
    ``.pth`` -> 78 not executed; unlisted distribution -> 78.
    """
    case = make_case(dev_interp(), tmp_path, xdg=False)
    state = case.g.state_dir()
    if read_only:
        case.prefix = without_dac()
        state.chmod(0o500)
    try:
        for _ in range(2):
            touch_entries(case.g.site_packages)
            wrote = [assert_clean(p) for p in case.both()]
            assert wrote[0]
            if read_only:
                assert not case.cache_file.exists()
                assert wrote[1]  # nothing recorded: the full check again
            else:
                assert read_cache(case) is not None
                assert not wrote[1]  # the normal start recorded it for the sealed launch
            assert not tmp_leftovers(case)
        evil, marker = evil_pth(case)
        for proc in case.both():
            assert_refused_pth(proc, marker)
        evil.unlink()
        case.pip_install(newcomer_wheel(case))
        for proc in case.both():
            assert_refused(proc, "unlisted distribution newcomer 1.0")
        assert_no_corrupt_cache(case)
    finally:
        state.chmod(0o755)


def test_racily_clean_stamp_is_not_trusted_for_a_slow_start(tmp_path: Path) -> None:
    """The cache vouches for site-packages as of the moment the gate began its checks, not
    the (possibly much later) moment it wrote the cache.

    The RECORD of ``plainpkg`` is a FIFO, so the gate blocks on it after it took the stamp of
    site-packages and listed it; the test holds it 300 ms (a descheduled or hashing start).
    A change made in that window within the clock tick of the stamp leaves the stamp as it
    was; measured from the write time it would be trusted by every later start.

    Expected: exit 0; the cache's ``written_ns`` is not later than the moment the gate opened
    the RECORD (before the fix: ~300 ms later); when the recorded stamp is racily clean by
    that measure, the next start checks again (``cache write``).
    """
    case = make_case(dev_interp(), tmp_path)
    record = case.g.site_packages / "plainpkg-1.0.dist-info" / "RECORD"
    data = record.read_bytes()
    record.unlink()
    os.mkfifo(record)
    touch_entries(case.g.site_packages)
    python = case.g.venv.python
    proc = subprocess.Popen(
        [python, "-c", "print('ran')"],
        env=host_env({**case.env, "PTHGUARD_DEBUG": "timing"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # the gate opens the FIFO for reading: after its stamp and its listing
            try:
                fd = os.open(record, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the gate never read the RECORD"
                time.sleep(0.001)
        opened_ns = time.time_ns()
        time.sleep(0.3)
        os.set_blocking(fd, True)
        os.write(fd, data)
        os.close(fd)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert assert_clean(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    record.unlink()
    record.write_bytes(data)  # inside the dist-info: the stamp of site-packages is unchanged
    doc = read_cache(case)
    assert doc is not None
    assert doc["written_ns"] <= opened_ns, (doc["written_ns"] - opened_ns) / 1e6
    recorded = doc["sites"][case.site]
    assert recorded == stamp(case.g.site_packages)
    if recorded[1] >= doc["written_ns"] - schema.RACY_MARGIN_NS:
        assert assert_clean(case.start())  # racily clean: the full check again


# -- (2) the seal damaged -------------------------------------------------------------------------


def _seal_variants(seal: bytes) -> dict[str, Callable[[Path], object]]:
    doc = unmarshal(seal[4:])  # after the checksum

    def write(data: bytes) -> Callable[[Path], object]:
        return lambda path: path.write_bytes(data)

    def directory(path: Path) -> None:
        path.unlink()
        path.mkdir()

    return {
        "truncated": write(seal[: len(seal) // 2]),
        "one-byte": write(seal[:1]),
        "empty": write(b""),
        "other-format": write(
            _checked(marshal.dumps({**doc, "format": schema.SEAL_FORMAT + 1}, 4))
        ),
        "no-format": write(
            _checked(marshal.dumps({k: v for k, v in doc.items() if k != "format"}, 4))
        ),
        "not-a-dict": write(_checked(marshal.dumps([doc], 4))),
        "missing-fields": write(_checked(marshal.dumps({"format": schema.SEAL_FORMAT}, 4))),
        "other-interpreter": write(_checked(marshal.dumps({**doc, "cache_tag": "cpython-39"}, 4))),
        "directory": directory,
    }


SEAL_CASES = (
    "truncated",
    "one-byte",
    "empty",
    "other-format",
    "no-format",
    "not-a-dict",
    "missing-fields",
    "other-interpreter",
    "directory",
)


@pytest.fixture(scope="module")
def seal_case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """One guarded venv per worker for the seal cases (each restores the seal)."""
    return make_case(dev_interp(), tmp_path_factory.mktemp("seal"))


@pytest.mark.parametrize("variant", SEAL_CASES)
def test_damaged_seal_is_refused(variant: str, seal_case: Case) -> None:
    """The seal truncated, empty, of another format, without its fields, compiled for another
    interpreter, or a directory in its place (random bytes and a missing seal are in
    ``test_gate.test_fails_closed``).

    Expected: a normal start and a sealed launch both exit 78, stderr first line
    ``pthguard: refusing to start: the startup gate failed (...)`` and the remedy
    ``reinstall with `pthguard install```; nothing of the program runs. With the seal put back
    the next start is clean.
    """
    case = seal_case
    seal = case.g.state_dir() / "seal.bin"
    good = seal.read_bytes()
    _seal_variants(good)[variant](seal)
    try:
        for proc in case.both():
            lines = assert_refused(proc, "reinstall with `pthguard install`")
            assert "the startup gate failed" in lines[0]
            assert proc.stdout == ""
    finally:
        if seal.is_dir():
            seal.rmdir()
        seal.write_bytes(good)
    assert_clean(case.start())


def test_seal_that_crashes_marshal_is_refused(seal_case: Case) -> None:
    """The 15-byte self-referencing marshal stream as the seal (what one flipped byte of a
    seal can amount to). Expected: 78 with the reinstall message: the seal's checksum is
    checked before marshal reads it (without it, 3.10-3.13 died of SIGSEGV)."""
    case = seal_case
    seal = case.g.state_dir() / "seal.bin"
    good = seal.read_bytes()
    seal.write_bytes(SELF_REFERENCING)
    try:
        proc = case.start()
    finally:
        seal.write_bytes(good)
    assert_refused(proc, "reinstall with `pthguard install`")


def test_damaged_seal_data_is_refused_where_it_is_needed(tmp_path: Path) -> None:
    """The seal's data file (the distributions and the import guard's index, kept out of
    the seal so that a warm start does not read them) with a flipped byte, or empty.

    Expected: a warm start, which trusts the site directory's sealed stamp, does not read
    it and runs; a start after an entry of site-packages was added and removed must check
    the distributions: both a normal start and a sealed launch exit 78 naming the file
    (``is not the file this seal was installed with``) and the reinstall remedy. With the
    file put back the next start is clean."""
    case = make_case(dev_interp(), tmp_path)
    data = case.g.state_dir() / schema.DATA_NAME
    good = data.read_bytes()
    assert_clean(case.start())  # whatever the first start checks, the ones after are warm
    for damaged in (good[:-1] + bytes([good[-1] ^ 1]), b""):
        data.write_bytes(damaged)
        try:
            assert_clean(case.start())
            touch_entries(case.g.site_packages)
            for proc in case.both():
                assert_refused(
                    proc, "is not the file this seal was installed with", "pthguard install"
                )
                assert str(case.g.interp.inner_path(data)) in proc.stderr
                assert proc.stdout == ""
        finally:
            data.write_bytes(good)
        assert_clean(case.start())  # the full check, the file back: the cache records it


# -- (3) a full disk, a killed writer -------------------------------------------------------------


def test_cache_on_a_full_file_system(tmp_path: Path) -> None:
    """The cache directory is a 4 KiB tmpfs whose one page a filler file holds: every write
    fails with ENOSPC.

    Expected: clean -> 0 each time (the full check every time, nothing recorded); unlisted
    ``.pth`` -> 78 not executed; no cache file and no ``*.tmp`` on the full file system.
    """
    case = make_case(dev_interp(), tmp_path)
    with tmpfs(case.home / "pthguard", "4k") as mount:
        (mount / "filler").write_bytes(b"x")
        for _ in range(2):
            touch_entries(case.g.site_packages)
            assert assert_clean(case.start())
            assert sorted(p.name for p in mount.iterdir()) == ["filler"]
        evil, marker = evil_pth(case)
        assert_refused_pth(case.start(), marker)
        evil.unlink()
        assert sorted(p.name for p in mount.iterdir()) == ["filler"]


def test_cache_write_that_does_not_fit(tmp_path: Path) -> None:
    """A short write: the cache directory is a 12 KiB tmpfs holding a valid 2-page cache (with
    many stale entries, which the gate carries over), so the new cache gets one page: the
    first ``write()`` stores 4096 bytes and returns short without an error, the next one
    fails with ENOSPC.

    Expected: exit 0; the previous cache is still there, byte for byte, and valid; no
    ``*.tmp`` left. (Before the fix the gate ignored the short count and renamed a 4096-byte
    truncated cache over the valid one.)
    """
    case = make_case(dev_interp(), tmp_path)
    with tmpfs(case.home / "pthguard", "12k"):
        junk = {
            f"/stale/{i:04d}/{'x' * 40}/RECORD": ((1, 2, 3, 4, 5), "0" * 64) for i in range(100)
        }
        doc = {
            "key": case.key(),
            "written_ns": time.time_ns(),
            "sites": {case.site: (1, 2, 3)},  # stale: the next start does the full check
            "records": junk,
        }
        old = encode_cache(doc)
        assert 4096 < len(old) <= 8192
        case.cache_file.write_bytes(old)
        touch_entries(case.g.site_packages)
        assert assert_clean(case.start())  # it tried to write
        assert case.cache_file.read_bytes() == old
        assert read_cache(case) is not None
        assert not tmp_leftovers(case)


def test_leftover_tmp_of_a_killed_writer(tmp_path: Path) -> None:
    """A writer killed between creating ``<cache>.<pid>.tmp`` and renaming it leaves the file.
    Here it holds a complete cache with the right key that vouches for the current stamp of
    site-packages, an unlisted distribution included (which only the full check finds).

    Expected: the ``.tmp`` is never read: 78 (normal start and sealed launch); with the
    distribution removed, clean -> 0 and a valid cache is written beside the leftover (it
    does not block the write; another pid's leftover is left where it is).
    """
    case = make_case(dev_interp(), tmp_path)
    valid_cache(case)
    case.pip_install(newcomer_wheel(case))
    case.cache_file.unlink(missing_ok=True)  # whatever pip's own start recorded
    forged = encode_cache(
        {
            "key": case.key(),
            "written_ns": time.time_ns() + 10**15,
            "sites": {case.site: stamp(case.g.site_packages)},
            "records": {},
        }
    )
    leftover = case.cache_file.with_name(f"{case.cache_file.name}.4194303.tmp")
    leftover.write_bytes(forged)
    case.planted.add(leftover)
    for proc in case.both():
        assert_refused(proc, "unlisted distribution newcomer 1.0")
    assert not case.cache_file.exists()
    shutil.rmtree(case.g.site_packages / "newcomer-1.0.dist-info")
    (case.g.site_packages / "newcomer.py").unlink()
    touch_entries(case.g.site_packages)
    assert assert_clean(case.start())
    assert read_cache(case) is not None
    assert leftover.read_bytes() == forged
    assert not tmp_leftovers(case)


def test_leftover_tmp_with_the_same_pid(tmp_path: Path) -> None:
    """In a container the interpreter is often pid 1, so a killed writer's ``<cache>.1.tmp``
    has the very name the next pid-1 gate wants (``O_EXCL`` fails). Starts run under
    ``unshare --pid --fork``, as pid 1.

    Expected: the first start exits 0 and removes the stale file (it skips its own write);
    the second exits 0 and writes a valid cache; no ``*.tmp`` left.
    """
    case = make_case(dev_interp(), tmp_path)
    case.prefix = as_pid_one()
    probe = case.g.interp.run_program(
        [*case.prefix, case.g.venv.python, "-c", "import os; print(os.getpid())"], env=case.env
    )
    assert probe.stdout.strip() == "1", probe
    case.cache_file.parent.mkdir(parents=True)
    stale = case.cache_file.with_name(f"{case.cache_file.name}.1.tmp")
    stale.write_bytes(b"half a cache")
    touch_entries(case.g.site_packages)
    assert_clean(case.start())
    assert not stale.exists()
    assert assert_clean(case.start())
    assert read_cache(case) is not None
    assert not tmp_leftovers(case)


# -- (4) load -------------------------------------------------------------------------------------


def _start_many(case: Case, count: int) -> list[subprocess.CompletedProcess[str]]:
    argv = [case.g.venv.python, "-c", "print('ran')"]
    env = host_env({**case.env, "PTHGUARD_DEBUG": "timing"})
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        out.append(subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr))
    return out


def test_many_starts_at_once_on_a_cold_cache(tmp_path: Path) -> None:
    """50 guarded interpreters started at once after site-packages changed in an allowed way:
    each does the full check and tries to write the cache (racing renames).

    Expected: all 50 exit 0 and at least one wrote the cache; the cache afterwards is valid
    and vouches for the current stamp; no ``*.tmp`` left. Then with an unlisted ``.pth``:
    all 50 exit 78, none ran it, and the cache is exactly as before (refused starts write
    nothing).
    """
    case = make_case(dev_interp(), tmp_path)
    touch_entries(case.g.site_packages)
    results = _start_many(case, CONCURRENT)
    wrote = [assert_clean(p) for p in results]
    assert any(wrote)
    doc = read_cache(case)
    assert doc is not None
    assert doc["sites"][case.site] == stamp(case.g.site_packages)
    assert not tmp_leftovers(case)
    before = case.cache_file.read_bytes()
    _evil, marker = evil_pth(case)
    for proc in _start_many(case, CONCURRENT):
        assert_refused_pth(proc, marker)
    assert case.cache_file.read_bytes() == before
    assert not tmp_leftovers(case)


# -- (4) verify --deep and its cache ---------------------------------------------------------


def _verify_deep(case: Case, prefix: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    args = ["verify", "--python", case.g.venv.python, "--deep"]
    if not prefix:
        return case.g.pthguard(*args, env=case.env)
    return subprocess.run(
        [*prefix, sys.executable, "-m", "pthguard", *args],
        env=host_env(case.env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _deep_cache(case: Case) -> Path:
    found = sorted((case.home / "pthguard").glob("deep-*.cache"))
    assert len(found) == 1, found
    return found[0]


def _read_deep(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    assert raw[:32] == hashlib.sha256(raw[32:]).digest(), "corrupt deep cache"
    doc: dict[str, Any] = unmarshal(raw[32:])
    assert doc["format"] == _deep._CACHE_FORMAT
    assert isinstance(doc["written_ns"], int)
    assert isinstance(doc["entries"], dict)
    return doc


def _write_deep(path: Path, doc: dict[str, Any]) -> None:
    payload = marshal.dumps(doc, 4)
    path.write_bytes(hashlib.sha256(payload).digest() + payload)


def _assert_deep(proc: subprocess.CompletedProcess[str], changed: str | None) -> None:
    detail = f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    if changed is None:
        assert proc.returncode == 0, detail
        assert proc.stderr == "", detail
    else:
        assert proc.returncode == 1, detail
        assert changed in proc.stdout, detail


def _tamper(case: Case) -> Path:
    """Change plainpkg/__init__.py, keeping its size."""
    module = case.g.site_packages / "plainpkg" / "__init__.py"
    data = module.read_bytes()
    assert data == b"VALUE = 1\n"
    module.write_bytes(b"VALUE = 7\n")
    return module


def test_deep_cache_damaged(tmp_path: Path) -> None:
    """``verify --deep`` with its cache as random bytes, the self-referencing marshal stream,
    or a checksummed document whose entries are junk.

    Expected: each is ignored: exit 0 on the clean venv, and the cache is rewritten valid
    (before the fix the self-referencing stream crashed ``pthguard`` with SIGSEGV and junk
    entries raised a TypeError traceback); then with a module changed (same size) and the
    damage planted again: exit 1 naming the file.
    """
    case = make_case(dev_interp(), tmp_path)
    _assert_deep(_verify_deep(case), None)
    path = _deep_cache(case)
    good = _read_deep(path)
    junk = {**good, "entries": dict.fromkeys(good["entries"], 5)}
    damages: list[Callable[[], object]] = [
        lambda: path.write_bytes(os.urandom(len(path.read_bytes()))),
        lambda: path.write_bytes(SELF_REFERENCING),
        lambda: _write_deep(path, junk),
    ]
    for damage in damages:
        damage()
        _assert_deep(_verify_deep(case), None)
        assert _read_deep(path)["entries"]
    module = _tamper(case)
    for damage in damages:
        damage()
        _assert_deep(_verify_deep(case), str(module))


def test_deep_cache_racily_clean_entry(tmp_path: Path) -> None:
    """A file changed after the deep cache recorded it, keeping its size and its mtime.

    (a) As it happens: write, ``verify --deep`` (cached), change the bytes, put the mtime
    back with ``os.utime``. Expected: exit 1 naming the file (its ctime moved).
    (b) The racily-clean rule alone: the cache entry is made to match the changed file's
    fingerprint exactly (as a change within the same clock tick leaves it) with the old
    digest, and the cache's write time 10 ms after the file's mtime. Expected: the entry is
    not trusted: hashed again, exit 1. The same entry with the write time 1 s after the mtime
    is trusted (exit 0, the point of a stat cache; only the user's own processes can write
    it): so (b)'s exit 1 is the rule's doing.
    """
    case = make_case(dev_interp(), tmp_path)
    module = case.g.site_packages / "plainpkg" / "__init__.py"
    module.write_bytes(module.read_bytes())
    _assert_deep(_verify_deep(case), None)
    path = _deep_cache(case)
    doc = _read_deep(path)
    key = str(module)
    assert key in doc["entries"]
    mtime = module.stat().st_mtime_ns
    _tamper(case)
    os.utime(module, ns=(module.stat().st_atime_ns, mtime))
    _assert_deep(_verify_deep(case), str(module))

    st = module.stat()
    assert st.st_mtime_ns == mtime
    fingerprint = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    old_digest = doc["entries"][key][1]
    for written, changed in ((mtime + 10_000_000, str(module)), (mtime + 10**9, None)):
        entries = {**_read_deep(path)["entries"], key: (fingerprint, old_digest)}
        _write_deep(
            path, {"format": _deep._CACHE_FORMAT, "written_ns": written, "entries": entries}
        )
        _assert_deep(_verify_deep(case), changed)


def test_deep_cache_read_only_directory(tmp_path: Path) -> None:
    """``verify --deep`` when the cache directory is mode 0500 (and CAP_DAC_OVERRIDE dropped).

    Expected: with no cache: exit 0 and no file written (no cache, no temporary file); with a
    valid cache already there: it is used and left as it is (so is the records cache every
    scan reads); a changed module: exit 1 naming it.
    """
    prefix = without_dac()
    case = make_case(dev_interp(), tmp_path)
    directory = case.home / "pthguard"
    directory.mkdir(parents=True)
    directory.chmod(0o500)
    try:
        _assert_deep(_verify_deep(case, prefix), None)
        assert list(directory.iterdir()) == []
        directory.chmod(0o700)
        _assert_deep(_verify_deep(case), None)
        path = _deep_cache(case)
        (records,) = directory.glob("records-*.cache")
        before = path.read_bytes(), records.read_bytes()
        directory.chmod(0o500)
        _assert_deep(_verify_deep(case, prefix), None)
        module = _tamper(case)
        _assert_deep(_verify_deep(case, prefix), str(module))
        assert (path.read_bytes(), records.read_bytes()) == before
        assert sorted(directory.iterdir()) == sorted([path, records])
    finally:
        directory.chmod(0o700)
