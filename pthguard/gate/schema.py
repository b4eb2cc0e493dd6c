"""The seal's schema: what ``guard.seal`` writes and the gate reads, defined once.

Standard library only, and nothing that imports: the build (``guard.gatebuild``) compiles
this file first into the gate's namespace, so the gate and the writer share these names and
functions without the gate importing anything at startup.

The seal file is ``checksum(payload) + payload`` where ``payload`` is
``marshal.dumps(seal, 4)`` and ``seal`` is a dict with exactly the keys of
:data:`SEAL_KEYS`. Each entry of ``seal["sites"]`` is a tuple indexed by the ``SITE_*``
constants.
"""

EXIT_REFUSED = 78  # a guarded interpreter that refuses to start (EX_CONFIG)
SEAL_FORMAT = 5
CACHE_FORMAT = 2
# Checked before ``marshal`` reads the seal, the cold half of the gate or the cache: one
# flipped byte can make marshal allocate gigabytes (a huge tuple length) or crash the
# interpreter (a self-referencing tuple used as a dict key overflows the C stack on
# 3.10-3.13). Any one changed byte changes the remainder.
CHECK_PRIME = 1_073_741_789  # the largest prime below 2**30: one digit, a fast remainder
# A stamp or fingerprint counts only when its mtime is older than the moment it was
# recorded minus this margin (git's racily-clean rule; coarse file-system clocks tick every
# few milliseconds).
RACY_MARGIN_NS = 20_000_000

SEAL_KEYS = (
    "format",  # SEAL_FORMAT
    "cache_tag",  # sys.implementation.cache_tag the gate was compiled for
    "manifest_path",  # the installed manifest
    "manifest_stat",  # (size, mtime_ns, ino) of it when sealed
    "manifest_sha256",  # its digest (a copied state directory has new inodes)
    "state_dir_id",  # (st_dev, st_ino) of the state directory when sealed
    "manifest_version",
    "signers",  # display text
    "expires",  # seconds since the epoch
    "expires_text",
    "mode",  # "enforce" | "warn"
    "allow_env_override",  # PTHGUARD_MODE=warn counts only then
    "unlisted_distributions",  # "refuse" | "allow"
    "sealed_at_ns",  # time.time_ns() - RACY_MARGIN_NS when sealed
    "sites",  # tuple of site entries, see SITE_*
    "modules",  # {name: (path | None, bytes | None)}: sitecustomize, usercustomize
    "entry_modules",  # {dotted: {path: bytes}}: modules .start entry points name (3.15)
    "watchdog",  # path of pthguard's sitecustomize, or None
    "watchdog_source",  # its bytes, or None
    "sha256_module",  # (name, path) of an extension providing sha256, or None (builtin)
    "project",  # policy.project compiled, or None
    # policy.events compiled, or None: {"path": the file to append to | None, "syslog":
    # (socket path, facility code) | None, "socket_module": (name, path) of the _socket
    # extension to load by path | None (builtin, or no syslog), "prefix": the signed
    # environment's prefix (sys.prefix before site has set it, under the sealed launcher)}
    "events",
    "cold",  # (file name in the state directory, checksum) of the gate's cold half
    # the import guard's index, marshalled: {"dir": the tables' directory, "store": the
    # bytecode store, "sites": {site path: (site number, {first path component: table
    # number})}, "tables": (checksum of DIR/N.bin, ...)}; each table is {path relative to the
    # site: (sha256, fingerprint | None, bytecode fingerprint | None, bytecode sha256 | None:
    # no bytecode)}, digests as 32 raw bytes; the bytecode of REL.py is STORE/SITE
    # NUMBER/REL.CACHE_TAG.pyc
    "imports",
    # (DATA_NAME, checksum) of the seal's data file: what grows with the distributions and
    # only a start that checks them reads (a directory whose stamp moved): checksum +
    # marshal.dumps({"distributions": {site path: marshalled {metadata dir: (relative file |
    # None, sha256, fingerprint)}}, "dists": {site path: {metadata dir: (import table
    # number, ...)}}, "scripts": {site path: {metadata dir: ((script path, sha256,
    # fingerprint), ...)}}})
    "data",
    # what a wheel's .data/scripts and .data/data can rewrite before any Python code runs:
    # ((path, symlink target | None, bytes | None), ...) for pyvenv.cfg and bin/python*, and
    # the sys.base_prefix the interpreter had; compared at every start (a change is refused)
    "interpreter",
    # what the write guard keeps this environment's own processes from changing:
    # (directory, ...): the sealed site directories and the scripts directory, each also as
    # its real path when that differs
    "writes",
    # startup files signed tools write at run time (guard.runtime_pth): {site path: ((name
    # prefix, name suffix, exact bytes, tool), ...)}; allowed under prefix + digits + suffix
    "runtime_pth",
    # (executable, prefix) of the environment the manifest describes: a start whose
    # sys.prefix differs added this site directory to another environment (uv run --with)
    "environment",
    # 3.15 (PEP 829): {site path: {.pth name: (import line, ...)}}, the import lines site
    # records for each sealed UTF-8 .pth (as formats.pth models it), so that a warm start compares
    # them without decoding the file; empty before 3.15
    "pth_imports",
)

# A site entry: (path, role, {startup file name: bytes}, stamp, (st_dev, st_ino)); its
# distributions are in the data file (the "data" key).
SITE_PATH = 0
SITE_ROLE = 1
SITE_STARTUP = 2
SITE_STAMP = 3
SITE_ID = 4
DATA_NAME = "seal-data.bin"


def checksum(payload: bytes) -> bytes:
    """Four bytes: ``payload`` read as a little-endian integer, modulo :data:`CHECK_PRIME`."""
    return (int.from_bytes(payload, "little") % CHECK_PRIME).to_bytes(4, "little")


def dir_stamp(st: "StatResult") -> tuple[int, int, int]:
    """What changes when an entry of a directory is added, removed or renamed."""
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def file_fingerprint(st: "StatResult") -> tuple[int, int, int, int, int]:
    """What changes when a file is rewritten, replaced or touched."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import stat_result as StatResult
