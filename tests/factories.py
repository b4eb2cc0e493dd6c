"""Valid manifests for tests: every piece has a realistic default and can be replaced.

``make_manifest()`` returns a manifest that ``Manifest.from_dict`` accepts; tests change one
piece (``make_manifest(keys=[pub], threshold=1)``) or edit ``manifest_dict()`` to break it.
The fixed Ed25519 test keys in ``fixtures/keys`` are loaded with :func:`fixture_private_key`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from types import EllipsisType
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ed25519

from pthguard.manifest.keys import PrivateKey, PublicKey, load_private_key, load_public_key
from pthguard.manifest.model import (
    Distribution,
    EnvironmentInfo,
    FileHash,
    Manifest,
    MetadataKind,
    Mode,
    Policy,
    SiteDir,
    SiteRole,
    StartupFile,
    StartupModule,
    TrustedKey,
    UnclaimedFiles,
    UnlistedDistributions,
)

FIXTURES = Path(__file__).parent / "fixtures"
KEYS_DIR = FIXTURES / "keys"
GOLDEN_MANIFEST = FIXTURES / "golden" / "manifest-v1.json"

SITE = "/srv/app/.venv/lib/python3.12/site-packages"
CREATED = "2026-03-24T12:00:00Z"
EXPIRES = "2026-06-22T12:00:00Z"

DISTUTILS_PRECEDENCE = (
    b"import os; var = 'SETUPTOOLS_USE_DISTUTILS'; "
    b"enabled = os.environ.get(var, 'local') == 'local'; "
    b"enabled and __import__('_distutils_hack').add_shim(); \n"
)


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def import_lines(content: bytes) -> tuple[str, ...]:
    lines = content.decode("utf-8").splitlines()
    return tuple(line for line in lines if line.startswith(("import ", "import\t")))


def make_startup_file(
    name: str = "distutils-precedence.pth",
    *,
    content: bytes = DISTUTILS_PRECEDENCE,
    code_lines: Sequence[str] | None = None,
    owner: str | None = "setuptools",
) -> StartupFile:
    return StartupFile(
        name=name,
        sha256=sha256_hex(content),
        size=len(content),
        code_lines=tuple(import_lines(content) if code_lines is None else code_lines),
        owner=owner,
    )


def make_site_dir(
    path: str = SITE,
    *,
    role: SiteRole = "venv",
    startup_files: Sequence[StartupFile] | None = None,
    unclaimed: Sequence[str] = (),
) -> SiteDir:
    return SiteDir(
        path=path,
        role=role,
        startup_files=tuple((make_startup_file(),) if startup_files is None else startup_files),
        unclaimed=tuple(unclaimed),
    )


def make_startup_module(
    name: Literal["sitecustomize", "usercustomize"] = "sitecustomize",
    *,
    path: str | None = None,
    content: bytes | None = None,
) -> StartupModule:
    """A startup module that is absent (default) or present at ``path`` with ``content``."""
    if path is not None and content is None:
        content = b"import sys\n"
    return StartupModule(
        name=name, path=path, sha256=None if content is None else sha256_hex(content)
    )


def make_file_hash(path: str, content: bytes = b"") -> FileHash:
    return FileHash(path=path, sha256=sha256_hex(content))


def make_distribution(
    name: str = "setuptools",
    version: str = "80.9.0",
    *,
    site_dir: str = SITE,
    metadata_dir: str | None = None,
    kind: MetadataKind = "dist-info",
    installer: str | None = "pip",
    metadata_sha256: str | None = None,
    record_sha256: str | EllipsisType | None = ...,
    editable: bool = False,
    files: Sequence[FileHash] = (),
) -> Distribution:
    """``record_sha256`` defaults to a digest for dist-info and to null for egg-info."""
    if isinstance(record_sha256, EllipsisType):
        record_sha256 = sha256_hex(f"RECORD of {name}") if kind == "dist-info" else None
    suffix = ".dist-info" if kind == "dist-info" else ".egg-info"
    return Distribution(
        name=name,
        version=version,
        site_dir=site_dir,
        metadata_dir=f"{name}-{version}{suffix}" if metadata_dir is None else metadata_dir,
        kind=kind,
        installer=installer,
        metadata_sha256=(
            sha256_hex(f"Name: {name}\nVersion: {version}\n")
            if metadata_sha256 is None
            else metadata_sha256
        ),
        record_sha256=record_sha256,
        editable=editable,
        files=tuple(files),
    )


def make_environment(
    *,
    implementation: str = "cpython",
    python_version: str = "3.12.1",
    cache_tag: str = "cpython-312",
    platform: str = "linux",
    prefix: str = "/srv/app/.venv",
    executable: str = "/srv/app/.venv/bin/python",
) -> EnvironmentInfo:
    return EnvironmentInfo(
        implementation=implementation,
        python_version=python_version,
        cache_tag=cache_tag,
        platform=platform,
        prefix=prefix,
        executable=executable,
    )


def make_trusted_key(key: PublicKey) -> TrustedKey:
    return TrustedKey(keyid=key.keyid, public=key.hex, name=key.name)


def make_policy(
    *,
    keys: Sequence[PublicKey] = (),
    threshold: int = 1,
    mode: Mode = "enforce",
    unlisted_distributions: UnlistedDistributions = "refuse",
    unclaimed_files: UnclaimedFiles = "report",
    allow_env_override: bool = False,
) -> Policy:
    return Policy(
        mode=mode,
        unlisted_distributions=unlisted_distributions,
        unclaimed_files=unclaimed_files,
        keys=tuple(make_trusted_key(k) for k in keys),
        threshold=threshold,
        allow_env_override=allow_env_override,
    )


def make_manifest(
    *,
    version: int = 1,
    created: str = CREATED,
    expires: str = EXPIRES,
    environment: EnvironmentInfo | None = None,
    policy: Policy | None = None,
    keys: Sequence[PublicKey] = (),
    threshold: int = 1,
    site_dirs: Sequence[SiteDir] | None = None,
    startup_modules: Sequence[StartupModule] | None = None,
    distributions: Sequence[Distribution] | None = None,
) -> Manifest:
    """A valid manifest; ``keys``/``threshold`` build the policy unless ``policy`` is given."""
    return Manifest(
        version=version,
        created=created,
        expires=expires,
        environment=make_environment() if environment is None else environment,
        policy=make_policy(keys=keys, threshold=threshold) if policy is None else policy,
        site_dirs=tuple((make_site_dir(),) if site_dirs is None else site_dirs),
        startup_modules=tuple(
            (make_startup_module("sitecustomize"), make_startup_module("usercustomize"))
            if startup_modules is None
            else startup_modules
        ),
        distributions=tuple(
            (make_distribution(), make_distribution("pip", "25.0"))
            if distributions is None
            else distributions
        ),
    )


def manifest_dict(**kwargs: Any) -> dict[str, Any]:
    """``make_manifest(**kwargs).to_dict()``: a fresh mapping tests may edit."""
    return make_manifest(**kwargs).to_dict()


def key_from_seed(seed: bytes | int, name: str = "seeded") -> PrivateKey:
    """A deterministic Ed25519 key (tests only): the same seed gives the same key."""
    raw = seed.to_bytes(32, "big") if isinstance(seed, int) else seed
    return PrivateKey(ed25519.Ed25519PrivateKey.from_private_bytes(raw), name)


def fixture_private_key(number: int) -> PrivateKey:
    """``fixtures/keys/test-release-<number>.key`` (1 or 2): fixed, test-only."""
    return load_private_key(KEYS_DIR / f"test-release-{number}.key", None)


def fixture_public_key(number: int) -> PublicKey:
    return load_public_key(KEYS_DIR / f"test-release-{number}.pub")
