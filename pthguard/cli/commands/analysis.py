"""Analysis commands, no manifest needed: ``scan`` the startup files of an environment and
``inspect`` wheels and sdists before installing them."""

from __future__ import annotations

import argparse

from pthguard.cli.command import Command
from pthguard.cli.context import Context
from pthguard.cli.options import format_option

__all__ = ["COMMANDS"]

_FORMATS = ("text", "json", "sarif")


def _scan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help="site directory, directory or file")
    p.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="PY",
        help="scan the site directories of this interpreter (repeatable)",
    )
    format_option(p, _FORMATS)


def _scan(args: argparse.Namespace, ctx: Context) -> int:
    import contextlib  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from pthguard.environment import probe as _probe  # noqa: PLC0415

    pythons = list(args.python) or ([] if args.paths else [sys.executable])
    with contextlib.ExitStack() as running:  # the probes run while the rest loads
        pending = {python: running.enter_context(_probe.start(python)) for python in pythons}
        from pthguard.analysis import scan as _scan  # noqa: PLC0415
        from pthguard.render import scan as _render  # noqa: PLC0415

        report = _scan.scan(paths=list(args.paths), pythons=pythons, pending=pending)
    ctx.out.write(_render.render(report, args.format, ctx.out))
    return report.exit_code


def _inspect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="WHEEL|SDIST|DIR")
    format_option(p, _FORMATS)


def _inspect(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.analysis import inspect as _inspect  # noqa: PLC0415
    from pthguard.render import scan as _render  # noqa: PLC0415

    report = _inspect.inspect(list(args.paths))
    ctx.out.write(_render.render(report, args.format, ctx.out))
    return report.exit_code


COMMANDS = (
    Command(
        name="scan",
        help="report startup files and what their code reaches (no manifest needed)",
        description=(
            "Report every .pth/.start file and sitecustomize/usercustomize of an "
            "environment, decoded statically. Nothing scanned is executed. Exit 1 on a high "
            "finding, 3 when something could not be read."
        ),
        configure=_scan_options,
        run=_scan,
    ),
    Command(
        name="inspect",
        help="check wheels and sdists before installing them (no manifest needed)",
        description=(
            "Report the startup files a wheel or sdist would install, files it would put "
            "outside site-packages, and RECORD problems. Nothing is extracted or executed. "
            "Exit 1 on a high finding, 3 when an archive could not be read."
        ),
        configure=_inspect_options,
        run=_inspect,
    ),
)
