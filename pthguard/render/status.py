"""The text and JSON forms of a ``status`` report (pure). Permission warnings are not part
of the text: they are diagnostics, written to stderr by the CLI."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pthguard.guard.status import Status

__all__ = ["status_json", "status_text"]

_STDERR_LINES = 20


def status_json(status: Status) -> str:
    found = status.installed
    if found is None:
        return json.dumps({"installed": False, "python": status.python}, indent=2) + "\n"
    inst, manifest = found.installation, found.envelope.manifest
    doc = {
        "installed": True,
        "python": status.python,
        "mode": inst.mode,
        "events": None if manifest.policy.events is None else manifest.policy.events.to_dict(),
        "manifest_version": manifest.version,
        "expires": manifest.expires,
        "signers": [s.keyid for s in found.envelope.signatures],
        "gate": inst.gate_pth,
        "watchdog": inst.watchdog,
        "watchdog_note": inst.watchdog_note,
        "launcher": inst.launcher,
        "launcher_problem": found.launcher_problem,
        "installed_at": inst.installed,
        "last_start": {"exit_code": found.start_exit_code, "stderr": found.start_stderr},
        "permission_warnings": found.permission_warnings,
    }
    return json.dumps(doc, indent=2) + "\n"


def status_text(status: Status) -> str:
    found = status.installed
    if found is None:
        return f"{status.python}: pthguard is not installed\n"
    inst, manifest = found.installation, found.envelope.manifest
    signers = ", ".join(s.keyid[:16] for s in found.envelope.signatures)
    state = "passes" if found.passes else f"REFUSED (exit {found.start_exit_code})"
    lines = [
        f"{status.python}: pthguard installed ({inst.installed})",
        f"  mode {inst.mode}, manifest version {manifest.version}, expires {manifest.expires}",
        f"  signatures by keyid {signers}",
        *(
            [f"  refusal events to {manifest.policy.events.describe()}"]
            if manifest.policy.events is not None
            else []
        ),
        f"  gate {inst.gate_pth}",
        f"  watchdog {inst.watchdog or 'none: ' + inst.watchdog_note}",
        f"  sealed launcher {inst.launcher}"
        + (
            f" (NOT the file install wrote: {found.launcher_problem})"
            if found.launcher_problem
            else ""
        ),
        f"  a start of the interpreter now: {state}",
    ]
    lines.extend(f"    {line}" for line in found.start_stderr.splitlines()[:_STDERR_LINES])
    return "\n".join(lines) + "\n"
