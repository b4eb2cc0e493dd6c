"""pthguard's own files in an environment (:mod:`pthguard.environment.layout`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pthguard.environment.layout import find_installations
from pthguard.errors import InstallError


def test_a_broken_installation_says_what_to_remove(tmp_path: Path) -> None:
    """Without a readable install.json nothing can tell pthguard's files from look-alikes
    (``uninstall`` refuses as well): the message names the files to remove by hand."""
    state = tmp_path / ".pthguard-abc"
    state.mkdir()
    (state / "install.json").write_text("{broken")
    (tmp_path / "!!pthguard-abc.pth").write_text("import sys\n")
    with pytest.raises(InstallError) as info:
        find_installations([str(tmp_path)])
    assert info.value.diagnostics().endswith(
        f"; remove {state} and {tmp_path}/!!pthguard-abc.pth (and {tmp_path}/sitecustomize.py "
        "if its first line starts with '# pthguard watchdog'), then install again"
    )
    (tmp_path / "!!pthguard-abc.pth").unlink()  # no gate of that token: a wheel's look-alike
    assert find_installations([str(tmp_path)]) == []
