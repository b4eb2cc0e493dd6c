"""``pthguard change``: run a command that changes a guarded environment, then judge, sign
and install its next version (or write it unsigned for an offline signer)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from pthguard.cli.command import EXIT_DIFFERENCES, EXIT_OK, Command
from pthguard.cli.commands.guard import sign_and_install
from pthguard.cli.context import Context
from pthguard.cli.options import approval_options, approval_requests, python_option
from pthguard.errors import UsageError

if TYPE_CHECKING:
    from pthguard.environment import layout as _layout
    from pthguard.findings import Finding
    from pthguard.guard.change import Change

__all__ = ["COMMANDS"]

EPILOG = """\
examples:
  pthguard change --python .venv/bin/python -- pip install -U requests
  pthguard change --python .venv/bin/python --yes -- opentelemetry-bootstrap -a install
  pthguard change --python /app/.venv/bin/python --no-sign -o next.json -- uv pip install -r req.txt

The command runs with the environment's scripts directory first on PATH (pip, uv pip and
console scripts find this environment). Its processes, and theirs, may write to the
environment; unlisted startup code still never runs in them. When it succeeds, the new state
is judged and shown: new startup code needs --approve (--yes never approves it)."""


def _change_options(p: argparse.ArgumentParser) -> None:
    python_option(p)
    p.add_argument("--yes", action="store_true", help="do not ask before signing the changes")
    p.add_argument(
        "--no-sign",
        action="store_true",
        help="write the next version unsigned (-o) for an offline signer instead of signing it "
        "with this machine's local key",
    )
    p.add_argument("-o", "--output", type=Path, help="with --no-sign: the manifest file to write")
    p.add_argument(
        "--mode",
        choices=("enforce", "warn"),
        help="enforce or warn (default: the installed manifest's mode)",
    )
    p.add_argument(
        "--expires-days",
        type=int,
        help="lifetime of the next version in days (default: 365; with --no-sign, the "
        "installed manifest's lifetime)",
    )
    p.add_argument(
        "--finish",
        action="store_true",
        help="run no command: judge and sign (or, with --no-sign, write) what is there now, "
        "after a change whose signing stopped (an approval needed, a failed command)",
    )
    approval_options(p)
    p.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND ...",
        help="the command that changes the environment (pip, uv, a bootstrap script)",
    )


def _change(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.guard import change as _change  # noqa: PLC0415

    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if command and args.finish:
        raise UsageError("--finish runs no command: drop either --finish or the command")
    if not command and not args.finish:
        raise UsageError(
            "give the command after --, e.g. `pthguard change --python PY -- pip install -U "
            "PKG`; to sign the environment as it is now, add --finish"
        )
    if args.no_sign and args.output is None:
        raise UsageError("--no-sign writes the next version unsigned: give -o FILE")
    if args.output is not None and not args.no_sign:
        raise UsageError("-o is for --no-sign; without it the next version is signed here")
    if args.expires_days is not None and args.expires_days < 1:
        raise UsageError("--expires-days must be at least 1")
    if args.finish:
        from pthguard.environment import layout as _layout  # noqa: PLC0415
        from pthguard.environment import probe as _probe  # noqa: PLC0415

        probe = _probe.probe(args.python)
        installs = _layout.installations_of(probe)
        return _sign(args, ctx, probe.executable, installs[0] if installs else None)
    with _change.open_change(args.python, command, now=ctx.clock()) as change:
        if not args.no_sign:
            _local_key_must_sign(change.installation, change.python)
        if change.interrupted is not None:
            was = change.interrupted
            ctx.warn(
                f"an earlier change did not finish (pid {was.pid}, started {was.started}: "
                f"{shlex.join(was.command)}); what it changed is judged with this one"
            )
        print(
            f"pthguard: running `{shlex.join(command)}` with writes to the environment of "
            f"{change.python} "
            "allowed; unlisted startup code still does not run",
            file=ctx.err,
        )
        code = _change.run_command(change, command)
    if code != 0:
        return _failed(ctx, change, command, code)
    print(f"pthguard: `{shlex.join(command)}` finished; judging the changes", file=ctx.err)
    return _sign(args, ctx, change.python, change.installation)


def _local_key_must_sign(inst: _layout.Installation, python: str) -> None:
    """Refuse before the command runs when its result could not be signed here."""
    from pthguard.guard import protect as _protect  # noqa: PLC0415

    why = _protect.local_key_can_sign(inst.manifest_path)
    if why is not None:
        raise UsageError(
            f"{python}: {why}; nothing was done. Write the next version for its signers "
            "instead: add --no-sign -o next.json"
        )


def _finish_command(args: argparse.Namespace, ctx: Context, python: str) -> str:
    """The command that signs what is there now, as this run would (options kept)."""
    words = [ctx.program, "change", "--python", shlex.quote(python), "--finish"]
    if args.no_sign:
        words += ["--no-sign", "-o", shlex.quote(str(args.output))]
    if args.mode:
        words += ["--mode", args.mode]
    if args.expires_days is not None:
        words += ["--expires-days", str(args.expires_days)]
    words += [f"--approvals {shlex.quote(str(p))}" for p in args.approvals]
    return " ".join(words)


def _sign(
    args: argparse.Namespace, ctx: Context, python: str, inst: _layout.Installation | None
) -> int:
    """Judge the environment as it is now; sign and install it, or write it unsigned."""
    finish = _finish_command(args, ctx, python)
    if args.no_sign:
        if inst is None:
            raise UsageError(
                f"{python} is not guarded: --no-sign continues an installed manifest",
            )
        return _write_unsigned(args, ctx, python, inst, finish)
    if inst is not None:
        _local_key_must_sign(inst, python)
    from pthguard.guard import protect as _protect  # noqa: PLC0415

    chosen = _protect.plan(
        python,
        now=ctx.clock(),
        expires_days=args.expires_days,
        mode=args.mode,
        approvals=approval_requests(args),
    )
    return sign_and_install(
        chosen,
        python,
        yes=args.yes,
        ctx=ctx,
        approve_command=finish,
        confirm_command=f"{finish} --yes",
        left_unsigned=(
            f"nothing was signed: {python} refuses to start until its changes are signed "
            f"(`{finish}`) or undone"
        ),
    )


def _failed(ctx: Context, change: Change, command: list[str], code: int) -> int:
    """The command failed: nothing is signed; say where the environment stands."""
    from pthguard.guard import verify as _verify  # noqa: PLC0415

    python, program = change.python, ctx.program
    version = change.installation.manifest_version
    ctx.warn(f"`{shlex.join(command)}` exited with status {code}; nothing was signed")
    report = _verify.verify(python, None, [], now=ctx.clock())
    quoted = shlex.quote(python)
    if report.ok:
        ctx.warn(
            f"{python} still matches its signed manifest (version {version}): nothing is left to do"
        )
    else:
        ctx.warn(
            f"{python} no longer matches its signed manifest (version {version}) and refuses "
            f"to start until the change is finished: fix the cause and run the change again "
            f"(`{program} change --python {quoted} -- ...`), or review and sign what is there "
            f"now (`{program} verify --python {quoted}`, then `{program} protect --python "
            f"{quoted}`)"
        )
    return code if 0 < code < 256 else EXIT_DIFFERENCES


def _write_unsigned(
    args: argparse.Namespace,
    ctx: Context,
    python: str,
    inst: _layout.Installation,
    finish: str,
) -> int:
    """``--no-sign``: the next version, with the installed manifest's policy, unsigned."""
    from pthguard.guard import change as _change  # noqa: PLC0415
    from pthguard.render import review as _review  # noqa: PLC0415
    from pthguard.render import verify as _render  # noqa: PLC0415
    from pthguard.render.findings import environment_word  # noqa: PLC0415

    def report(finding: Finding) -> None:
        ctx.diagnose(environment_word(finding), f"{finding.path}: {finding.message}")

    installed = inst.manifest_path
    drafted = _change.draft_next(
        python,
        installed,
        args.output,
        now=ctx.clock(),
        expires_days=args.expires_days,
        mode=args.mode,
        approvals=approval_requests(args),
        on_finding=report,
    )
    program = ctx.program
    if drafted.differences:
        diff = _render.diff_text("installed manifest", "this environment", drafted.differences)
        ctx.out.write(diff)
    if not drafted.taken.ok:
        ctx.out.write(_review.refusal_text(drafted.taken.judgement, finish))
        return EXIT_DIFFERENCES
    ctx.out.write(_review.review_text(drafted.taken.judgement))
    out = shlex.quote(str(args.output))
    print(
        f"wrote {args.output}: version {drafted.taken.manifest.version}, unsigned. "
        f"{python} refuses to start until it is signed and installed:\n"
        f"  review:  {program} diff {shlex.quote(str(installed))} {out}\n"
        f"  sign:    {program} sign {out} --key KEY\n"
        f"  install: {program} install --python {shlex.quote(python)} --manifest {out} "
        "--trust KEY.pub",
        file=ctx.out,
    )
    return EXIT_OK


COMMANDS = (
    Command(
        name="change",
        help="run a command that changes a guarded environment, then sign its next version",
        description=EPILOG,
        configure=_change_options,
        run=_change,
    ),
)
