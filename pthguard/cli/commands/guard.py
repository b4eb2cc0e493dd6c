"""Guard commands: ``verify`` an environment against its signed manifest, ``install`` and
``uninstall`` the startup gate, ``status`` of an installed gate, and ``protect`` (the
single-machine path: local key, snapshot, sign, install)."""

from __future__ import annotations

import argparse
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
    python_option,
)
from pthguard.errors import UsageError

if TYPE_CHECKING:
    from pthguard.guard.protect import ProtectPlan

__all__ = ["COMMANDS"]


def _verify_options(p: argparse.ArgumentParser) -> None:
    python_option(p)
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
    format_option(p)


def _verify(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.environment import probe as _probe  # noqa: PLC0415

    pending = _probe.start(args.python)  # runs while the modules below load
    from pthguard.guard import verify as _verify  # noqa: PLC0415
    from pthguard.render import verify as _render  # noqa: PLC0415

    progress = None
    if args.deep:
        from pthguard.environment import deep as _deep  # noqa: PLC0415

        progress = _deep.tty_progress(ctx.err)
    report = _verify.verify(
        args.python,
        args.manifest,
        args.trust,
        now=ctx.clock(),
        deep=args.deep,
        progress=progress,
        pending=pending,
    )
    if args.format == "json":
        ctx.out.write(_render.verify_json(report))
    else:
        ctx.out.write(_render.verify_text(report))
        for warning in report.permission_warnings:
            ctx.warn(warning)
    return EXIT_OK if report.ok else EXIT_DIFFERENCES


def _install_options(p: argparse.ArgumentParser) -> None:
    python_option(p)
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("--trust", action="append", type=Path, default=[], metavar="PUB")
    p.add_argument(
        "--mode", choices=("enforce", "warn"), help="override the policy's mode for this install"
    )
    p.add_argument(
        "--allow-downgrade", action="store_true", help="accept a manifest older than the installed"
    )


def _install(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.guard import install as _install  # noqa: PLC0415

    if not args.trust:
        raise UsageError("--trust is required: the public key(s) the manifest must be signed by")
    done = _install.install(
        python=args.python,
        manifest_path=args.manifest,
        trust=args.trust,
        mode=args.mode,
        allow_downgrade=args.allow_downgrade,
        now=ctx.clock(),
    )
    inst, out = done.installation, ctx.out
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
    print(f"  undo with: {ctx.program} uninstall --python {inst.python}", file=out)
    return EXIT_OK


def _uninstall(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.guard import install as _install  # noqa: PLC0415

    removed = _install.uninstall(args.python)
    if not removed:
        print("pthguard is not installed there; nothing to do", file=ctx.out)
        return EXIT_OK
    for path in removed:
        print(f"removed {path}", file=ctx.out)
    return EXIT_OK


def _status_options(p: argparse.ArgumentParser) -> None:
    python_option(p)
    format_option(p)


def _status(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.guard import status as _status  # noqa: PLC0415
    from pthguard.render import status as _render  # noqa: PLC0415

    found = _status.status(args.python)
    if args.format == "json":
        ctx.out.write(_render.status_json(found))
    else:
        if found.installed is not None:
            for warning in found.installed.permission_warnings:
                ctx.warn(warning)
        ctx.out.write(_render.status_text(found))
    passes = found.installed is not None and found.installed.passes
    return EXIT_OK if passes else EXIT_DIFFERENCES


def _launcher(args: argparse.Namespace, ctx: Context) -> int:
    """The sealed launcher's path, for scripts: ``"$(pthguard launcher --python PY)" -m ...``
    (it lives in the state directory, which no installer writes: never link it into bin/)."""
    from pthguard.environment import layout as _layout  # noqa: PLC0415
    from pthguard.environment import probe as _probe  # noqa: PLC0415

    probe = _probe.probe(args.python)
    installs = _layout.installations_of(probe)
    launcher = installs[0].launcher if installs else None
    if launcher is None:
        ctx.warn(f"no guard is installed in {probe.executable}; nothing to launch")
        return EXIT_DIFFERENCES
    problem = _layout.launcher_problem(installs[0])
    if problem is not None:
        ctx.warn(f"{launcher} is not the file install wrote ({problem}); install again")
        return EXIT_DIFFERENCES
    print(launcher, file=ctx.out)
    return EXIT_OK


def _protect_options(p: argparse.ArgumentParser) -> None:
    python_option(p)
    p.add_argument("--yes", action="store_true", help="do not ask before re-signing changes")
    p.add_argument(
        "--mode",
        choices=("enforce", "warn"),
        help="enforce or warn (default: the installed manifest's mode; enforce at first)",
    )
    p.add_argument(
        "--expires-days",
        type=int,
        help="manifest lifetime in days (default: 365); a new value is a change to sign",
    )
    events_options(p, keep=True)
    approval_options(p)


def _protect(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.guard import protect as _protect  # noqa: PLC0415

    if args.expires_days is not None and args.expires_days < 1:
        raise UsageError("--expires-days must be at least 1")
    now = ctx.clock()
    chosen = _protect.plan(
        args.python,
        now=now,
        expires_days=args.expires_days,
        mode=args.mode,
        approvals=approval_requests(args),
        events=event_targets(args),
        no_events=args.no_events,
    )
    return sign_and_install(
        chosen,
        args.python,
        yes=args.yes,
        ctx=ctx,
        approve_command=ctx.command_line(drop=["--approve"]),
    )


def sign_and_install(
    chosen: ProtectPlan,
    python: str | None,
    *,
    yes: bool,
    ctx: Context,
    approve_command: str,
    confirm_command: str | None = None,
    left_unsigned: str = "nothing was changed",
) -> int:
    """The end of ``protect`` (and ``change``): show the differences and the judgement of
    the startup code, ask (unless ``yes``), sign with the local key and install.
    ``confirm_command`` is what to run with ``--yes`` when nobody can be asked (default:
    this command line); ``left_unsigned`` what is said when the answer is no."""
    from pthguard.guard import protect as _protect  # noqa: PLC0415
    from pthguard.render import review as _review  # noqa: PLC0415
    from pthguard.render import verify as _render  # noqa: PLC0415

    now, out = ctx.clock(), ctx.out
    if chosen.key.created:
        print(f"created a local signing key: {chosen.key.private} (mode 0600)", file=out)
    if not chosen.judgement.ok:
        if chosen.differences:
            out.write(_render.diff_text("last manifest", "this environment", chosen.differences))
        out.write(_review.refusal_text(chosen.judgement, approve_command))
        return EXIT_DIFFERENCES
    if chosen.previous_version is not None:
        if not chosen.differences and not chosen.installed:
            print(
                f"not installed; nothing changed since manifest version "
                f"{chosen.previous_version}: signing the next version and installing it",
                file=out,
            )
        elif not chosen.differences:
            print(
                f"nothing changed since manifest version {chosen.previous_version}; "
                "the guard stays as it is",
                file=out,
            )
            return EXIT_OK
        else:
            out.write(_render.diff_text("last manifest", "this environment", chosen.differences))
            out.write(_review.review_text(chosen.judgement))
        if chosen.differences and not yes:
            if not ctx.stdin_is_tty():
                if confirm_command is None:
                    raise UsageError("changes need confirmation: review them above, then add --yes")
                raise UsageError(
                    f"changes need confirmation: review them above, then sign them with "
                    f"`{confirm_command}`"
                )
            answer = ctx.read_answer("sign these changes and install them? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                print(left_unsigned, file=out)
                return EXIT_DIFFERENCES
    done = _protect.apply(chosen, python, now=now)
    inst = done.installation
    print(
        f"signed {chosen.manifest_path} (version {inst.manifest_version}) "
        f"with {chosen.key.private}",
        file=out,
    )
    print(f"guarded {inst.python} in {inst.mode} mode: gate {inst.gate_pth}", file=out)
    for note in done.notes:
        print(f"note: {note}", file=out)
    program = ctx.program
    print(f"check it:  {program} status --python {inst.python}", file=out)
    print(f"after an intended change: {program} protect --python {inst.python}", file=out)
    print(
        f"(a change made here goes through `{program} change --python {inst.python} -- "
        "COMMAND`: pip, uv, any script)",
        file=out,
    )
    print(f"undo it:   {program} uninstall --python {inst.python}", file=out)
    return EXIT_OK


COMMANDS = (
    Command(
        name="verify",
        help="compare an environment with a signed manifest",
        configure=_verify_options,
        run=_verify,
    ),
    Command(
        name="install",
        help="install the startup gate into an environment",
        configure=_install_options,
        run=_install,
    ),
    Command(
        name="uninstall",
        help="remove the startup gate; the environment is stock again",
        configure=python_option,
        run=_uninstall,
    ),
    Command(
        name="status",
        help="is the guard installed, what does it enforce, does it pass",
        configure=_status_options,
        run=_status,
    ),
    Command(
        name="launcher",
        help="print the path of the sealed launcher (python-guarded) of an environment",
        configure=python_option,
        run=_launcher,
    ),
    Command(
        name="protect",
        help="guard this machine's environment: local key, snapshot, sign, install",
        configure=_protect_options,
        run=_protect,
    ),
)
