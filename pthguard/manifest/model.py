"""The manifest: a signed description of one Python environment (format spec_version 1).

This module is the data model only: frozen dataclasses, strict ``from_dict`` parsers that
collect every problem with its field path, and ``to_dict`` writers. The envelope and the
signatures are in :mod:`pthguard.manifest.envelope`; building a manifest from a live environment is
in :mod:`pthguard.environment.snapshot`. ``docs/manifest.md`` documents every field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pthguard._internal.fields import Fields, Problems, duplicates, str_item
from pthguard.errors import ManifestError
from pthguard.gate.names import name_fits

MANIFEST_TYPE = "pthguard-manifest"
SPEC_VERSION = "1"
TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z", re.ASCII)
KEYID_RE = re.compile(r"[0-9a-f]{64}\Z")

Mode = Literal["enforce", "warn"]
UnlistedDistributions = Literal["refuse", "report"]
UnclaimedFiles = Literal["ignore", "report", "refuse"]
SiteRole = Literal["venv", "user", "system"]
MetadataKind = Literal["dist-info", "egg-info"]


def format_time(moment: dt.datetime) -> str:
    """UTC, whole seconds, ``Z`` suffix: the only time form manifests use."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    if not TIME_RE.match(text):
        raise ValueError("expected UTC time as YYYY-MM-DDTHH:MM:SSZ")
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True, slots=True, kw_only=True)
class StartupFile:
    """A ``.pth`` or ``.start`` file in a site directory, allowed by its exact bytes."""

    name: str
    sha256: str
    size: int
    code_lines: tuple[str, ...]  # .pth import lines / .start entry points, for review
    owner: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "code_lines": list(self.code_lines),
            "owner": self.owner,
        }

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> StartupFile | None:
        f = Fields(data, path, problems)
        name = f.get_str("name")
        if isinstance(f.data.get("name"), str) and not name.endswith((".pth", ".start")):
            problems.add(f"{path}.name", "a startup file name ends with .pth or .start")
        if "/" in name or "\0" in name:
            problems.add(f"{path}.name", "must be a plain file name")
        made = cls(
            name=name,
            sha256=f.get_sha256("sha256"),
            size=f.get_int("size"),
            code_lines=f.get_list("code_lines", lambda v, p: str_item(v, p, problems)),
            owner=f.get_opt_str("owner"),
        )
        return made if f.finish() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteDir:
    """A directory whose ``.pth`` files the interpreter processes at startup."""

    path: str
    role: SiteRole
    startup_files: tuple[StartupFile, ...] = ()
    unclaimed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "role": self.role,
            "startup_files": [s.to_dict() for s in self.startup_files],
            "unclaimed": list(self.unclaimed),
        }

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> SiteDir | None:
        f = Fields(data, path, problems)
        made = cls(
            path=f.get_str("path"),
            role=f.get_str("role", choices=("venv", "user", "system")),  # type: ignore[arg-type]
            startup_files=f.get_list(
                "startup_files", lambda v, p: StartupFile.parse(v, p, problems)
            ),
            unclaimed=f.get_list("unclaimed", lambda v, p: str_item(v, p, problems)),
        )
        for name in duplicates([s.name for s in made.startup_files]):
            problems.add(f"{path}.startup_files", f"duplicate entry {name!r}")
        for name in duplicates(made.unclaimed):
            problems.add(f"{path}.unclaimed", f"duplicate entry {name!r}")
        return made if f.finish() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class StartupModule:
    """``sitecustomize`` or ``usercustomize``: the file that would be imported, or none."""

    name: Literal["sitecustomize", "usercustomize"]
    path: str | None
    sha256: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "sha256": self.sha256}

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> StartupModule | None:
        f = Fields(data, path, problems)
        made = cls(
            name=f.get_str("name", choices=("sitecustomize", "usercustomize")),  # type: ignore[arg-type]
            path=f.get_opt_str("path"),
            sha256=f.get_opt_sha256("sha256"),
        )
        if (made.path is None) != (made.sha256 is None):
            problems.add(path, "path and sha256 are both null or both set")
        return made if f.finish() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class FileHash:
    """A file of an egg-info distribution (which has no hashed RECORD), relative to its site dir."""

    path: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256}

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> FileHash | None:
        f = Fields(data, path, problems)
        made = cls(path=f.get_str("path"), sha256=f.get_sha256("sha256"))
        return made if f.finish() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    """An installed distribution, identified by its metadata directory in a site dir."""

    name: str
    version: str
    site_dir: str
    metadata_dir: str
    kind: MetadataKind
    installer: str | None
    metadata_sha256: str
    record_sha256: str | None
    editable: bool
    files: tuple[FileHash, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.site_dir, self.metadata_dir)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "site_dir": self.site_dir,
            "metadata_dir": self.metadata_dir,
            "kind": self.kind,
            "installer": self.installer,
            "metadata_sha256": self.metadata_sha256,
            "record_sha256": self.record_sha256,
            "editable": self.editable,
            "files": [h.to_dict() for h in self.files],
        }

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> Distribution | None:
        f = Fields(data, path, problems)
        made = cls(
            name=f.get_str("name"),
            version=f.get_str("version"),
            site_dir=f.get_str("site_dir"),
            metadata_dir=f.get_str("metadata_dir"),
            kind=f.get_str("kind", choices=("dist-info", "egg-info")),  # type: ignore[arg-type]
            installer=f.get_opt_str("installer"),
            metadata_sha256=f.get_sha256("metadata_sha256"),
            record_sha256=f.get_opt_sha256("record_sha256"),
            editable=f.get_bool("editable"),
            files=f.get_list("files", lambda v, p: FileHash.parse(v, p, problems)),
        )
        for name in duplicates([h.path for h in made.files]):
            problems.add(f"{path}.files", f"duplicate entry {name!r}")
        return made if f.finish() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustedKey:
    """A key the policy names as a signer: Ed25519, raw public key in hex."""

    keyid: str
    public: str
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"keyid": self.keyid, "keytype": "ed25519", "public": self.public, "name": self.name}

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> TrustedKey | None:
        f = Fields(data, path, problems)
        f.get_str("keytype", choices=("ed25519",))
        made = cls(
            keyid=f.get_sha256("keyid"), public=f.get_str("public"), name=f.get_str("name", "")
        )
        if isinstance(f.data.get("public"), str) and not re.fullmatch(r"[0-9a-f]{64}", made.public):
            problems.add(f"{path}.public", "expected 64 lower-case hex digits (raw Ed25519 key)")
        elif made.public and made.keyid:
            from pthguard.manifest.keys import keyid_of_raw  # noqa: PLC0415 (avoids a cycle)

            if keyid_of_raw(bytes.fromhex(made.public)) != made.keyid:
                problems.add(f"{path}.keyid", "is not the sha256 of the public key")
        return made if f.finish() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectStartupFile:
    """A ``.pth`` file the project may have: its name (``*`` for the version) and its exact
    code lines (path lines are not constrained)."""

    name: str
    code_lines: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "code_lines": list(self.code_lines)}

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> ProjectStartupFile | None:
        f = Fields(data, path, problems)
        name = f.get_str("name")
        if isinstance(f.data.get("name"), str):
            if not name.endswith(".pth"):
                problems.add(f"{path}.name", "a project startup file name ends with .pth")
            if "/" in name or "\\" in name or "\0" in name or name in (".pth", "*.pth"):
                problems.add(f"{path}.name", "must be a plain file name")
            if name.count("*") > 1:
                problems.add(f"{path}.name", "at most one * (the version)")
        made = cls(
            name=name,
            code_lines=f.get_list("code_lines", lambda v, p: str_item(v, p, problems)),
        )
        return made if f.finish() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectRule:
    """``policy.project``: the one distribution a CI runner rebuilds on every run.

    Any version and RECORD of the distribution called ``name`` is accepted, and its
    startup files may be only the ones listed (name, exact code lines)."""

    name: str
    startup_files: tuple[ProjectStartupFile, ...] = ()

    def allows(self, name: str, code_lines: tuple[str, ...]) -> bool:
        """Is a startup file called ``name`` with these code lines one the rule lists?"""
        return any(
            name_fits(entry.name, name) and entry.code_lines == code_lines
            for entry in self.startup_files
        )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "startup_files": [s.to_dict() for s in self.startup_files]}

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> ProjectRule | None:
        f = Fields(data, path, problems)
        name = f.get_str("name")
        if isinstance(f.data.get("name"), str) and not PROJECT_NAME_RE.match(name):
            problems.add(f"{path}.name", "expected a PEP 503 normalised name (my-project)")
        made = cls(
            name=name,
            startup_files=f.get_list(
                "startup_files", lambda v, p: ProjectStartupFile.parse(v, p, problems)
            ),
        )
        for dup in duplicates([s.name for s in made.startup_files]):
            problems.add(f"{path}.startup_files", f"duplicate entry {dup!r}")
        return made if f.finish() else None


