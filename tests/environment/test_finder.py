"""pthguard.environment.finder: where the path finder would find a module, on real trees.

Each case is also imported for real in a fresh interpreter, and the file the import executed
is the one the finder named.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pthguard.environment import finder
from pthguard.environment import probe as _probe


@pytest.fixture(scope="module")
def probe() -> _probe.Probe:
    return _probe.probe()


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def imported_file(search: list[Path], dotted: str) -> str:
    """The ``__file__`` of ``dotted`` imported for real with ``sys.path = search``."""
    code = (
        "import sys, importlib\n"
        f"sys.path[:] = {[str(p) for p in search]!r}\n"
        f"print(importlib.import_module({dotted!r}).__file__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-B", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def test_suffix_order_is_the_interpreters(probe: _probe.Probe) -> None:
    suffixes = finder.import_suffixes(probe)
    assert suffixes.index(".py") > suffixes.index(probe.extension_suffixes[0])
    assert suffixes.index(".pyc") > suffixes.index(".py")


def test_package_wins_over_module_and_earlier_entries_win(
    tmp_path: Path, probe: _probe.Probe
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    init = write(first / "mod" / "__init__.py")
    write(first / "mod.py")
    write(second / "other.py")
    later = write(second / "solo.py")
    write(first / "solo" / "data.txt")  # a directory without __init__: not a package here
    search = [str(first), str(second)]
    assert finder.find_module(probe, search, "mod", lambda _p: False) == str(init)
    assert finder.locate(finder.import_suffixes(probe), search, "mod", lambda _p: False) == (
        str(init),
        str(first / "mod"),
    )
    assert finder.find_module(probe, search, "missing", lambda _p: False) is None
    for name in ("mod", "other"):
        assert imported_file([first, second], name) == finder.find_module(
            probe, search, name, lambda _p: False
        )
    # a directory without __init__ is only a namespace portion: a module file in a later
    # entry wins over it, for the import as for the finder
    assert imported_file([first, second], "solo") == str(later)
    assert finder.find_module(probe, search, "solo", lambda _p: False) == str(later)


def test_skip_passes_over_a_file(tmp_path: Path, probe: _probe.Probe) -> None:
    own = write(tmp_path / "a" / "sitecustomize.py")
    theirs = write(tmp_path / "b" / "sitecustomize.py")
    search = [str(tmp_path / "a"), str(tmp_path / "b")]
    assert finder.find_module(probe, search, "sitecustomize", lambda p: p == str(own)) == str(
        theirs
    )


def test_module_chain(tmp_path: Path, probe: _probe.Probe) -> None:
    top = write(tmp_path / "pkg" / "__init__.py")
    sub = write(tmp_path / "pkg" / "sub" / "__init__.py")
    leaf = write(tmp_path / "pkg" / "sub" / "leaf.py")
    write(tmp_path / "leaf.py")  # not on the package's path
    search = [str(tmp_path)]
    chain = finder.module_chain(probe, search, "pkg.sub.leaf")
    assert chain == [str(top), str(sub), str(leaf)]
    assert imported_file([tmp_path], "pkg.sub.leaf") == str(leaf)
    assert finder.module_chain(probe, search, "pkg.missing.leaf") == [str(top)]
    assert finder.module_chain(probe, search, "leaf.x") == [str(tmp_path / "leaf.py")]
    assert finder.module_chain(probe, search, "absent") == []
