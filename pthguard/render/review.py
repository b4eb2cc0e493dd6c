"""The review before signing, as text and JSON (pure).

A refusal shows, for each file that needs an approval: its path, the distribution that owns
it, its rating and findings, the payloads decoded from it (bounded, never executed) and the
exact approval to add; then the files that pass without one, and why. JSON schema
``pthguard-review/1``::

    {"schema": "pthguard-review/1", "ok": bool, "pending": n,
     "reviews": [{"path", "name", "kind": "pth" | "start" | "module" | "imported",
                  "distribution", "importer", "sha256", "verdict": "passes" | "approved" |
                  "needs-approval", "why", "approve_with", "rating", "findings", "decoded"}]}
"""

from __future__ import annotations

import json
from typing import Final

from pthguard.analysis.judge import Judgement, Review
from pthguard.analysis.report import Item, ItemKind
from pthguard.render.scan import item_json, item_lines, safe

__all__ = ["REVIEW_SCHEMA", "refusal_text", "review_json", "review_text"]

REVIEW_SCHEMA: Final = "pthguard-review/1"
APPROVALS_FILE: Final = "pthguard-approvals.txt"


def _item(review: Review) -> Item:
    where = f"distribution {review.distribution}" if review.distribution else "no distribution"
    if review.importer is not None:
        where += f"; imported at startup by {review.importer}"
    kind: ItemKind = (
        "pth" if review.kind == "pth" else "start" if review.kind == "start" else "module"
    )
    return Item(path=review.path, kind=kind, location=where, analysis=review.analysis)


def _pending_lines(review: Review) -> list[str]:
    lines = item_lines(_item(review), colour=False)
    lines.append(f"       why it needs an approval: {safe(review.why)}")
    lines.append(f"       approve it after review: --approve {review.approve_with}")
    lines.append(
        f"         or in {APPROVALS_FILE}: {review.approve_with} {safe(review.name)}  # why"
    )
    return ["  " + line for line in lines]


def review_text(judgement: Judgement) -> str:
    """Every file that needs an approval, in full; then one line for each other file."""
    out: list[str] = []
    for review in judgement.pending:
        out.extend(_pending_lines(review))
        out.append("")
    for review in judgement.reviews:
        if review.verdict == "needs-approval":
            continue
        out.append(f"  {review.verdict}: {safe(review.path)} ({safe(review.why)})")
    return "\n".join(out) + ("\n" if out else "")


def refusal_text(judgement: Judgement, approve_command: str) -> str:
    """Why nothing was signed, what each file does, and the command that would sign it."""
    count = len(judgement.pending)
    head = (
        f"pthguard: refusing to sign: {count} startup file{'s' * (count != 1)} "
        f"need{'s' * (count == 1)} an explicit approval by hash; nothing was signed\n"
    )
    needed = [r for r in judgement.reviews if r.verdict in ("approved", "needs-approval")]
    approvals = " ".join(f"--approve {r.approve_with}" for r in needed)
    tail = (
        "Review the code above. --yes never approves startup code. To sign it anyway, name "
        f"each file by its hash (those approved already included):\n  {approve_command} "
        f"{approvals}\n"
    )
    return head + "\n" + review_text(judgement) + "\n" + tail


def review_json(judgement: Judgement) -> str:
    doc = {
        "schema": REVIEW_SCHEMA,
        "ok": judgement.ok,
        "pending": len(judgement.pending),
        "reviews": [_review_json(r) for r in judgement.reviews],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _review_json(review: Review) -> dict[str, object]:
    item = item_json(_item(review))
    return {
        "path": review.path,
        "name": review.name,
        "kind": review.kind,
        "distribution": review.distribution,
        "importer": review.importer,
        "sha256": review.sha256,
        "verdict": review.verdict,
        "why": review.why,
        "approve_with": review.approve_with,
        "rating": review.analysis.severity,
        "findings": item["findings"],
        "decoded": item["decoded"],
    }