PROJECT_NAME_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z")

#: ``policy.events.syslog.facility``: the name and the facility code of syslog(3).
SYSLOG_FACILITIES = {
    "auth": 4,
    "authpriv": 10,
    "daemon": 3,
    "user": 1,
    **{f"local{n}": 16 + n for n in range(8)},
}
DEFAULT_SYSLOG_SOCKET = "/dev/log"
DEFAULT_SYSLOG_FACILITY = "auth"
#: The longest path a unix socket address holds (``sun_path`` is 108 bytes with its NUL).
SOCKET_PATH_MAX = 107


def absolute_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a file the guard writes to or connects to, or None: absolute,
    normalised (no ``.``, ``..``, ``//`` or trailing ``/``), no control characters."""
    if not path.startswith("/"):
        return "must be an absolute path"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return "must not contain control characters"
    parts = path.split("/")[1:]
    if path == "/" or any(p in ("", ".", "..") for p in parts):
        return "must be a normalised path to a file (no '.', '..', '//' or trailing '/')"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class SyslogTarget:
    """Refusal events sent to a syslog daemon's unix socket: ident ``pthguard``, severity
    ``err`` for a refusal and ``warning`` for a warn-mode report."""

    socket: str = DEFAULT_SYSLOG_SOCKET
    facility: str = DEFAULT_SYSLOG_FACILITY

    @property
    def facility_code(self) -> int:
        return SYSLOG_FACILITIES[self.facility]

    def to_dict(self) -> dict[str, Any]:
        return {"socket": self.socket, "facility": self.facility}

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> SyslogTarget | None:
        f = Fields(data, path, problems)
        made = cls(
            socket=f.get_str("socket"),
            facility=f.get_str("facility", choices=tuple(SYSLOG_FACILITIES)),
        )
        if isinstance(f.data.get("socket"), str):
            problem = absolute_path_problem(made.socket)
            if problem is None and len(made.socket.encode("utf-8", "surrogateescape")) > (
                SOCKET_PATH_MAX
            ):
                problem = f"longer than {SOCKET_PATH_MAX} bytes (a unix socket address)"
            if problem is not None:
                problems.add(f"{path}.socket", problem)
        return made if f.finish() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class EventTargets:
    """``policy.events``: where a guarded interpreter also writes each refusal (and each
    warn-mode report) as one JSON line: a file it appends to, a syslog socket, or both."""

    path: str | None = None
    syslog: SyslogTarget | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "syslog": None if self.syslog is None else self.syslog.to_dict(),
        }

    def describe(self) -> str:
        """``/var/log/pthguard/events.jsonl and syslog (auth, /dev/log)``: for people."""
        parts = [self.path] if self.path is not None else []
        if self.syslog is not None:
            parts.append(f"syslog ({self.syslog.facility}, {self.syslog.socket})")
        return " and ".join(parts)

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> EventTargets | None:
        f = Fields(data, path, problems)
        made = cls(
            path=f.get_opt_str("path"),
            syslog=f.get_opt_obj("syslog", lambda v, p: SyslogTarget.parse(v, p, problems)),
        )
        if made.path is not None:
            problem = absolute_path_problem(made.path)
            if problem is None and made.path.endswith((".pth", ".start")):
                problem = "must not name a startup file (.pth, .start)"
            if problem is not None:
                problems.add(f"{path}.path", problem)
        both_null = f.data.get("path", 0) is None and f.data.get("syslog", 0) is None
        if both_null:
            problems.add(path, "names no target (path and syslog are null): leave it out")
        return made if f.finish() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """What the guard does, and who may sign this manifest."""

    mode: Mode = "enforce"
    unlisted_distributions: UnlistedDistributions = "refuse"
    unclaimed_files: UnclaimedFiles = "report"
    keys: tuple[TrustedKey, ...] = ()
    threshold: int = 1
    allow_env_override: bool = False
    project: ProjectRule | None = None
    events: EventTargets | None = None

    def to_dict(self) -> dict[str, Any]:
        made: dict[str, Any] = {
            "mode": self.mode,
            "unlisted_distributions": self.unlisted_distributions,
            "unclaimed_files": self.unclaimed_files,
            "keys": [k.to_dict() for k in self.keys],
            "threshold": self.threshold,
            "allow_env_override": self.allow_env_override,
        }
        # written only when set: a manifest without a project rule has the same bytes (and
        # signatures) as before the field existed
        if self.project is not None:
            made["project"] = self.project.to_dict()
        if self.events is not None:  # the same for the refusal events
            made["events"] = self.events.to_dict()
        return made

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> Policy | None:
        f = Fields(data, path, problems)
        # the optional fields of the policy: missing (or null) means no project rule, and
        # no refusal events
        raw_project = f.data.get("project")
        f.seen.add("project")
        project = (
            None
            if raw_project is None
            else ProjectRule.parse(raw_project, f"{path}.project", problems)
        )
        raw_events = f.data.get("events")
        f.seen.add("events")
        events = (
            None
            if raw_events is None
            else EventTargets.parse(raw_events, f"{path}.events", problems)
        )
        made = cls(
            mode=f.get_str("mode", choices=("enforce", "warn")),  # type: ignore[arg-type]
            unlisted_distributions=f.get_str(  # type: ignore[arg-type]
                "unlisted_distributions", choices=("refuse", "report")
            ),
            unclaimed_files=f.get_str("unclaimed_files", choices=("ignore", "report", "refuse")),  # type: ignore[arg-type]
            keys=f.get_list("keys", lambda v, p: TrustedKey.parse(v, p, problems)),
            threshold=f.get_int("threshold", minimum=1),
            allow_env_override=f.get_bool("allow_env_override"),
            project=project,
            events=events,
        )
        for keyid in duplicates([k.keyid for k in made.keys]):
            problems.add(f"{path}.keys", f"duplicate key {keyid}")
        if made.keys and made.threshold > len(made.keys):
            problems.add(
                f"{path}.threshold", f"{made.threshold} exceeds the {len(made.keys)} keys listed"
            )
        return made if f.finish() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvironmentInfo:
    """Which interpreter and prefix the manifest describes."""

    implementation: str
    python_version: str
    cache_tag: str
    platform: str
    prefix: str
    executable: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "implementation": self.implementation,
            "python_version": self.python_version,
            "cache_tag": self.cache_tag,
            "platform": self.platform,
            "prefix": self.prefix,
            "executable": self.executable,
        }

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> EnvironmentInfo | None:
        f = Fields(data, path, problems)
        made = cls(
            implementation=f.get_str("implementation"),
            python_version=f.get_str("python_version"),
            cache_tag=f.get_str("cache_tag"),
            platform=f.get_str("platform"),
            prefix=f.get_str("prefix"),
            executable=f.get_str("executable"),
        )
        return made if f.finish() else None


