"""The judgement before signing: which startup code may be signed without a word, and which
needs a person's explicit approval by hash. Pure: the caller reads the files.

Every startup file that is about to be signed is a :class:`Candidate`: ``.pth`` and ``.start``
files, ``sitecustomize``/``usercustomize``, and the modules their lines import (found
statically: ``import x``, ``__import__('x')``, imports inside an ``exec``'d literal; resolved
by the caller in the environment's site directories) or their entry points name. A candidate
passes without a word when it is

* a ``.pth`` with path lines only;
* a known legitimate file, by the sha256 of its exact bytes, or a ``.pth`` whose every code
  line is exactly what setuptools' templates write (:mod:`.legit`, through :func:`.analyze`);
* a module imported by such a file and owned by the same distribution, whose RECORD holds
  exactly these bytes (``_distutils_hack`` of setuptools, a PEP 660 finder of its project);
* a ``sitecustomize``/``usercustomize`` that came with the interpreter: outside every site
  directory and claimed by no distribution's RECORD (Debian's own ``sitecustomize``);
* in the previous signed manifest with the same sha256 (a startup file, a startup module,
  or an approval recorded there).

Everything else needs an approval naming its sha256, whatever its rating: ``--yes`` never
approves startup code. An approval that names a hash no candidate has is an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

from pthguard.analysis.analyze import (
    SUPPORTED_VERSIONS,
    Analysis,
    analyze,
    analyze_module,
    version_text,
)
from pthguard.analysis.decode import examine
from pthguard.analysis.known import KNOWN_FILES
from pthguard.analysis.legit import template_line
from pthguard.errors import ApprovalError
from pthguard.formats import pth as _pth
from pthguard.formats.approvals import ApprovalRequest
from pthguard.manifest.model import Approval, Manifest

__all__ = [
    "Candidate",
    "Judgement",
    "Review",
    "imports_of",
    "judge",
    "judge_recorded",
]

Version = tuple[int, int]
Kind = Literal["pth", "start", "module", "imported"]
Verdict = Literal["passes", "approved", "needs-approval"]
_PATH_ONLY: Final = "path lines only: no code runs"


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """Startup code about to be signed."""

    path: str
    name: str  # the file name (``litellm_init.pth``, ``evil_helper.py``)
    kind: Kind
    data: bytes
    #: The distribution that owns the file per RECORD (``six 1.17.0``); None when no RECORD,
    #: or more than one, lists it.
    distribution: str | None = None
    #: The owner's RECORD hash for this file (imported modules), if it has one.
    record_sha256: str | None = None
    #: For an imported module: the path of the startup file that imports it.
    importer: str | None = None
    #: A startup module that came with the interpreter: outside every site directory and
    #: claimed by no distribution's RECORD (Debian's stdlib ``sitecustomize``).
    with_interpreter: bool = False
    versions: tuple[Version, ...] = SUPPORTED_VERSIONS

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    """What the judge decided about one candidate, and why."""

    path: str
    name: str
    kind: Kind
    distribution: str | None
    importer: str | None
    sha256: str
    analysis: Analysis
    verdict: Verdict
    why: str
    approval: ApprovalRequest | None = None

    @property
    def approve_with(self) -> str:
        """The approval to add, exactly."""
        return f"sha256:{self.sha256}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    reviews: tuple[Review, ...]

    @property
    def pending(self) -> tuple[Review, ...]:
        return tuple(r for r in self.reviews if r.verdict == "needs-approval")

    @property
    def ok(self) -> bool:
        return not self.pending

    def approvals(
        self, keyid: str | None, previous: Iterable[Approval] = ()
    ) -> tuple[Approval, ...]:
        """What the manifest records: every approval given now, and every earlier one whose
        file is still there (same hash), sorted by hash."""
        present = {r.sha256: r for r in self.reviews}
        out: dict[str, Approval] = {a.sha256: a for a in previous if a.sha256 in present}
        for review in self.reviews:
            if review.verdict == "approved" and review.approval is not None:
                out[review.sha256] = Approval(
                    sha256=review.sha256,
                    name=review.name,
                    distribution=review.distribution,
                    keyid=keyid,
                    reason=review.approval.reason,
                )
        return tuple(out[h] for h in sorted(out))


def imports_of(data: bytes, versions: Sequence[Version] = SUPPORTED_VERSIONS) -> list[str]:
    """The absolute module names a ``.pth`` file's import lines import, in any version
    (statically, decoded layers included)."""
    found: dict[str, None] = {}
    for version in versions:
        reading = _pth.read_pth(data, version)
        for line in reading.lines:
            if line.kind != "import":
                continue
            for event in examine(_pth.exec_source(line, version)).events:
                if event.kind == "import" and event.detail and not event.detail.startswith("."):
                    found[event.detail] = None
    return list(found)


def judge(
    candidates: Sequence[Candidate],
    *,
    previous: Mapping[str, str],
    approvals: Sequence[ApprovalRequest],
) -> Judgement:
    """Decide every candidate. ``previous`` maps the sha256 of each file the previous signed
    manifest allowed (startup files, startup modules, approvals) to a description of it.
    Raises :class:`ApprovalError` for an approval of a hash that no candidate has, or whose
    name is not that candidate's."""
    by_hash: dict[str, ApprovalRequest] = {}
    for request in approvals:
        by_hash.setdefault(request.sha256, request)
    hashes = {c.sha256: c for c in candidates}
    for request in by_hash.values():
        target = hashes.get(request.sha256)
        if target is None:
            raise ApprovalError(
                f"{request.source}: no startup file to sign has sha256 {request.sha256}",
                remedy="approve only hashes the review lists",
            )
        if request.name is not None and request.name != target.name:
            raise ApprovalError(
                f"{request.source}: sha256 {request.sha256} is {target.name}, not {request.name}"
            )
    # a .pth known legitimate by its content -> the distribution that ships it
    legit: dict[str, str | None] = {}
    reviews = []
    for candidate in sorted(candidates, key=lambda c: (c.kind == "imported", c.path)):
        analysis = _analysis(candidate)
        why = _passes(candidate, analysis, previous, legit)
        if candidate.kind == "pth" and analysis.known is not None:
            legit[candidate.path] = candidate.distribution
        given = by_hash.get(candidate.sha256)
        if why is not None:
            verdict: Verdict = "passes"
        elif given is not None:
            verdict, why = "approved", f"approved ({given.source})"
        else:
            verdict, why = "needs-approval", _unknown(candidate)
        reviews.append(
            Review(
                path=candidate.path,
                name=candidate.name,
                kind=candidate.kind,
                distribution=candidate.distribution,
                importer=candidate.importer,
                sha256=candidate.sha256,
                analysis=analysis,
                verdict=verdict,
                why=why,
                approval=given if verdict == "approved" else None,
            )
        )
    return Judgement(reviews=tuple(reviews))


