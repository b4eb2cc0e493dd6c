"""Published wheels for tests that need a real third-party package in a venv (pytest, say).

:func:`published_wheels` runs ``pip download`` once per interpreter and requirement, by that
interpreter (so that environment markers are its own: ``exceptiongroup`` for 3.10) with the
pip of its bundled wheel and the machine's pip configuration (its package index), into
``/tmp/pthguard-wheelhouse-3.X-NAME`` as the interpreter sees it (inside the chroot for
3.14/3.15). The directory is kept across sessions; an ``fcntl`` lock serialises xdist
workers. A venv installs from it with ``pip install --no-index --find-links DIR NAME``
(:data:`tests.support.venvs.PIP_COMMON`).
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from tests.support.interpreters import Interpreter
from tests.support.venvs import pip_runner

__all__ = ["published_wheels"]

_STAMP = ".pthguard-tests-complete"
#: The trust bundle sid-pythons.sh copies into the chroot (the host's, same path).
_CERT = "/etc/ssl/certs/ca-certificates.crt"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def published_wheels(interp: Interpreter, requirement: str) -> Path:
    """A directory (host path, visible to ``interp``) holding the wheels of ``requirement``
    and its dependencies for ``interp``'s version."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", requirement)
    where = interp.host_path(f"/tmp/pthguard-wheelhouse-{interp.label}-{slug}")
    with _locked(where.with_name(where.name + ".lock")):
        if not (where / _STAMP).exists():
            shutil.rmtree(where, ignore_errors=True)
            env = {"PIP_DEFAULT_TIMEOUT": "180", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
            if interp.is_chroot and interp.host_path(_CERT).is_file():
                env["PIP_CERT"] = _CERT
            interp.run(
                [
                    *("-I", pip_runner(interp), "download", "-q", "--only-binary", ":all:"),
                    *("--dest", where, requirement),
                ],
                env=env,
                check=True,
                timeout=900,
            )
            (where / _STAMP).write_text(requirement + "\n")
    return where
