"""Run by the target interpreter (``python -S -I``), never imported by pthguard: check module
files against their signed digests, compile the bytecode of the verified sources, and report
the stat fingerprints the import guard may trust.

stdin: ``marshal.dumps([(path, (sha256 (32 bytes), ...), bytecode path | None), ...])``:
the digests every signed distribution that claims the file gives it; the file must have one
of them. stdout: ``marshal.dumps([(path, problem | None, fingerprint | None, bytecode path
| None, bytecode fingerprint | None, bytecode sha256 | None, the file's sha256), ...])``.

The bytecode is compiled from the bytes whose digest was just checked (``optimize=0``, a
timestamp header as ``py_compile`` writes) into pthguard's own store in the state directory
(no installer writes there; ``__pycache__`` is left as it is). A store file that already
holds those bytes is kept, with its fingerprint. A fingerprint is reported only when the
file's mtime is older than the moment it was taken minus a margin (git's racily-clean rule):
files written moments ago (the bytecode) are read, hashed and fingerprinted again after that
margin.
"""

import hashlib
import importlib._bootstrap_external as external
import marshal
import os
import sys
import time

MARGIN_NS = 20_000_000  # RACY_MARGIN_NS of pthguard.gate.schema


def fingerprint(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read(path: str) -> tuple[bytes, os.stat_result]:
    with open(path, "rb", buffering=0) as handle:
        data = handle.read()
        st = os.fstat(handle.fileno())
    return data, st


def write_bytecode(source: str, data: bytes, st: os.stat_result, pyc: str) -> str | None:
    try:
        code = compile(data, source, "exec", dont_inherit=True, optimize=0)
    except (SyntaxError, ValueError):
        return None  # the import fails the same way, guarded or not
    payload = external._code_to_timestamp_pyc(  # type: ignore[attr-defined]
        code, int(st.st_mtime), len(data)
    )
    try:
        if read(pyc)[0] == payload:
            return pyc  # the same bytes already: keep the file (and its fingerprint)
    except OSError:
        pass
    try:
        os.makedirs(os.path.dirname(pyc), exist_ok=True)
        tmp = f"{pyc}.{os.getpid()}.pthguard-tmp"
        with open(tmp, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, pyc)
    except OSError:
        return None  # a read-only directory: the source is compiled at each import
    return pyc


def main() -> None:
    jobs = marshal.loads(sys.stdin.buffer.read())  # noqa: S302 (from pthguard, over a pipe)
    out = []
    racy = []
    started = time.time_ns()
    for path, digests, target in jobs:
        try:
            data, st = read(path)
        except OSError as exc:
            out.append([path, f"unreadable ({exc.strerror})", None, None, None, None, None])
            continue
        digest = hashlib.sha256(data).digest()
        if digest not in digests:
            out.append([path, "differs from its signed digest", None, None, None, None, None])
            continue
        row = [path, None, fingerprint(st), None, None, None, digest]
        if st.st_mtime_ns >= started - MARGIN_NS:
            racy.append((row, 2, digest))
        if target is not None:
            pyc = write_bytecode(path, data, st, target)
            if pyc is not None:
                pyc_data, pyc_st = read(pyc)
                row[3:6] = [pyc, fingerprint(pyc_st), hashlib.sha256(pyc_data).digest()]
                racy.append((row, 4, row[5]))
        out.append(row)
    if racy:
        time.sleep(2 * MARGIN_NS / 1e9)
        taken = time.time_ns()
        for row, index, digest in racy:
            path = row[0] if index == 2 else row[3]
            try:
                data, st = read(path)
            except OSError:
                row[index] = None
                continue
            good = hashlib.sha256(data).digest() == digest and st.st_mtime_ns < taken - MARGIN_NS
            row[index] = fingerprint(st) if good else None
    sys.stdout.buffer.write(marshal.dumps([tuple(r) for r in out], 4))


if __name__ == "__main__":
    main()
