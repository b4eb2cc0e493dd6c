"""Small file helpers for the CLI shell: atomic replacement and clear read errors."""

from __future__ import annotations

import os
from pathlib import Path

from pthguard.errors import PthguardError


def read_bytes(
    path: Path, what: str, *, error: type[PthguardError] = PthguardError, not_a: str = ""
) -> bytes:
    """The file's bytes, or ``error`` naming ``what`` it is meant to be (``not_a``: what a
    directory in its place is not, for the message)."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise error(f"{what} {path} does not exist") from exc
    except IsADirectoryError as exc:
        tail = f", not {not_a}" if not_a else ""
        raise error(f"{what} {path} is a directory{tail}") from exc
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from exc


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync, and rename over it."""
    import tempfile  # noqa: PLC0415 (commands that only read never load it)

    directory = path.parent if str(path.parent) else Path()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise PthguardError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PthguardError(f"cannot write {path}: {exc.strerror}") from exc