APPROVAL_REASON_MAX = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """Startup code a person approved by its exact hash before it was signed.

    Recorded in the signed manifest, so every signature covers who approved what: the
    file's sha256, its name (``litellm_init.pth``, ``evil_helper.py``), the distribution
    that owns it per RECORD (or null), the keyid of the key that signed when the approval
    was made (or null: an approval made while snapshotting, before any key is involved) and
    the reviewer's reason (or null)."""

    sha256: str
    name: str
    distribution: str | None = None
    keyid: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "name": self.name,
            "distribution": self.distribution,
            "keyid": self.keyid,
            "reason": self.reason,
        }

    @classmethod
    def parse(cls, data: object, path: str, problems: Problems) -> Approval | None:
        f = Fields(data, path, problems)
        made = cls(
            sha256=f.get_sha256("sha256"),
            name=f.get_str("name"),
            distribution=f.get_opt_str("distribution"),
            keyid=f.get_opt_sha256("keyid"),
            reason=f.get_opt_str("reason"),
        )
        if made.reason is not None and len(made.reason) > APPROVAL_REASON_MAX:
            problems.add(f"{path}.reason", f"longer than {APPROVAL_REASON_MAX} characters")
        return made if f.finish() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """The ``signed`` part of a manifest envelope."""

    version: int
    created: str
    expires: str
    environment: EnvironmentInfo
    policy: Policy
    site_dirs: tuple[SiteDir, ...]
    startup_modules: tuple[StartupModule, ...]
    distributions: tuple[Distribution, ...]
    #: Optional: written only when there is one, so a manifest without approvals has the
    #: same bytes (and signatures) as before the field existed.
    approvals: tuple[Approval, ...] = ()
    spec_version: str = SPEC_VERSION
    type: str = field(default=MANIFEST_TYPE)

    @property
    def expires_at(self) -> dt.datetime:
        return parse_time(self.expires)

    def to_dict(self) -> dict[str, Any]:
        return {
            "_type": self.type,
            "spec_version": self.spec_version,
            "version": self.version,
            "created": self.created,
            "expires": self.expires,
            "environment": self.environment.to_dict(),
            "policy": self.policy.to_dict(),
            "site_dirs": [s.to_dict() for s in self.site_dirs],
            "startup_modules": [m.to_dict() for m in self.startup_modules],
            "distributions": [d.to_dict() for d in self.distributions],
            **({"approvals": [a.to_dict() for a in self.approvals]} if self.approvals else {}),
        }

    def approved(self) -> dict[str, Approval]:
        """The approvals by sha256."""
        return {a.sha256: a for a in self.approvals}

    @classmethod
    def from_dict(cls, data: object, path: str = "signed") -> Manifest:
        """Parse strictly; raises :class:`ManifestError` listing every problem."""
        problems = Problems()
        f = Fields(data, path, problems)
        if f.ok:
            mtype = f.get_str("_type")
            spec = f.get_str("spec_version")
            if isinstance(f.data.get("_type"), str) and mtype != MANIFEST_TYPE:
                raise ManifestError(f"not a pthguard manifest ({path}._type is {mtype!r})")
            if isinstance(f.data.get("spec_version"), str) and spec != SPEC_VERSION:
                raise ManifestError(
                    f"unsupported spec_version {spec!r} (this pthguard reads {SPEC_VERSION!r})",
                    remedy="upgrade pthguard",
                )
        version = f.get_int("version", minimum=1)
        created = f.get_str("created")
        expires = f.get_str("expires")
        for name, value in (("created", created), ("expires", expires)):
            if isinstance(f.data.get(name), str):
                try:
                    parse_time(value)  # the pattern alone lets 2026-13-45T99:00:00Z through
                except ValueError:
                    problems.add(f"{path}.{name}", "expected UTC time as YYYY-MM-DDTHH:MM:SSZ")
        environment = f.get_obj("environment", lambda v, p: EnvironmentInfo.parse(v, p, problems))
        policy = f.get_obj("policy", lambda v, p: Policy.parse(v, p, problems))
        site_dirs = f.get_list("site_dirs", lambda v, p: SiteDir.parse(v, p, problems))
        modules = f.get_list("startup_modules", lambda v, p: StartupModule.parse(v, p, problems))
        dists = f.get_list("distributions", lambda v, p: Distribution.parse(v, p, problems))
        approvals: tuple[Approval, ...] = ()
        if "approvals" in f.data:  # optional: missing means none
            approvals = f.get_list("approvals", lambda v, p: Approval.parse(v, p, problems))
            if f.data["approvals"] == []:
                problems.add(f"{path}.approvals", "is empty: leave it out")
        f.finish()
        for dup in duplicates([a.sha256 for a in approvals]):
            problems.add(f"{path}.approvals", f"duplicate approval of {dup}")
        for dup in duplicates([s.path for s in site_dirs]):
            problems.add(f"{path}.site_dirs", f"duplicate site directory {dup!r}")
        for dup in duplicates([m.name for m in modules]):
            problems.add(f"{path}.startup_modules", f"duplicate module {dup!r}")
        known = {s.path for s in site_dirs}
        for index, dist in enumerate(dists):
            if dist.site_dir not in known:
                problems.add(f"{path}.distributions[{index}].site_dir", "is not one of site_dirs")
        for dup in duplicates(["\0".join(d.key) for d in dists]):
            problems.add(f"{path}.distributions", f"duplicate entry {dup.replace(chr(0), '/')!r}")
        if policy is not None and policy.project is not None:
            for index, dist in enumerate(dists):
                if dist.name == policy.project.name:
                    problems.add(
                        f"{path}.distributions[{index}]",
                        f"is policy.project {dist.name!r}, which must not be listed",
                    )
        if problems.items or environment is None or policy is None:
            raise ManifestError("malformed manifest", problems.items or [f"{path}: malformed"])
        return cls(
            version=version,
            created=created,
            expires=expires,
            environment=environment,
            policy=policy,
            site_dirs=site_dirs,
            startup_modules=modules,
            distributions=dists,
            approvals=approvals,
        )
