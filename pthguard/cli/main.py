"""The ``pthguard`` command line. The only module that prints.

Exit codes: 0 clean; 1 differences or findings; 2 usage; 3 operational error (bad manifest,
bad key, unreadable files). Errors print one ``pthguard: error: ...`` line with the remedy;
``-v`` adds the traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pthguard import __version__
from pthguard.errors import PthguardError, UsageError

if TYPE_CHECKING:
    from pthguard.environment.snapshot import Finding
    from pthguard.manifest.keys import PrivateKey

EXIT_OK, EXIT_DIFFERENCES, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pthguard",
        description="Refuse to start a Python environment that differs from its signed manifest.",
    )
    parser.add_argument("--version", action="version", version=f"pthguard {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("keygen", help="create an Ed25519 signing key pair")
    p.add_argument("--private-key", required=True, type=Path, help="where to write the private key")
    p.add_argument("--public-key", required=True, type=Path, help="where to write the public key")
    _passphrase_options(p, creating=True)

    p = sub.add_parser("snapshot", help="describe an environment as an unsigned manifest")
    p.add_argument("--python", help="interpreter of the environment (default: this one)")
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

    p = sub.add_parser("sign", help="add a signature to a manifest")
    p.add_argument("manifest", type=Path)
    p.add_argument("--key", type=Path, help="private key (PKCS8 PEM or OpenSSH ed25519)")
    p.add_argument(
        "--detached",
        action="store_true",
        help="write the bytes to sign (the payload) to -o instead, for an offline signer",
    )
    p.add_argument("-o", "--output", type=Path, help="write here (default: in place)")
    _passphrase_options(p, creating=False)

    p = sub.add_parser(
        "sign-payload", help="sign a payload from `sign --detached` (on the signing machine)"
    )
    p.add_argument("payload", type=Path)
    p.add_argument("--key", required=True, type=Path, help="private key")
    p.add_argument("-o", "--output", required=True, type=Path, help="signature file to write")
    p.add_argument("--format", choices=("json", "sshsig"), default="json")
    _passphrase_options(p, creating=False)

    p = sub.add_parser("attach", help="add detached signatures (pthguard or ssh-keygen -Y sign)")
    p.add_argument("manifest", type=Path)
    p.add_argument("signatures", nargs="+", type=Path, metavar="SIGFILE")
    p.add_argument("--trust", action="append", type=Path, default=[], metavar="PUB")
    p.add_argument("-o", "--output", type=Path, help="write here (default: in place)")

    p = sub.add_parser("key", help="show a key's id and details")
    key_sub = p.add_subparsers(dest="key_command", required=True, parser_class=_Parser)
    q = key_sub.add_parser("id", help="print the keyid (sha256 of the raw public key)")
    q.add_argument("key", type=Path)
    q = key_sub.add_parser("show", help="keyid, type, OpenSSH fingerprint, name")
    q.add_argument("key", type=Path)
    q.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("verify", help="compare an environment with a signed manifest")
    p.add_argument("--python", help="interpreter of the environment (default: this one)")
    p.add_argument(
        "--manifest", type=Path, help="signed manifest (default: the one installed by install)"
    )
    p.add_argument(
        "--trust",
        action="append",
        type=Path,
        default=[],
        metavar="PUB",
        help="trusted public key, repeatable (default: the installed trust anchors)",
    )
    p.add_argument("--deep", action="store_true", help="also hash every file in every RECORD")
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("install", help="install the startup gate into an environment")
    p.add_argument("--python", help="interpreter of the environment (default: this one)")
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("--trust", action="append", type=Path, default=[], metavar="PUB")
    p.add_argument(
        "--mode", choices=("enforce", "warn"), help="override the policy's mode for this install"
    )
    p.add_argument(
        "--allow-downgrade", action="store_true", help="accept a manifest older than the installed"
    )

    p = sub.add_parser("uninstall", help="remove the startup gate; the environment is stock again")
    p.add_argument("--python", help="interpreter of the environment (default: this one)")

    p = sub.add_parser("status", help="is the guard installed, what does it enforce, does it pass")
    p.add_argument("--python", help="interpreter of the environment (default: this one)")
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser(
        "protect", help="guard this machine's environment: local key, snapshot, sign, install"
    )
    p.add_argument("--python", help="interpreter of the environment (default: this one)")
    p.add_argument("--yes", action="store_true", help="do not ask before re-signing changes")
    p.add_argument("--mode", choices=("enforce", "warn"), default="enforce")
    p.add_argument("--expires-days", type=int, default=365, help="manifest lifetime (default: 365)")

    p = sub.add_parser(
        "scan",
        help="report startup files and what their code reaches (no manifest needed)",
        description=(
            "Report every .pth/.start file and sitecustomize/usercustomize of an "
            "environment, decoded statically. Nothing scanned is executed. Exit 1 on a high "
            "finding, 3 when something could not be read."
        ),
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="site directory, directory or file")
    p.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="PY",
        help="scan the site directories of this interpreter (repeatable)",
    )
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")

    p = sub.add_parser(
        "inspect",
        help="check wheels and sdists before installing them (no manifest needed)",
        description=(
            "Report the startup files a wheel or sdist would install, files it would put "
            "outside site-packages, and RECORD problems. Nothing is extracted or executed. "
            "Exit 1 on a high finding, 3 when an archive could not be read."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="WHEEL|SDIST|DIR")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")

    p = sub.add_parser(
        "audit-lock",
        help="check that a lock pins every package by version and sha256 hash",
        description=(
            "Check requirements files (pip-compile --generate-hashes) and PEP 751 pylock.toml: "
            "every requirement an exact pin with a sha256 hash; with --python, compare the "
            "installed distributions with the lock. Exit 1 on any finding, 3 on a lock that "
            "cannot be read."
        ),
    )
    p.add_argument(
        "locks",
        nargs="+",
        type=Path,
        metavar="LOCK",
        help="requirements.txt, *.lock or pylock.toml (several: each is audited)",
    )
    p.add_argument(
        "--python", help="also compare the distributions this interpreter has (one LOCK only)"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("diff", help="what changed between two manifests, for review")
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--format", choices=("text", "json"), default="text")
    return parser


def _passphrase_options(p: argparse.ArgumentParser, *, creating: bool) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--passphrase-file", type=Path, help="read the passphrase from the first line of a file"
    )
    if creating:
        group.add_argument(
            "--no-passphrase", action="store_true", help="write the private key unencrypted"
        )


def _passphrase(args: argparse.Namespace, *, confirm: bool) -> bytes | None:
    if getattr(args, "no_passphrase", False):
        return None
    if args.passphrase_file is not None:
        from pthguard._internal.fs import read_bytes  # noqa: PLC0415

        lines = read_bytes(args.passphrase_file, "passphrase file").splitlines()
        value = lines[0] if lines else b""
        if not value:
            raise PthguardError(f"passphrase file {args.passphrase_file} is empty")
        return value
    env = os.environ.get("PTHGUARD_PASSPHRASE")
    if env:
        return env.encode("utf-8")
    if not sys.stdin.isatty():
        raise UsageError(
            "no passphrase: use --passphrase-file, PTHGUARD_PASSPHRASE, a terminal"
            + (", or --no-passphrase" if confirm else "")
        )
    first = getpass.getpass("passphrase: ")
    if confirm and getpass.getpass("passphrase again: ") != first:
        raise UsageError("the passphrases differ")
    if not first:
        raise UsageError("empty passphrase" + (" (use --no-passphrase)" if confirm else ""))
    return first.encode("utf-8")


def parse_expires(text: str, now: dt.datetime) -> dt.datetime:
    match = re.fullmatch(r"(\d+)([dh])", text)
    if match:
        amount = int(match.group(1))
        delta = dt.timedelta(days=amount) if match.group(2) == "d" else dt.timedelta(hours=amount)
        return now + delta
    for form in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, form).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    raise UsageError(f"--expires {text!r}: use 90d, 12h, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")


def cmd_keygen(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard.manifest import keys as _keys  # noqa: PLC0415

    if args.private_key.resolve() == args.public_key.resolve():
        raise UsageError("--private-key and --public-key must be different files")
    for path in (args.private_key, args.public_key):
        if path.exists():
            raise PthguardError(f"{path} already exists", remedy="choose another path")
    passphrase = _passphrase(args, confirm=True)
    key = _keys.generate(_keys.key_name(args.public_key))
    _keys.write_new_file(args.private_key, _keys.private_pem(key, passphrase), 0o600)
    _keys.write_new_file(args.public_key, _keys.public_pem(key.public), 0o644)
    state = "encrypted" if passphrase else "NOT encrypted"
    print(f"private key: {args.private_key} (mode 0600, {state})", file=out)
    print(f"public key:  {args.public_key}", file=out)
    print(f"keyid:       {key.public.keyid}", file=out)
    return EXIT_OK


def cmd_snapshot(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard.guard import snapshot as _snapshot  # noqa: PLC0415
    from pthguard.manifest import keys as _keys  # noqa: PLC0415

    now = clock()
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
        version = _snapshot.next_version(args.output)
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
    )

    def report(finding: Finding) -> None:
        print(f"pthguard: {finding.severity}: {finding.path}: {finding.message}", file=sys.stderr)

    manifest = _snapshot.write(args.output, args.python, spec, on_finding=report)
    startup = sum(len(s.startup_files) for s in manifest.site_dirs)
    print(
        f"wrote {args.output}: version {version}, {len(manifest.site_dirs)} site dir(s), "
        f"{startup} startup file(s), {len(manifest.distributions)} distribution(s); "
        f"unsigned: review it, then `pthguard sign {args.output} --key KEY`",
        file=out,
    )
    return EXIT_OK


def _private_key(args: argparse.Namespace) -> PrivateKey:
    from pthguard._internal.fs import read_bytes  # noqa: PLC0415
    from pthguard.manifest import keys as _keys  # noqa: PLC0415

    data = read_bytes(args.key, "private key")
    passphrase = _passphrase(args, confirm=False) if _keys.is_encrypted_pem(data) else None
    return _keys.load_private_key(args.key, passphrase)


def cmd_sign(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard._internal.fs import read_bytes, write_atomic  # noqa: PLC0415
    from pthguard.manifest import detached as _detached  # noqa: PLC0415
    from pthguard.manifest import envelope as _envelope  # noqa: PLC0415

    envelope = _envelope.parse_envelope(read_bytes(args.manifest, "manifest"), str(args.manifest))
    if args.detached:
        if args.key is not None or args.output is None:
            raise UsageError("sign --detached MANIFEST -o PAYLOAD takes no --key")
        write_atomic(args.output, _detached.payload_of(envelope))
        print(
            f"wrote {args.output}: carry it to the signer, who runs "
            f"`pthguard sign-payload {args.output.name} --key KEY -o SIG` (or `ssh-keygen -Y "
            f"sign -n pthguard -f KEY {args.output.name}`); then `pthguard attach "
            f"{args.manifest} SIG`",
            file=out,
        )
        return EXIT_OK
    if args.key is None:
        raise UsageError("sign needs --key PRIVATE_KEY (or --detached -o PAYLOAD)")
    key = _private_key(args)
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
        file=out,
    )
    return EXIT_OK


def cmd_sign_payload(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard._internal.fs import read_bytes, write_atomic  # noqa: PLC0415
    from pthguard.manifest import detached as _detached  # noqa: PLC0415

    payload = read_bytes(args.payload, "payload")
    manifest = _detached.read_payload(payload, str(args.payload))
    key = _private_key(args)
    data = _detached.sign_payload(payload, key, form=args.format, source=str(args.payload))
    write_atomic(args.output, data)
    out.write(_detached.describe_payload(manifest) + "\n")
    print(f"signed as {key.name} (keyid {key.public.keyid}): {args.output}", file=out)
    return EXIT_OK


def cmd_attach(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard._internal.fs import read_bytes, write_atomic  # noqa: PLC0415
    from pthguard.manifest import detached as _detached  # noqa: PLC0415
    from pthguard.manifest import envelope as _envelope  # noqa: PLC0415
    from pthguard.manifest import keys as _keys  # noqa: PLC0415

    envelope = _envelope.parse_envelope(read_bytes(args.manifest, "manifest"), str(args.manifest))
    keys = [k for p in args.trust for k in _keys.load_anchors(p)]
    signatures = [
        (str(p), _detached.read_signature_file(read_bytes(p, "signature"), str(p)))
        for p in args.signatures
    ]
    signed = _detached.attach(envelope, signatures, keys)
    target = args.output or args.manifest
    write_atomic(target, signed.to_bytes())
    print(f"attached {len(signatures)} signature(s) to {target}", file=out)
    return EXIT_OK


def cmd_key(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    import json  # noqa: PLC0415

    from pthguard.manifest import keys as _keys  # noqa: PLC0415

    if args.key_command == "id":
        print(_keys.key_id(args.key), file=out)
        return EXIT_OK
    info = _keys.key_show(args.key)
    if args.format == "json":
        out.write(json.dumps(info, indent=2) + "\n")
    else:
        for name, value in info.items():
            print(f"{name}: {value}", file=out)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard.environment import deep as _deep  # noqa: PLC0415
    from pthguard.guard import verify as _verify  # noqa: PLC0415
    from pthguard.render import verify as _render  # noqa: PLC0415

    report = _verify.verify(
        args.python,
        args.manifest,
        args.trust,
        now=clock(),
        deep=args.deep,
        progress=_deep.tty_progress() if args.deep else None,
    )
    if args.format == "json":
        out.write(_render.verify_json(report))
    else:
        out.write(_render.verify_text(report))
        _print_warnings(report.permission_warnings)
    return EXIT_OK if report.ok else EXIT_DIFFERENCES


def _print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"pthguard: warning: {warning}", file=sys.stderr)


def cmd_install(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard.guard import install as _install  # noqa: PLC0415

    if not args.trust:
        raise UsageError("--trust is required: the public key(s) the manifest must be signed by")
    done = _install.install(
        python=args.python,
        manifest_path=args.manifest,
        trust=args.trust,
        mode=args.mode,
        allow_downgrade=args.allow_downgrade,
        now=clock(),
    )
    inst = done.installation
    verb = "installed" if done.replaced_version is None else "reinstalled"
    was = "" if done.replaced_version is None else f" (was version {done.replaced_version})"
    print(f"{verb} the pthguard gate for {inst.python}", file=out)
    print(f"  manifest version {inst.manifest_version}{was}, mode {inst.mode}", file=out)
    print(
        "  signed by "
        + ", ".join(f"{k.name} ({k.keyid[:16]})" for k in done.verification.signed_by),
        file=out,
    )
    print(f"  gate:     {inst.gate_pth}", file=out)
    print(f"  watchdog: {inst.watchdog or 'none'}", file=out)
    print(f"  sealed launcher: {inst.launcher}", file=out)
    for note in done.notes:
        print(f"  note: {note}", file=out)
    print(f"  undo with: pthguard uninstall --python {inst.python}", file=out)
    return EXIT_OK


def cmd_uninstall(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard.guard import install as _install  # noqa: PLC0415

    removed = _install.uninstall(args.python)
    if not removed:
        print("pthguard is not installed there; nothing to do", file=out)
        return EXIT_OK
    for path in removed:
        print(f"removed {path}", file=out)
    return EXIT_OK


def cmd_status(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard.guard import status as _status  # noqa: PLC0415
    from pthguard.render import status as _render  # noqa: PLC0415

    found = _status.status(args.python)
    if args.format == "json":
        out.write(_render.status_json(found))
    else:
        if found.installed is not None:
            _print_warnings(found.installed.permission_warnings)
        out.write(_render.status_text(found))
    return EXIT_OK if found.installed is not None and found.installed.passes else EXIT_DIFFERENCES


def cmd_diff(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard._internal.fs import read_bytes  # noqa: PLC0415
    from pthguard.manifest import compare as _compare  # noqa: PLC0415
    from pthguard.manifest import envelope as _envelope  # noqa: PLC0415
    from pthguard.render import verify as _verify  # noqa: PLC0415

    old = _envelope.parse_envelope(read_bytes(args.old, "manifest"), str(args.old))
    new = _envelope.parse_envelope(read_bytes(args.new, "manifest"), str(args.new))
    differences = _compare.diff_manifests(old.manifest, new.manifest)
    render = _verify.diff_json if args.format == "json" else _verify.diff_text
    out.write(render(str(args.old), str(args.new), differences))
    return EXIT_DIFFERENCES if differences else EXIT_OK


def cmd_protect(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard.guard import protect as _protect  # noqa: PLC0415
    from pthguard.render import verify as _verify  # noqa: PLC0415

    if args.expires_days < 1:
        raise UsageError("--expires-days must be at least 1")
    now = clock()
    chosen = _protect.plan(args.python, now=now, expires_days=args.expires_days, mode=args.mode)
    if chosen.key.created:
        print(f"created a local signing key: {chosen.key.private} (mode 0600)", file=out)
    if chosen.previous_version is not None:
        if not chosen.differences:
            print(
                f"nothing changed since manifest version {chosen.previous_version}; "
                "the guard stays as it is",
                file=out,
            )
            return EXIT_OK
        out.write(_verify.diff_text("installed manifest", "this environment", chosen.differences))
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError("changes need confirmation: review them above, then add --yes")
            answer = input("sign these changes and install them? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                print("nothing was changed", file=out)
                return EXIT_DIFFERENCES
    done = _protect.apply(chosen, args.python, now=now)
    inst = done.installation
    print(
        f"signed {chosen.manifest_path} (version {inst.manifest_version}) "
        f"with {chosen.key.private}",
        file=out,
    )
    print(f"guarded {inst.python} in {inst.mode} mode: gate {inst.gate_pth}", file=out)
    for note in done.notes:
        print(f"note: {note}", file=out)
    print(f"check it:  pthguard status --python {inst.python}", file=out)
    print(f"after an intended change: pthguard protect --python {inst.python}", file=out)
    print(f"undo it:   pthguard uninstall --python {inst.python}", file=out)
    return EXIT_OK


def cmd_scan(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard.analysis import scan as _scan  # noqa: PLC0415
    from pthguard.render import scan as _render  # noqa: PLC0415

    report = _scan.scan(paths=list(args.paths), pythons=list(args.python))
    out.write(_render.render(report, args.format, out))
    return report.exit_code


def cmd_inspect(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard.analysis import inspect as _inspect  # noqa: PLC0415
    from pthguard.render import scan as _render  # noqa: PLC0415

    report = _inspect.inspect(list(args.paths))
    out.write(_render.render(report, args.format, out))
    return report.exit_code


def cmd_audit_lock(args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from pthguard.lock import audit as _audit  # noqa: PLC0415

    locks, python = _audit.audit(list(args.locks), args.python)
    render = _audit.render_json if args.format == "json" else _audit.render_text
    out.write(render(locks, python))
    return EXIT_DIFFERENCES if any(lock.findings for lock in locks) else EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO, Clock], int]] = {
    "keygen": cmd_keygen,
    "snapshot": cmd_snapshot,
    "sign": cmd_sign,
    "sign-payload": cmd_sign_payload,
    "attach": cmd_attach,
    "key": cmd_key,
    "verify": cmd_verify,
    "diff": cmd_diff,
    "install": cmd_install,
    "uninstall": cmd_uninstall,
    "status": cmd_status,
    "protect": cmd_protect,
    "scan": cmd_scan,
    "inspect": cmd_inspect,
    "audit-lock": cmd_audit_lock,
}


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, clock: Clock = utc_now
) -> int:
    """Run the CLI; returns the exit code (tests call this in-process)."""
    stdout = out or sys.stdout
    verbose = "-v" in (argv if argv is not None else sys.argv[1:])
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args, stdout, clock)
    except UsageError as exc:
        print(f"pthguard: usage error: {exc.diagnostics()}", file=sys.stderr)
        return EXIT_USAGE
    except PthguardError as exc:
        if verbose:
            traceback.print_exc()
        print(f"pthguard: error: {exc.diagnostics()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("pthguard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `pthguard ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
