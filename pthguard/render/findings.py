"""The words ``verify`` and ``snapshot`` show for a finding about an environment (pure).

Findings of a snapshot (:mod:`pthguard.environment.rules`) carry a severity on the one scale
of :mod:`pthguard.findings`. What users read keeps the words these commands have always
used, in their text and in the ``findings[].severity`` field of ``pthguard-verify/1``:
``error`` for a finding that prevents an honest manifest (its rule is in
:data:`~pthguard.environment.rules.BLOCKING`), ``info`` for an ``info`` finding, ``warning``
for any other.
"""

from __future__ import annotations

from typing import Literal

from pthguard.environment.rules import BLOCKING
from pthguard.findings import Finding

__all__ = ["EnvironmentWord", "environment_word"]

EnvironmentWord = Literal["error", "warning", "info"]


def environment_word(finding: Finding) -> EnvironmentWord:
    """``error``, ``warning`` or ``info``: how ``verify`` and ``snapshot`` show ``finding``."""
    if finding.rule in BLOCKING:
        return "error"
    return "info" if finding.severity == "info" else "warning"
