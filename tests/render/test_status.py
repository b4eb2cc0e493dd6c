"""``pthguard.render.status``: the text and JSON of ``status`` when no guard is installed
(the installed forms are checked on real guarded venvs, tests/gate and tests/environment)."""

from __future__ import annotations

import json

from pthguard.guard.status import Status
from pthguard.render.status import status_json, status_text


def test_not_installed() -> None:
    found = Status(python="/v/bin/python", installed=None)
    assert status_text(found) == "/v/bin/python: pthguard is not installed\n"
    assert json.loads(status_json(found)) == {"installed": False, "python": "/v/bin/python"}
    assert status_json(found).endswith("}\n")
