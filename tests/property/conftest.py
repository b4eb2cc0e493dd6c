"""Hypothesis profiles for the property and fuzz tests.

``HYPOTHESIS_PROFILE=fuzz`` runs the fuzz tests (``test_fuzz_parsers.py``) with 100 times
their CI budget and no deadline, e.g. ``HYPOTHESIS_PROFILE=fuzz .venv-dev/bin/python -m pytest
-n 2 tests/property/test_fuzz_parsers.py`` (about an hour on two cores); any other registered
profile name is loaded as it is. Without it, every test keeps its own bounded settings.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("fuzz", deadline=None, print_blob=True)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "")
if PROFILE:
    settings.load_profile(PROFILE)