def _analysis(candidate: Candidate) -> Analysis:
    if candidate.kind == "imported":
        return analyze_module(candidate.name, candidate.data, candidate.versions)
    return analyze(candidate.name, candidate.data, candidate.versions)


def _passes(
    candidate: Candidate,
    analysis: Analysis,
    previous: Mapping[str, str],
    legit: Mapping[str, str | None],
) -> str | None:
    """Why ``candidate`` may be signed without an approval, or None."""
    if candidate.kind == "pth":
        if analysis.executable_lines == 0 and not _code_in_any_version(candidate):
            return _PATH_ONLY
        if analysis.known is not None:  # exact bytes, or setuptools template lines only
            return f"known legitimate file: {analysis.known}"
    if (
        candidate.kind == "imported"
        and candidate.distribution is not None
        and legit.get(candidate.importer or "", None) == candidate.distribution
        and candidate.record_sha256 == candidate.sha256
    ):
        return (
            f"part of {candidate.distribution}, which ships the .pth that imports it; "
            "its RECORD holds these exact bytes"
        )
    if candidate.kind == "module" and candidate.with_interpreter:
        return "part of the interpreter: outside every site directory, no distribution claims it"
    if candidate.sha256 in previous:
        return f"unchanged: {previous[candidate.sha256]}"
    return None


