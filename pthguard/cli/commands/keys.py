"""Key commands: ``keygen`` (a new Ed25519 key pair), ``key id`` and ``key show``."""

from __future__ import annotations

import argparse
from pathlib import Path

from pthguard.cli.command import EXIT_OK, Command
from pthguard.cli.context import Context
from pthguard.cli.options import format_option
from pthguard.cli.passphrase import passphrase, passphrase_options
from pthguard.errors import PthguardError, UsageError

__all__ = ["COMMANDS"]


def _keygen_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--private-key", required=True, type=Path, help="where to write the private key")
    p.add_argument("--public-key", required=True, type=Path, help="where to write the public key")
    passphrase_options(p, creating=True)


def _keygen(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.manifest import keys as _keys  # noqa: PLC0415

    if args.private_key.resolve() == args.public_key.resolve():
        raise UsageError("--private-key and --public-key must be different files")
    for path in (args.private_key, args.public_key):
        if path.exists():
            raise PthguardError(f"{path} already exists", remedy="choose another path")
    secret = passphrase(args, ctx, confirm=True)
    key = _keys.generate(_keys.key_name(args.public_key))
    _keys.write_new_file(args.private_key, _keys.private_pem(key, secret), 0o600)
    _keys.write_new_file(args.public_key, _keys.public_pem(key.public), 0o644)
    state = "encrypted" if secret else "NOT encrypted"
    out = ctx.out
    print(f"private key: {args.private_key} (mode 0600, {state})", file=out)
    print(f"public key:  {args.public_key}", file=out)
    print(f"keyid:       {key.public.keyid}", file=out)
    return EXIT_OK


def _key_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("key", type=Path)


def _key_id(args: argparse.Namespace, ctx: Context) -> int:
    from pthguard.manifest import keys as _keys  # noqa: PLC0415

    print(_keys.key_id(args.key), file=ctx.out)
    return EXIT_OK


def _key_show_options(p: argparse.ArgumentParser) -> None:
    _key_argument(p)
    format_option(p)


def _key_show(args: argparse.Namespace, ctx: Context) -> int:
    import json  # noqa: PLC0415

    from pthguard.manifest import keys as _keys  # noqa: PLC0415

    info = _keys.key_show(args.key)
    if args.format == "json":
        ctx.out.write(json.dumps(info, indent=2) + "\n")
    else:
        for name, value in info.items():
            print(f"{name}: {value}", file=ctx.out)
    return EXIT_OK


COMMANDS = (
    Command(
        name="keygen",
        help="create an Ed25519 signing key pair",
        configure=_keygen_options,
        run=_keygen,
    ),
    Command(
        name="key",
        help="show a key's id and details",
        subcommands=(
            Command(
                name="id",
                help="print the keyid (sha256 of the raw public key)",
                configure=_key_argument,
                run=_key_id,
            ),
            Command(
                name="show",
                help="keyid, type, OpenSSH fingerprint, name",
                configure=_key_show_options,
                run=_key_show,
            ),
        ),
    ),
)
