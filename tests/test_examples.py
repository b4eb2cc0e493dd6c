"""The integration examples in ``examples/``, executed or checked as far as this machine allows.

* ``image-build.sh`` (the steps of ``examples/Dockerfile``) runs for real against a temporary
  directory standing in for the image root: venv, hash-pinned install of a tiny local wheel,
  audit, snapshot, sign (a key as the build secret, or an external detached signature),
  install, lockdown (root-owned, read-only), and a guarded start as ``nobody`` via
  ``setpriv``. The interpreter must be one ``nobody`` can run: pyenv's live under ``/root``
  (mode 0700), and a ``--copies`` venv would still load its standard library from there, so
  the host's Debian ``/usr/bin/python3.X`` is used (skipped when there is none). The image is
  then "pulled" (every file copied: new inodes) and must still start; a ``.pth`` dropped
  into it must be refused before its code runs.
* ``Dockerfile`` (no Docker engine here): its stages, the secret mount, the non-root final
  stage, and that it runs only steps the script has.
* ``github-actions.yml``: loaded with a small YAML-subset reader (no YAML library in the dev
  lock); its structure, and every ``pthguard`` command line in it parses with the CLI's own
  parser.
* ``.pre-commit-hooks.yaml`` (= ``examples/pre-commit-hooks.yaml``): the hook's ``entry``
  runs on the files its ``files`` pattern selects in this repository, our own lock files.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pthguard.cli.app import build_parser
from tests.support.interpreters import host_env
from tests.support.wheels import build_wheel, litellm_like_pth

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
BIN = Path(sys.executable).parent
PTHGUARD = BIN / "pthguard"
EXIT_REFUSED = 78


# -- a YAML subset: block maps and lists, block scalars (|), flow lists, quoted scalars --------


def _lines(text: str) -> list[tuple[int, str, int]]:
    """(indentation, text, line index) of each line that is not blank or a comment."""
    out = []
    for index, raw in enumerate(text.splitlines()):
        assert "\t" not in raw, f"tab in YAML: {raw!r}"
        if raw.strip() and not raw.lstrip().startswith("#"):
            out.append((len(raw) - len(raw.lstrip(" ")), raw.strip(), index))
    return out


def _scalar(text: str) -> Any:
    if text.startswith("[") and text.endswith("]"):
        return [_scalar(p.strip()) for p in text[1:-1].split(",") if p.strip()]
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def load_yaml(text: str) -> Any:
    """Enough YAML for our examples; raises AssertionError on anything else."""
    raw_lines = text.splitlines()
    lines = _lines(text)
    pos = 0

    def block_scalar(indent: int) -> str:
        nonlocal pos
        # the scalar's lines are the raw ones (comments inside it are content)
        start = lines[pos - 1][2]
        body = []
        for raw in raw_lines[start + 1 :]:
            if raw.strip() and len(raw) - len(raw.lstrip(" ")) <= indent:
                break
            body.append(raw)
        while pos < len(lines) and lines[pos][0] > indent:
            pos += 1
        strip = min(len(r) - len(r.lstrip(" ")) for r in body if r.strip())
        return "\n".join(r[strip:] for r in body).rstrip("\n") + "\n"

    def value(rest: str, indent: int) -> Any:
        if rest in ("|", "|-", ">"):
            return block_scalar(indent)
        if rest:
            return _scalar(rest)
        if pos < len(lines) and lines[pos][0] > indent:
            return node(lines[pos][0])
        if pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
            return node(indent)  # a list at the same indentation as its key
        return None

    def mapping(indent: int, first: str | None = None) -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        while first is not None or (pos < len(lines) and lines[pos][0] == indent):
            if first is None:
                text = lines[pos][1]
                if text.startswith("- "):
                    break
                pos += 1
            else:
                text, first = first, None
            key, sep, rest = text.partition(":")
            assert sep, f"not a mapping entry: {text!r}"
            assert not rest or rest.startswith(" "), f"not a mapping entry: {text!r}"
            key = _scalar(key.strip())
            assert key not in out, f"duplicate key {key!r}"
            out[key] = value(rest.strip(), indent)
        return out

    def sequence(indent: int) -> list[Any]:
        nonlocal pos
        out: list[Any] = []
        while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
            item = lines[pos][1][2:].strip()
            pos += 1
            if ":" in item and not item.startswith(("'", '"')):
                out.append(mapping(indent + 2, first=item))
            else:
                out.append(_scalar(item))
        return out

    def node(indent: int) -> Any:
        if lines[pos][1].startswith("- "):
            return sequence(indent)
        return mapping(indent)

    doc = node(0)
    assert pos == len(lines), f"unparsed YAML from {lines[pos]}"
    return doc


def test_yaml_subset_reader() -> None:
    doc = load_yaml(
        "a: 1\nb:\n  - x\n  - k: 'v'\n    m: [p, q]\nc: |\n  line 1\n  # not a comment\nd:\n- y\n"
    )
    assert doc == {
        "a": "1",
        "b": ["x", {"k": "v", "m": ["p", "q"]}],
        "c": "line 1\n# not a comment\n",
        "d": ["y"],
    }


# -- shell command lines ---------------------------------------------------------------------

_GITHUB_EXPR = re.compile(r"\$\{\{[^}]*\}\}")


#: Shell variables whose value must look like one (``--version "$GITHUB_RUN_NUMBER"``).
_SAMPLE_VALUES = {"GITHUB_RUN_NUMBER": "42"}


def _sample(match: re.Match[str]) -> str:
    return _SAMPLE_VALUES.get(match.group(1), match.group(0))


def pthguard_commands(script: str) -> Iterator[list[str]]:
    """Every ``pthguard ...`` command of a shell script, as argv (variables left as text)."""
    joined = re.sub(r"\\\n\s*", " ", script)
    for raw in joined.splitlines():
        line = _GITHUB_EXPR.sub("EXPR", raw.strip())
        line = re.sub(r"\$\{?(\w+)\}?", _sample, line)
        if line.startswith("#"):
            continue
        for segment in re.split(r"&&|\|\||;|\|", line):
            if not segment.strip().startswith(("pthguard ", "$PTHGUARD ")):
                continue
            words = shlex.split(segment, comments=True)
            cut = next(
                (i for i, w in enumerate(words) if w.startswith((">", "2>", "<"))), len(words)
            )
            words = words[:cut]
            if words and (words[0] == "pthguard" or words[0] == "$PTHGUARD"):
                yield words


def parses(argv: list[str]) -> str:
    args = build_parser().parse_args(argv[1:])
    return str(args.command)


# -- GitHub Actions ----------------------------------------------------------------------------


def test_github_actions_workflow() -> None:
    doc = load_yaml((EXAMPLES / "github-actions.yml").read_text())
    assert set(doc) == {"name", "on", "permissions", "env", "jobs"}
    assert doc["on"]["push"] == {"branches": ["main"]}
    assert doc["permissions"] == {"contents": "read"}
    assert set(doc["jobs"]) == {"manifest", "test"}
    test = doc["jobs"]["test"]
    assert test["needs"] == ["manifest"]
    assert test["permissions"]["security-events"] == "write"
    uses = [s["uses"] for job in doc["jobs"].values() for s in job["steps"] if "uses" in s]
    assert all(re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", u) for u in uses), uses
    sarif = [s for s in test["steps"] if s.get("uses", "").startswith("github/codeql-action/")]
    assert [s["uses"] for s in sarif] == ["github/codeql-action/upload-sarif@v3"]
    assert sarif[0]["with"]["sarif_file"] == "pthguard.sarif"
    scan = next(s for s in test["steps"] if s.get("id") == "scan")
    assert "--format sarif > pthguard.sarif" in scan["run"]
    commands: dict[str, list[list[str]]] = {}
    for job in doc["jobs"].values():
        for step in job["steps"]:
            for argv in pthguard_commands(step.get("run", "")):
                commands.setdefault(parses(argv), []).append(argv)
    assert set(commands) == {"audit-lock", "snapshot", "sign", "install", "verify", "scan"}
    (snapshot,) = commands["snapshot"]
    assert snapshot[snapshot.index("--project") + 1] == "myproj"
    assert commands["verify"][0][-2:] == ["--format", "json"]
    # the trusted job signs; the test job never sees the key
    test_runs = "\n".join(s.get("run", "") + str(s.get("env", "")) for s in test["steps"])
    assert "sign" not in commands_in(test_runs)
    assert "secrets." not in test_runs


def commands_in(script: str) -> set[str]:
    return {parses(argv) for argv in pthguard_commands(script)}


def test_command_extraction() -> None:
    script = (
        "a && pthguard verify --format json > out.json\n"
        "pthguard snapshot --python x \\\n  -o m.json --project p\n"
        "# pthguard nonsense\n"
        "$PTHGUARD sign m.json --key ${{ secrets.K }} || true\n"
    )
    assert list(pthguard_commands(script)) == [
        ["pthguard", "verify", "--format", "json"],
        ["pthguard", "snapshot", "--python", "x", "-o", "m.json", "--project", "p"],
        ["$PTHGUARD", "sign", "m.json", "--key", "EXPR"],
    ]


# -- pre-commit --------------------------------------------------------------------------------


def _repo_files() -> list[str]:
    """The repository's files as ``git ls-files`` would list them (without running git)."""
    skip = {"__pycache__", "node_modules"}
    out = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in skip]
        rel = Path(root).relative_to(REPO)
        if rel.parts[:2] == ("tests", ".cache") or rel.parts[:1] == ("build",):
            continue
        out += [(rel / f).as_posix() for f in files]
    return sorted(out)


