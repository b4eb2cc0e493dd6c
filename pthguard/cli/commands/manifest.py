"""Manifest commands: ``snapshot`` (describe an environment), ``sign``, ``sign-payload`` and
``attach`` (signing, also offline), and ``diff`` (what changed, for review)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pthguard.cli.command import EXIT_DIFFERENCES, EXIT_OK, Command
from pthguard.cli.context import Context
from pthguard.cli.options import (
    approval_options,
    approval_requests,
    event_targets,
    events_options,
    format_option,
    parse_expires,
    python_option,
)
from pthguard.cli.passphrase import passphrase, passphrase_options
from pthguard.errors import PthguardError, UsageError

if TYPE_CHECKING:
    from pthguard.environment.probe import PendingProbe
    from pthguard.findings import Finding
    from pthguard.manifest.keys import PrivateKey
    from pthguard.manifest.model import Manifest

__all__ = ["COMMANDS"]


def _snapshot_options(p: argparse.ArgumentParser) -> None:
    python_option(p)
    p.add_argument("-o", "--output", required=True, type=Path, help="manifest file to write")
    p.add_argument(
        "--expires", default="90d", help="lifetime (90d, 12h) or UTC time (default: 90d)"
    )
    p.add_argument(
        "--version",
        dest="manifest_version",
        type=int,
        help="manifest version (default: one more than the file being replaced, else 1)",
    )
    p.add_argument("--mode", choices=("enforce", "warn"), default="enforce")
    p.add_argument("--unlisted-distributions", choices=("refuse", "report"), default="refuse")
    p.add_argument("--unclaimed-files", choices=("ignore", "report", "refuse"), default="report")
    p.add_argument(
        "--signer",
        action="append",
        type=Path,
        default=[],
        metavar="PUB",
        help="public key allowed to sign (repeatable; default: any trusted key)",
    )
    p.add_argument("--threshold", type=int, default=1, help="signatures required (default: 1)")
    p.add_argument(
        "--allow-env-override",
        action="store_true",
        help="let PTHGUARD_MODE=warn weaken enforcement (default: no)",
    )
    p.add_argument(
        "--project",
        metavar="NAME",
        help="the project a CI runner rebuilds: any version/RECORD, only its current startup "
        "files (policy.project)",
    )
    events_options(p)
    p.add_argument(
        "--previous",
        type=Path,
        metavar="MANIFEST",
        help="the last signed manifest of this environment: startup code unchanged since it "
        "needs no new approval (default: the signed manifest at -o, if any)",
    )
    approval_options(p)
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: print the review of the startup code (pthguard-review/1) on stdout",
    )


def _snapshot(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.environment import probe as _probe  # noqa: PLC0415

    with _probe.start(args.python) as pending:  # runs while the modules below load
        return _take_snapshot(args, ctx, pending)


def _take_snapshot(args: argparse.Namespace, ctx: Context, pending: PendingProbe) -> int:
    from pthguard.guard import snapshot as _snapshot  # noqa: PLC0415
    from pthguard.manifest import keys as _keys  # noqa: PLC0415
    from pthguard.render.findings import environment_word  # noqa: PLC0415

    now = ctx.clock()
    expires = parse_expires(args.expires, now)
    if expires <= now:
        raise UsageError(f"--expires {args.expires} is not in the future")
    signers = [_keys.load_public_key(p) for p in args.signer]
    if args.threshold < 1:
        raise UsageError("--threshold must be at least 1")
    if signers and args.threshold > len({k.keyid for k in signers}):
        raise UsageError(f"--threshold {args.threshold} exceeds the {len(signers)} signers given")
    version = args.manifest_version
    if version is None:
        version = _snapshot.next_version(args.output, args.previous)
    if version < 1:
        raise UsageError("--version must be positive")
    spec = _snapshot.SnapshotSpec(
        version=version,
        created=now,
        expires=expires,
        mode=args.mode,
        unlisted_distributions=args.unlisted_distributions,
        unclaimed_files=args.unclaimed_files,
        signers=tuple(signers),
        threshold=args.threshold,
        allow_env_override=args.allow_env_override,
        project=args.project,
        events=event_targets(args),
    )

    def report(finding: Finding) -> None:
        ctx.diagnose(environment_word(finding), f"{finding.path}: {finding.message}")

    taken = _snapshot.write(
        args.output,
        args.python,
        spec,
        on_finding=report,
        previous=_snapshot.previous_manifest(args.previous, args.output),
        approvals=approval_requests(args),
        pending=pending,
    )
    from pthguard.render import review as _review  # noqa: PLC0415

    if args.format == "json":
        ctx.out.write(_review.review_json(taken.judgement))
    if not taken.ok:
        if args.format != "json":
            command = ctx.command_line(drop=["--approve"])
            ctx.out.write(_review.refusal_text(taken.judgement, command))
        return EXIT_DIFFERENCES
    manifest = taken.manifest
    startup = sum(len(s.startup_files) for s in manifest.site_dirs)
    print(
        f"wrote {args.output}: version {version}, {len(manifest.site_dirs)} site dir(s), "
        f"{startup} startup file(s), {len(manifest.distributions)} distribution(s); "
        f"unsigned: review it, then `{ctx.program} sign {args.output} --key KEY`",
        file=ctx.err if args.format == "json" else ctx.out,
    )
    return EXIT_OK


def _private_key(args: argparse.Namespace, ctx: Context) -> PrivateKey:
    from pthguard._internal.fs import read_bytes  # noqa: PLC0415
    from pthguard.manifest import keys as _keys  # noqa: PLC0415

    data = read_bytes(args.key, "private key")
    secret = passphrase(args, ctx, confirm=False) if _keys.is_encrypted_pem(data) else None
    return _keys.load_private_key(args.key, secret)


def _sign_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", type=Path)
    p.add_argument("--key", type=Path, help="private key (PKCS8 PEM or OpenSSH ed25519)")
    p.add_argument(
        "--detached",
        action="store_true",
        help="write the bytes to sign (the payload) to -o instead, for an offline signer",
    )
    p.add_argument("-o", "--output", type=Path, help="write here (default: in place)")
    _previous_option(p)
    passphrase_options(p, creating=False)


def _previous_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--previous",
        type=Path,
        metavar="MANIFEST",
        help="the last signed manifest of this environment: startup code unchanged since it "
        "needs no approval in this one",
    )


def _unreviewed(manifest: Manifest, previous: Path | None, ctx: Context) -> bool:
    """Startup code the manifest records without an approval: refuse, and say how to approve."""
    from pthguard.guard import review as _review  # noqa: PLC0415
    from pthguard.render import review as _render  # noqa: PLC0415

    judgement = _review.review_recorded(manifest, previous)
    if judgement.ok:
        return False
    command = f"{ctx.program} snapshot --python {manifest.environment.executable} -o MANIFEST"
    ctx.out.write(_render.refusal_text(judgement, command))
    return True


def _sign(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard._internal.fs import write_atomic  # noqa: PLC0415
    from pthguard.manifest import detached as _detached  # noqa: PLC0415
    from pthguard.manifest import envelope as _envelope  # noqa: PLC0415

    envelope = _envelope.read_envelope(args.manifest)
    if _unreviewed(envelope.manifest, args.previous, ctx):
        return EXIT_DIFFERENCES
    if args.detached:
        if args.key is not None or args.output is None:
            raise UsageError("sign --detached MANIFEST -o PAYLOAD takes no --key")
        write_atomic(args.output, _detached.payload_of(envelope))
        print(
            f"wrote {args.output}: carry it to the signer, who runs "
            f"`{ctx.program} sign-payload {args.output.name} --key KEY -o SIG` (or "
            f"`ssh-keygen -Y sign -n pthguard -f KEY {args.output.name}`); then "
            f"`{ctx.program} attach {args.manifest} SIG`",
            file=ctx.out,
        )
        return EXIT_OK
    if args.key is None:
        raise UsageError("sign needs --key PRIVATE_KEY (or --detached -o PAYLOAD)")
    key = _private_key(args, ctx)
    listed = {k.keyid for k in envelope.manifest.policy.keys}
    if listed and key.public.keyid not in listed:
        raise PthguardError(
            f"key {args.key} ({key.public.keyid[:16]}) is not among the signers the manifest's "
            "policy allows",
            remedy="sign with an allowed key, or snapshot again with --signer",
        )
    signed = _envelope.sign(envelope, key)
    target = args.output or args.manifest
    write_atomic(target, signed.to_bytes())
    print(
        f"signed {target} as {key.name} (keyid {key.public.keyid}); "
        f"{len(signed.signatures)} signature(s)",
        file=ctx.out,
    )
    return EXIT_OK


def _sign_payload_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("payload", type=Path)
    p.add_argument("--key", required=True, type=Path, help="private key")
    p.add_argument("-o", "--output", required=True, type=Path, help="signature file to write")
    p.add_argument("--format", choices=("json", "sshsig"), default="json")
    _previous_option(p)
    passphrase_options(p, creating=False)


def _sign_payload(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard._internal.fs import read_bytes, write_atomic  # noqa: PLC0415
    from pthguard.manifest import detached as _detached  # noqa: PLC0415

    payload = read_bytes(args.payload, "payload")
    manifest = _detached.read_payload(payload, str(args.payload))
    if _unreviewed(manifest, args.previous, ctx):
        return EXIT_DIFFERENCES
    key = _private_key(args, ctx)
    data = _detached.sign_payload(payload, key, form=args.format, source=str(args.payload))
    write_atomic(args.output, data)
    ctx.out.write(_detached.describe_payload(manifest) + "\n")
    print(f"signed as {key.name} (keyid {key.public.keyid}): {args.output}", file=ctx.out)
    return EXIT_OK


def _attach_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", type=Path)
    p.add_argument("signatures", nargs="+", type=Path, metavar="SIGFILE")
    p.add_argument("--trust", action="append", type=Path, default=[], metavar="PUB")
    p.add_argument("-o", "--output", type=Path, help="write here (default: in place)")


def _attach(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard._internal.fs import read_bytes, write_atomic  # noqa: PLC0415
    from pthguard.manifest import detached as _detached  # noqa: PLC0415
    from pthguard.manifest import envelope as _envelope  # noqa: PLC0415
    from pthguard.manifest import keys as _keys  # noqa: PLC0415

    envelope = _envelope.read_envelope(args.manifest)
    keys = [k for p in args.trust for k in _keys.load_anchors(p)]
    signatures = [
        (str(p), _detached.read_signature_file(read_bytes(p, "signature"), str(p)))
        for p in args.signatures
    ]
    signed = _detached.attach(envelope, signatures, keys)
    target = args.output or args.manifest
    write_atomic(target, signed.to_bytes())
    print(f"attached {len(signatures)} signature(s) to {target}", file=ctx.out)
    return EXIT_OK


def _diff_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    format_option(p)


def _diff(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.analysis.judge import judge_recorded  # noqa: PLC0415
    from pthguard.guard.review import previous_hashes  # noqa: PLC0415
    from pthguard.manifest import compare as _compare  # noqa: PLC0415
    from pthguard.manifest import envelope as _envelope  # noqa: PLC0415
    from pthguard.render import review as _review  # noqa: PLC0415
    from pthguard.render import verify as _render  # noqa: PLC0415

    old = _envelope.read_envelope(args.old)
    new = _envelope.read_envelope(args.new)
    differences = _compare.diff_manifests(old.manifest, new.manifest)
    # the startup code NEW adds, judged as sign would judge it against OLD
    known = previous_hashes(old.manifest)
    judgement = judge_recorded(new.manifest, known)
    changed = [r for r in judgement.reviews if r.sha256 not in known]
    if args.format == "json":
        doc = json.loads(_render.diff_json(str(args.old), str(args.new), differences))
        doc["review"] = json.loads(_review.review_json(replace(judgement, reviews=tuple(changed))))
        ctx.out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        ctx.out.write(_render.diff_text(str(args.old), str(args.new), differences))
        if changed:
            ctx.out.write("\nstartup code new in this manifest, as `sign` judges it:\n")
            ctx.out.write(_review.review_text(replace(judgement, reviews=tuple(changed))))
    return EXIT_DIFFERENCES if differences else EXIT_OK


COMMANDS = (
    Command(
        name="snapshot",
        help="describe an environment as an unsigned manifest",
        configure=_snapshot_options,
        run=_snapshot,
    ),
    Command(
        name="sign",
        help="add a signature to a manifest",
        configure=_sign_options,
        run=_sign,
    ),
    Command(
        name="sign-payload",
        help="sign a payload from `sign --detached` (on the signing machine)",
        configure=_sign_payload_options,
        run=_sign_payload,
    ),
    Command(
        name="attach",
        help="add detached signatures (pthguard or ssh-keygen -Y sign)",
        configure=_attach_options,
        run=_attach,
    ),
    Command(
        name="diff",
        help="what changed between two manifests, for review",
        configure=_diff_options,
        run=_diff,
    ),
)
