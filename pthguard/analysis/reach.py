"""What startup code can reach: dotted names, credential paths and URLs it mentions.

Pure tables and pattern matching for :mod:`pthguard.analysis.decode`. A dotted name matches an entry
of :data:`REACH` when it is the entry or starts with the entry plus ``"."``; an entry that
ends in ``"*"`` matches every name that starts with the rest (``os.exec*``).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["REACH", "looks_encoded", "reach_of", "string_matches", "text_matches"]

#: capability -> dotted names that give it.
REACH: Final[dict[str, tuple[str, ...]]] = {
    "process": (
        "subprocess",
        "_posixsubprocess",
        "os.system",
        "os.popen*",
        "os.exec*",
        "os.spawn*",
        "os.posix_spawn*",
        "os.fork",
        "os.forkpty",
        "os.startfile",
        "posix.system",
        "nt.system",
        "pty",
        "commands",
        "popen2",
        "platform.popen",
        "asyncio.create_subprocess_exec",
        "asyncio.create_subprocess_shell",
        "asyncio.subprocess",
        "multiprocessing",
        "concurrent.futures.ProcessPoolExecutor",
    ),
    "network": (
        "socket",
        "_socket",
        "ssl",
        "socketserver",
        "urllib.request",
        "urllib.urlopen",
        "urllib.urlretrieve",
        "urllib2",
        "urllib3",
        "http.client",
        "http.server",
        "httplib",
        "requests",
        "httpx",
        "aiohttp",
        "ftplib",
        "smtplib",
        "poplib",
        "imaplib",
        "nntplib",
        "telnetlib",
        "xmlrpc",
        "xmlrpclib",
        "websocket",
        "websockets",
        "paramiko",
        "pycurl",
        "dns",
        "webbrowser",
        "asyncio.open_connection",
        "asyncio.open_unix_connection",
        "asyncio.start_server",
    ),
    "environment": (
        "os.environ",
        "os.environb",
        "os.getenv",
        "os.getenvb",
        "os.putenv",
        "os.unsetenv",
        "posix.environ",
        "nt.environ",
    ),
    "native-code": ("ctypes", "_ctypes", "cffi"),
    "deserialize": (
        "marshal.loads",
        "marshal.load",
        "pickle.loads",
        "pickle.load",
        "_pickle",
        "cPickle",
        "dill",
        "types.CodeType",
        "types.FunctionType",
    ),
    "import-hook": (
        "sys.meta_path",
        "sys.path_hooks",
        "sys.settrace",
        "sys.setprofile",
        "threading.settrace",
        "threading.setprofile",
        "sys.addaudithook",
    ),
    "file-write": (
        "os.remove",
        "os.unlink",
        "os.rename",
        "os.renames",
        "os.replace",
        "os.makedirs",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.symlink",
        "os.link",
        "os.truncate",
        "os.rmdir",
        "os.removedirs",
        "os.write",
        "shutil.copy*",
        "shutil.move",
        "shutil.rmtree",
        "shutil.chown",
    ),
}

_CREDENTIAL_PATTERNS: Final = tuple(
    (re.compile(pattern, re.IGNORECASE), label)
    for pattern, label in (
        (r"(?:^|[\\/~])\.aws(?:$|[\\/])|aws[\\/]credentials", "~/.aws"),
        (r"(?:^|[\\/~])\.ssh(?:$|[\\/])", "~/.ssh"),
        (r"\bid_(?:rsa|dsa|ecdsa|ed25519)\b", "ssh private key (id_*)"),
        (r"(?:^|[\\/])\.env(?:\.[\w.-]+)?$", ".env"),
        (r"(?:^|[\\/~])\.netrc\b", ".netrc"),
        (r"(?:^|[\\/~])\.pypirc\b", ".pypirc"),
        (r"(?:^|[\\/~])\.git-credentials\b", ".git-credentials"),
        (r"(?:^|[\\/~])\.npmrc\b", ".npmrc"),
        (r"\.docker[\\/]config\.json", ".docker/config.json"),
        (r"\.kube[\\/]config", ".kube/config"),
        (r"gcloud|application_default_credentials", "gcloud credentials"),
        (
            r"(?:^|[\\/~])\.azure(?:$|[\\/])|azureProfile\.json|msal_token_cache",
            "azure credentials",
        ),
        (r"^/etc/shadow$", "/etc/shadow"),
    )
)
_URL_RE: Final = re.compile(r"\b(?:https?|ftp|wss?)://[^\s'\"\\]+", re.IGNORECASE)
#: Long literals that look encoded (base64/hex alphabets) and that nothing here decoded.
_OPAQUE_MIN: Final = 256
_OPAQUE_RE: Final = re.compile(r"[A-Za-z0-9+/=_\-\s]+")
#: Words that show a capability when a layer can only be read as text.
_TEXT_WORDS: Final[dict[str, re.Pattern[str]]] = {
    "process": re.compile(r"\b(?:subprocess|os\.system|os\.popen|os\.exec\w*|pty\.spawn)\b"),
    "network": re.compile(
        r"\b(?:socket|urllib\.request|urlopen|urllib2|urllib3|http\.client|requests\.\w+|"
        r"httpx|aiohttp)\b"
    ),
    "environment": re.compile(r"\b(?:os\.environ|os\.getenv|environ\.get)\b"),
    "native-code": re.compile(r"\bctypes\b"),
    "deserialize": re.compile(r"\b(?:marshal\.loads?|pickle\.loads?)\b"),
}


def _matches(name: str, entry: str) -> bool:
    if entry.endswith("*"):
        return name.startswith(entry[:-1])
    return name == entry or name.startswith(entry + ".")


def reach_of(name: str) -> str | None:
    """The capability a dotted name gives (``"network"`` for ``urllib.request.urlopen``)."""
    for category, entries in REACH.items():
        if any(_matches(name, entry) for entry in entries):
            return category
    return None


def string_matches(text: str) -> list[tuple[str, str]]:
    """``("credentials", what)`` and ``("url", url)`` for a string value."""
    found = [
        ("credentials", label) for pattern, label in _CREDENTIAL_PATTERNS if pattern.search(text)
    ]
    found += [("url", match.group(0)[:200]) for match in _URL_RE.finditer(text)]
    return found


def text_matches(text: str) -> list[tuple[str, str]]:
    """``(capability, word)`` found in text that cannot be parsed as Python, and the
    :func:`string_matches` of each of its lines."""
    found = [
        (kind, match.group(0))
        for kind, pattern in _TEXT_WORDS.items()
        for match in pattern.finditer(text)
    ]
    for line in text.splitlines() or [text]:
        found += string_matches(line.strip().strip("'\""))
    return found


def looks_encoded(text: str) -> bool:
    """A long run of base64/hex-alphabet characters, nearly without whitespace."""
    if len(text) < _OPAQUE_MIN or not _OPAQUE_RE.fullmatch(text):
        return False
    return sum(ch.isspace() for ch in text) * 20 < len(text)