def test_pre_commit_hook_on_our_own_locks(tmp_path: Path) -> None:
    text = (REPO / ".pre-commit-hooks.yaml").read_text()
    assert text == (EXAMPLES / "pre-commit-hooks.yaml").read_text()
    (hook,) = load_yaml(text)
    assert hook["id"] == "pthguard-audit-lock"
    assert hook["entry"] == "pthguard audit-lock"
    assert hook["files"] == r"requirements.*\.(txt|lock)$|pylock\.toml$"
    assert hook["language"] == "python"
    selected = [f for f in _repo_files() if re.search(hook["files"], f)]
    assert {"requirements/dev.lock", "requirements/runtime.lock"} <= set(selected)
    assert not [f for f in selected if f.endswith(".in")]
    env = host_env({"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"})
    entry = shlex.split(hook["entry"])
    proc = subprocess.run(
        [*entry, *selected], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stdout + proc.stderr
    assert [line.rpartition(": ")[2] for line in proc.stdout.splitlines()] == ["ok"] * len(selected)
    assert any(line.startswith("requirements/dev.lock: ") for line in proc.stdout.splitlines())
    # and what the hook is for: a loose pin in a staged lock fails the commit
    loose = tmp_path / "requirements-dev.txt"
    loose.write_text("requests>=2\n")
    assert re.search(hook["files"], loose.name)
    assert not re.search(hook["files"], "requirements/dev.in")
    proc = subprocess.run(
        [*entry, loose], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert "requests: not an exact pin (>=2)" in proc.stdout


# -- Dockerfile --------------------------------------------------------------------------------


def _script_steps() -> set[str]:
    text = (EXAMPLES / "image-build.sh").read_text()
    return set(re.findall(r"^  ([a-z]+)\)$", text, re.MULTILINE))


def test_dockerfile() -> None:
    text = (EXAMPLES / "Dockerfile").read_text()
    instructions = [
        line
        for line in re.sub(r"\\\n", " ", text).splitlines()
        if line.strip() and not line.startswith("#")
    ]
    stages = [line.split() for line in instructions if line.startswith("FROM ")]
    assert stages == [
        ["FROM", "${PYTHON_IMAGE}", "AS", "build"],
        ["FROM", "scratch", "AS", "manifest"],
        ["FROM", "build", "AS", "guarded"],
        ["FROM", "${PYTHON_IMAGE}"],
    ]
    final = instructions[instructions.index("FROM ${PYTHON_IMAGE}") :]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users == ["app"]  # the final stage runs as a non-root user
    assert "COPY --from=guarded /opt/app /opt/app" in final
    assert not any("pthguard" in line and "COPY" in line for line in final)  # no tool in it
    runs = [line for line in instructions if line.startswith("RUN ")]
    secret = [line for line in runs if "--mount=type=secret,id=pthguard_key" in line]
    assert len(secret) == 1
    assert "PTHGUARD_SIGNATURE" in secret[0]  # or an external signature
    assert "--require-hashes" in "\n".join(runs)
    steps = [set(m.split()) for m in re.findall(r'STEPS="([^"]*)" sh image-build.sh', text)]
    assert steps == [{"venv", "deps", "snapshot"}, {"sign", "guard", "lockdown"}]
    assert set().union(*steps) <= _script_steps()
    # the commands the comments show are real pthguard command lines
    shown = [
        re.sub(r"^\w+:\s+", "", line.lstrip("# "))  # "# sign:     pthguard sign ..."
        for line in text.splitlines()
        if line.startswith("#")
    ]
    commands = list(pthguard_commands("\n".join(shown)))
    assert {parses(argv) for argv in commands} >= {"sign", "sign-payload", "install", "attach"}


def test_image_build_script_commands_parse() -> None:
    text = (EXAMPLES / "image-build.sh").read_text()
    commands = {parses(argv) for argv in pthguard_commands(text)}
    assert commands == {"audit-lock", "snapshot", "sign", "attach", "install"}
    assert _script_steps() == {"venv", "deps", "snapshot", "sign", "guard", "lockdown", "smoke"}


# -- image-build.sh, for real ------------------------------------------------------------------


def _as_nobody(*argv: str | Path, env: dict[str, str] | None = None) -> list[str]:
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", *map(str, argv)]


def _world_python() -> str:
    """A CPython >= 3.10 that ``nobody`` can run, with venv: the host's Debian one."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop to nobody")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    for candidate in sorted(glob.glob("/usr/bin/python3.1[0-9]")):
        proc = subprocess.run(
            _as_nobody(candidate, "-c", "import sys, venv; assert sys.version_info >= (3, 10)"),
            capture_output=True,
            cwd="/",
            check=False,
        )
        if proc.returncode == 0:
            return candidate
    pytest.skip("no /usr/bin/python3.1X that nobody can run (pyenv's live under /root)")


class Image:
    """A temporary directory standing in for the image root (nobody can traverse it)."""

    def __init__(self, python: str, extra: dict[str, bytes] | None = None) -> None:
        self.python = python
        self.root = Path(tempfile.mkdtemp(prefix="pthguard-image-", dir="/tmp"))
        self.root.chmod(0o755)
        self.work = Path(tempfile.mkdtemp(prefix="pthguard-image-work-", dir="/tmp"))
        self.app = self.root / "opt" / "app"
        self.venv = self.app / "venv"
        self.wheels = self.work / "wheels"
        wheel = build_wheel(
            self.wheels,
            "tinyapp",
            "1.0",
            {"tinyapp/__init__.py": b"def main():\n    print('tinyapp ok')\n", **(extra or {})},
        )
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        self.requirements = self.work / "requirements.txt"
        self.requirements.write_text(f"tinyapp==1.0 \\\n    --hash=sha256:{digest}\n")
        self.key = self.work / "release.key"
        self.pub = self.work / "release.pub"
        (self.work / "pass").write_text("correct horse\n")
        subprocess.run(
            [
                PTHGUARD,
                "keygen",
                "--private-key",
                self.key,
                "--public-key",
                self.pub,
                "--passphrase-file",
                self.work / "pass",
            ],
            check=True,
            capture_output=True,
            env=host_env(),
        )

    def site_packages(self) -> Path:
        (found,) = self.venv.glob("lib/python3.*/site-packages")
        return found

    def build(self, steps: str, **extra: str) -> subprocess.CompletedProcess[str]:
        env = host_env(
            {
                "IMAGE_ROOT": str(self.root),
                "PYTHON": self.python,
                "PIP": f"{sys.executable} -m pip",
                "PIP_CONFIG_FILE": os.devnull,  # this machine's pip.conf adds find-links
                "PTHGUARD": str(PTHGUARD),
                "REQUIREMENTS": str(self.requirements),
                "PIP_OPTIONS": f"--no-index --find-links {self.wheels}",
                "SIGNING_KEY": str(self.key),
                "PTHGUARD_PASSPHRASE": "correct horse",  # as the passphrase secret gives it
                "PUBLIC_KEY": str(self.pub),
                "RUNTIME_USER": "nobody",
                "RUNTIME_GROUP": "nogroup",
                "SMOKE": "import tinyapp; tinyapp.main()",
                "STEPS": steps,
                **extra,
            }
        )
        return subprocess.run(
            ["sh", EXAMPLES / "image-build.sh"],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def start(self, launcher: str = "python", *args: str) -> subprocess.CompletedProcess[str]:
        """The image's entry point, as the runtime user (HOME unwritable: no cache)."""
        if launcher == "python-guarded":  # the guard step's stable link, outside the venv
            path = self.app / "python-guarded"
        else:
            path = self.venv / "bin" / launcher
        return subprocess.run(
            _as_nobody(path, *args),
            cwd="/",
            env=host_env({"HOME": "/nonexistent"}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def pull(self) -> None:
        """What a registry round trip (or COPY --from) does: the same files, new inodes."""
        copy = self.app.with_name("app.pulled")
        subprocess.run(["cp", "-a", self.app, copy], check=True)
        shutil.rmtree(self.app)
        copy.rename(self.app)

    def remove(self) -> None:
        for path in (self.root, self.work):
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def image() -> Iterator[Image]:
    made = Image(_world_python())
    try:
        yield made
    finally:
        made.remove()


ALL_STEPS = "venv deps snapshot sign guard lockdown smoke"


@pytest.mark.slow
def test_image_build_for_real(image: Image) -> None:
    proc = image.build(ALL_STEPS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.endswith("tinyapp ok\n"), proc.stdout  # the smoke step, as nobody
    assert f"{image.requirements}: 1 package(s), compared with" in proc.stdout
    site = image.site_packages()
    # root-owned and read-only: the runtime user cannot add a .pth
    for path in [site, *site.rglob("*")]:
        info = path.lstat()
        assert info.st_uid == 0, path
        assert not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), path
    write = image.start("python", "-c", f"open({str(site / 'x.pth')!r}, 'w')")
    assert write.returncode == 1
    assert "PermissionError" in write.stderr
    assert not any(site.glob("*.pth")) or [p.name for p in site.glob("*.pth")] == [
        p.name for p in site.glob("!!pthguard-*.pth")
    ]
    # the image is pushed and pulled (new inodes): it still starts, both ways
    image.pull()
    for launcher in ("python", "python-guarded"):
        proc = image.start(launcher, "-c", "import tinyapp; tinyapp.main()")
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "tinyapp ok\n", ""), launcher
    # a later layer drops a .pth: refused before its code runs, for every start
    marker_dir = Path(tempfile.mkdtemp(prefix="pthguard-marker-", dir="/tmp"))
    try:
        marker_dir.chmod(0o777)  # it could write here, had it run
        marker = marker_dir / "ran"
        (site / "zz-dropped.pth").write_text(f"import os; open({str(marker)!r}, 'w')\n")
        for launcher in ("python", "python-guarded"):
            proc = image.start(launcher, "-c", "import tinyapp; tinyapp.main()")
            assert proc.returncode == EXIT_REFUSED, proc.stderr
            assert proc.stdout == ""
            assert proc.stderr.startswith("pthguard: refusing to start")
            assert "unlisted startup file" in proc.stderr
            assert "zz-dropped.pth" in proc.stderr
            assert "NOT executed" in proc.stderr
        assert not marker.exists()
    finally:
        shutil.rmtree(marker_dir)


@pytest.mark.slow
def test_image_build_fails_on_unapproved_startup_code() -> None:
    """A dependency that brings a litellm-shaped stealer fails the build at the snapshot step,
    with the review; nothing is signed or installed. With the hash in a reviewed approvals
    file the same build succeeds."""
    marker = Path(tempfile.mkdtemp(prefix="pthguard-marker-", dir="/tmp")) / "ran"
    stealer = litellm_like_pth(str(marker))
    image = Image(_world_python(), {"tinyapp_init.pth": stealer})
    try:
        proc = image.build(ALL_STEPS)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        digest = hashlib.sha256(stealer).hexdigest()
        assert (
            "pthguard: refusing to sign: 1 startup file needs an explicit approval" in proc.stdout
        )
        assert f"--approve sha256:{digest}" in proc.stdout
        assert "decoded payload" in proc.stdout
        assert not (image.app / "pthguard-manifest.json").exists()
        assert not any(image.site_packages().glob("!!pthguard-*.pth"))
        approvals = image.work / "pthguard-approvals.txt"
        approvals.write_text(f"sha256:{digest} tinyapp_init.pth  # reviewed: test fixture\n")
        shutil.rmtree(image.app)
        proc = image.build("venv deps snapshot sign guard", APPROVALS=str(approvals))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        signed = json.loads((image.app / "pthguard-manifest.json").read_bytes())["signed"]
        assert [(a["sha256"], a["reason"]) for a in signed["approvals"]] == [
            (digest, "reviewed: test fixture")
        ]
    finally:
        image.remove()
        shutil.rmtree(marker.parent, ignore_errors=True)


@pytest.mark.slow
def test_image_build_with_an_external_signature(image: Image) -> None:
    # the `manifest` stage: built and described, nothing signed
    proc = image.build("venv deps snapshot")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = image.app / "pthguard-manifest.json"
    payload, signature = image.work / "manifest.payload", image.work / "manifest.sig"
    # offline: only the payload travels to the signer, only the signature comes back
    offline: list[list[str | Path]] = [
        ["sign", "--detached", manifest, "-o", payload],
        [
            "sign-payload",
            payload,
            "--key",
            image.key,
            "-o",
            signature,
            "--passphrase-file",
            image.work / "pass",
        ],
    ]
    for argv in offline:
        subprocess.run([PTHGUARD, *argv], check=True, capture_output=True, env=host_env())
    # the final build attaches it; no key in this build at all
    proc = image.build(
        "sign guard lockdown smoke", SIGNATURE=str(signature), SIGNING_KEY="/nonexistent"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "attached 1 signature(s)" in proc.stdout
    assert proc.stdout.endswith("tinyapp ok\n")
