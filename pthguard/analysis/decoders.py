"""The data-only decoders :mod:`pthguard.analysis.decode` applies to literals, with size caps.

Each turns bytes into bytes (or text into text) and never runs code: base64 and its
relatives, hex, rot13, ``unicode_escape``, zlib/gzip/bz2/lzma decompression. Decompression
stops after :data:`MAX_OUTPUT` + 1 bytes, so a bomb costs at most that much memory; the
caller rejects any output over :data:`MAX_OUTPUT`.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import codecs
import lzma
import zlib
from collections.abc import Callable
from typing import Final

__all__ = [
    "ALL_DECODERS",
    "CODEC_FUNCTIONS",
    "DECODERS",
    "MAX_OUTPUT",
    "Decoder",
    "Undecidable",
    "as_ascii",
    "as_int",
    "as_latin1",
    "capped",
    "codec_kind",
    "decompress",
    "text_decode",
]

#: The largest value one decoding step may produce (bytes or characters).
MAX_OUTPUT: Final = 1 << 20


class Undecidable(Exception):
    """The value cannot be known without running code (or exceeds a limit)."""


def as_int(value: object) -> int:
    if not isinstance(value, int):
        raise Undecidable
    return value


def capped(value: str | bytes) -> str | bytes:
    if len(value) > MAX_OUTPUT:
        raise Undecidable
    return value


def text_decode(data: bytes, encoding: str) -> str:
    codec = codecs.lookup(encoding)
    if codec.name not in _TEXT_CODECS:
        raise Undecidable
    return data.decode(codec.name)


def decompress(kind: str, data: bytes) -> bytes:
    """Decompress at most :data:`MAX_OUTPUT` + 1 bytes (the caller rejects more)."""
    limit = MAX_OUTPUT + 1
    if kind == "zlib":
        return zlib.decompressobj().decompress(data, limit)
    if kind == "gzip":
        return zlib.decompressobj(wbits=31).decompress(data, limit)
    if kind == "zlib-auto":
        return zlib.decompressobj(wbits=47).decompress(data, limit)
    if kind == "bz2":
        return bz2.BZ2Decompressor().decompress(data, limit)
    if kind == "lzma":
        return lzma.LZMADecompressor().decompress(data, limit)
    raise Undecidable


def as_ascii(data: str | bytes) -> bytes:
    """Decoders accept ASCII ``str`` as well as bytes."""
    if isinstance(data, str):
        try:
            return data.encode("ascii")
        except UnicodeEncodeError as exc:
            raise Undecidable from exc
    return data


def as_latin1(data: str | bytes) -> bytes:
    """Escape codecs read ``str`` as Latin-1 bytes."""
    if isinstance(data, str):
        try:
            return data.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise Undecidable from exc
    return data


Decoder = Callable[[bytes, list[object], dict[str, object]], bytes]


def _b64(data: bytes, args: list[object], kwargs: dict[str, object]) -> bytes:
    altchars = args[0] if args else kwargs.get("altchars")
    if altchars is not None and not isinstance(altchars, bytes):
        raise Undecidable
    return base64.b64decode(data, altchars)


def _simple(function: Callable[[bytes], bytes]) -> Decoder:
    def decode(data: bytes, args: list[object], kwargs: dict[str, object]) -> bytes:
        return function(data)

    return decode


def _zlib(data: bytes, args: list[object], kwargs: dict[str, object]) -> bytes:
    wbits = args[0] if args else kwargs.get("wbits", 15)
    if not isinstance(wbits, int):
        raise Undecidable
    return zlib.decompressobj(wbits=wbits).decompress(data, MAX_OUTPUT + 1)


def _b32hex(data: bytes) -> bytes:
    return base64.b32decode(data.translate(_B32HEX))


_B32HEX: Final = bytes.maketrans(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUV", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)

#: dotted name -> (label, decoder(data, other positional args, keyword args)).
DECODERS: Final[dict[str, tuple[str, Decoder]]] = {
    "base64.b64decode": ("base64", _b64),
    "base64.standard_b64decode": ("base64", _simple(base64.standard_b64decode)),
    "base64.urlsafe_b64decode": ("base64", _simple(base64.urlsafe_b64decode)),
    "base64.decodebytes": ("base64", _simple(base64.decodebytes)),
    "base64.decodestring": ("base64", _simple(base64.decodebytes)),
    "base64.b32decode": ("base32", _simple(base64.b32decode)),
    "base64.b32hexdecode": ("base32", _simple(_b32hex)),
    "base64.b16decode": ("base16", _simple(lambda d: base64.b16decode(d, casefold=True))),
    "base64.a85decode": ("ascii85", _simple(base64.a85decode)),
    "base64.b85decode": ("base85", _simple(base64.b85decode)),
    "binascii.a2b_base64": ("base64", _simple(binascii.a2b_base64)),
    "binascii.unhexlify": ("hex", _simple(binascii.unhexlify)),
    "binascii.a2b_hex": ("hex", _simple(binascii.a2b_hex)),
    "bytes.fromhex": ("hex", _simple(lambda d: bytes.fromhex(d.decode("ascii")))),
    "bytearray.fromhex": ("hex", _simple(lambda d: bytes.fromhex(d.decode("ascii")))),
    "zlib.decompress": ("zlib", _zlib),
    "gzip.decompress": ("gzip", _simple(lambda d: decompress("gzip", d))),
    "bz2.decompress": ("bz2", _simple(lambda d: decompress("bz2", d))),
    "lzma.decompress": ("lzma", _simple(lambda d: decompress("lzma", d))),
}
ALL_DECODERS: Final = frozenset({*DECODERS, "codecs.decode", "codecs.encode"})

#: Data-only transforms reachable through ``codecs.decode(data, name)``, by label.
CODEC_FUNCTIONS: Final[dict[str, Callable[[bytes], bytes]]] = {
    "hex": binascii.unhexlify,
    "base64": base64.decodebytes,
    "zlib": lambda d: decompress("zlib", d),
    "bz2": lambda d: decompress("bz2", d),
}
_CODEC_NAMES: Final[dict[str, tuple[str, str]]] = {
    "rot13": ("rot13", "rot13"),
    "rot_13": ("rot13", "rot13"),
    "hex": ("hex", "bytes"),
    "hex_codec": ("hex", "bytes"),
    "base64": ("base64", "bytes"),
    "base_64": ("base64", "bytes"),
    "base64_codec": ("base64", "bytes"),
    "zlib": ("zlib", "bytes"),
    "zip": ("zlib", "bytes"),
    "zlib_codec": ("zlib", "bytes"),
    "bz2": ("bz2", "bytes"),
    "bz2_codec": ("bz2", "bytes"),
    "unicode_escape": ("unicode-escape", "escape"),
    "raw_unicode_escape": ("unicode-escape", "escape"),
}


def codec_kind(name: str) -> tuple[str, str]:
    """``(label, kind)`` of a codec name: kind is ``rot13``, ``bytes``, ``escape``, or
    ``text`` for a plain text encoding; raises :class:`Undecidable` for anything else."""
    key = name.lower().replace("-", "_")
    if key in _CODEC_NAMES:
        return _CODEC_NAMES[key]
    try:
        info = codecs.lookup(name)
    except LookupError as exc:
        raise Undecidable from exc
    if info.name in _TEXT_CODECS:
        return "text", "text"
    raise Undecidable


_TEXT_CODECS: Final = frozenset(
    {"utf-8", "utf-8-sig", "ascii", "latin-1", "iso8859-1", "utf-16", "utf-32", "cp1252"}
)