def _code_in_any_version(candidate: Candidate) -> bool:
    return any(
        line.kind == "import"
        for version in candidate.versions
        for line in _pth.read_pth(candidate.data, version).lines
    )


def _unknown(candidate: Candidate) -> str:
    versions = ", ".join(version_text(v) for v in candidate.versions)
    if candidate.kind == "imported":
        return (
            f"imported at startup by {candidate.importer}; not vouched for by the "
            f"distribution that ships that file (Python {versions})"
        )
    return f"new or changed startup code (Python {versions})"


def judge_recorded(manifest: Manifest, previous: Mapping[str, str]) -> Judgement:
    """What a signer can judge with the manifest alone (``sign``, often on a machine that
    never sees the environment): each startup file with code lines passes when its recorded
    sha256 is a known legitimate file, every code line is a setuptools template line, the
    manifest records an approval of that sha256, or ``previous`` holds it; a startup module
    passes when approved or in ``previous``. The code lines are analysed for the review.
    (Imported modules are judged by ``snapshot`` and ``protect``, which read the files; their
    approvals are in the manifest.)"""
    approved = manifest.approved()
    versions = (_minor(manifest.environment.python_version),)
    reviews = []
    for site in manifest.site_dirs:
        for entry in site.startup_files:
            if not entry.code_lines:
                continue
            kind: Kind = "pth" if entry.name.endswith(".pth") else "start"
            text = "".join(f"{line}\n" for line in entry.code_lines).encode()
            analysis = replace(analyze(entry.name, text, versions), sha256=entry.sha256)
            why = _recorded_passes(entry.sha256, entry.code_lines, kind, previous, approved)
            reviews.append(
                Review(
                    path=f"{site.path}/{entry.name}",
                    name=entry.name,
                    kind=kind,
                    distribution=entry.owner,
                    importer=None,
                    sha256=entry.sha256,
                    analysis=analysis,
                    verdict="passes" if why is not None else "needs-approval",
                    why=why
                    or f"startup code with no approval in the manifest (Python "
                    f"{version_text(versions[0])})",
                )
            )
    for module in manifest.startup_modules:
        if module.path is None or module.sha256 is None:
            continue
        why = _recorded_passes(module.sha256, (), "module", previous, approved)
        if why is None and not any(
            module.path.startswith(f"{s.path}/") for s in manifest.site_dirs
        ):
            why = "part of the interpreter: outside every site directory"
        analysis = replace(analyze_module(module.name + ".py", b"", versions), sha256=module.sha256)
        reviews.append(
            Review(
                path=module.path,
                name=module.name,
                kind="module",
                distribution=None,
                importer=None,
                sha256=module.sha256,
                analysis=analysis,
                verdict="passes" if why is not None else "needs-approval",
                why=why or "a startup module with no approval in the manifest",
            )
        )
    return Judgement(reviews=tuple(reviews))


def _recorded_passes(
    sha256: str,
    code_lines: Sequence[str],
    kind: Kind,
    previous: Mapping[str, str],
    approved: Mapping[str, Approval],
) -> str | None:
    known = KNOWN_FILES.get(sha256)
    if known is not None:
        return f"known legitimate file: {known}"
    if kind == "pth" and code_lines and all(template_line(line) for line in code_lines):
        return "setuptools template lines"
    if sha256 in approved:
        approval = approved[sha256]
        reason = f": {approval.reason}" if approval.reason else ""
        return f"approved in this manifest{reason}"
    if sha256 in previous:
        return f"unchanged: {previous[sha256]}"
    return None


def _minor(python_version: str) -> Version:
    major, _, rest = python_version.partition(".")
    minor = rest.partition(".")[0]
    try:
        version = (int(major), int(minor))
    except ValueError:
        return SUPPORTED_VERSIONS[-1]
    return version if version in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[-1]
