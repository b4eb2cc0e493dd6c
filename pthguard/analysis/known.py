# ruff: noqa: E501
"""Startup files known to be legitimate, by exact content. GENERATED: do not edit.

Regenerate with ``scripts/refresh-known-pth`` (it downloads the wheels listed there from
PyPI and reads each file, or the literal a tool writes, out of them); review the diff.
Nothing here is matched by file name: ``KNOWN_FILES`` by the sha256 of the exact bytes,
the two template tables by regenerating the exact line for the name found in it
(see :mod:`pthguard.analysis.legit`).
"""

from __future__ import annotations

from typing import Final

#: sha256 of a file's exact bytes -> what it is and where it was taken from.
KNOWN_FILES: Final[dict[str, str]] = {
    "f1701c42efb4c8e791fbb314ed0843c7f83744e70167d2475e752889b7862d8b": "setuptools distutils-precedence.pth (setuptools 49.6.0)",
    "7ea7ffef3fe2a117ee12c68ed6553617f0d7fd2f0590257c25c484959a3b7373": "setuptools distutils-precedence.pth (setuptools 57.5.0)",
    "2638ce9e2500e572a5e0de7faed6661eb569d1b696fcba07b0dd223da5f5d224": "setuptools distutils-precedence.pth (setuptools 60.0.0, 65.5.1, 68.2.2, 69.5.1, 70.3.0, 75.8.0, 80.9.0, 84.2.1)",
    "69ac3d8f27e679c81b94ab30b3b56e9cd138219b1ba94a1fa3606d5a76a1433d": "virtualenv _virtualenv.pth (virtualenv 20.16.7, 20.26.6, 21.15.7; written into the environments it creates)",
    "320272733976834259547e559d769d87e2c1c7ead17c90446376800e79f2aeb4": "coverage a1_coverage.pth (coverage 7.13.0)",
    "ef2ed06d19867ec669c09a804060666a9cd5e383af0a9d11aa2de79b77d448e8": "coverage a1_coverage.pth (coverage 7.14.0, 7.17.3)",
    "95d25e150fb11aab7bc8dc6510d6d000ede87d2e2dd0a273b4f621ab17976201": "coverage subcover.pth (coverage 7.10.0; written at run time with [run] patch = subprocess)",
    "792a25dd7d851a34dbdf9c67504a0afa998bdf526e675e3ecb58b2203ce2d345": "coverage subcover_<pid>.pth (coverage 7.10.7, 7.11.0, 7.12.0; written at run time with [run] patch = subprocess)",
    "b8e1b828090bfec4b25656d04cd0948d3e70221ea8281ac0e12569eef48ae2a6": "pytest-cov pytest-cov.pth (pytest-cov 2.12.1, 3.0.0)",
    "f47446a60fdf5905e84e7d7c892baf92f8d5a3226d0da1599b9c014eab6c7ddb": "pytest-cov pytest-cov.pth (pytest-cov 4.0.0, 4.1.0, 5.0.0, 6.0.0, 6.3.0)",
    "4f67ff92af0ea38bf18ac308efd976f781d84e56f579c603ed1e8f0c69a17f8d": "pywin32 pywin32.pth (pywin32 306)",
    "d902584a2a0a5216ce12c712d1378fe07541d32c383d0cc5abcd68412144fe4d": "pywin32 pywin32.pth (pywin32 308, 311)",
}

#: Provenance of every entry: (package, version, file name, sha256).
PROVENANCE: Final[tuple[tuple[str, str, str, str], ...]] = (
    (
        "setuptools",
        "49.6.0",
        "distutils-precedence.pth",
        "f1701c42efb4c8e791fbb314ed0843c7f83744e70167d2475e752889b7862d8b",
    ),
    (
        "setuptools",
        "57.5.0",
        "distutils-precedence.pth",
        "7ea7ffef3fe2a117ee12c68ed6553617f0d7fd2f0590257c25c484959a3b7373",
    ),
    (
        "setuptools",
        "60.0.0",
        "distutils-precedence.pth",
        "2638ce9e2500e572a5e0de7faed6661eb569d1b696fcba07b0dd223da5f5d224",
    ),
    (
        "setuptools",
        "65.5.1",
        "distutils-precedence.pth",
        "2638ce9e2500e572a5e0de7faed6661eb569d1b696fcba07b0dd223da5f5d224",
    ),
    (
        "setuptools",
        "68.2.2",
        "distutils-precedence.pth",
        "2638ce9e2500e572a5e0de7faed6661eb569d1b696fcba07b0dd223da5f5d224",
    ),
    (
        "setuptools",
        "69.5.1",
        "distutils-precedence.pth",
        "2638ce9e2500e572a5e0de7faed6661eb569d1b696fcba07b0dd223da5f5d224",
    ),
    (
        "setuptools",
        "70.3.0",
        "distutils-precedence.pth",
        "2638ce9e2500e572a5e0de7faed6661eb569d1b696fcba07b0dd223da5f5d224",
    ),
    (
        "setuptools",
        "75.8.0",
        "distutils-precedence.pth",
        "2638ce9e2500e572a5e0de7faed6661eb569d1b696fcba07b0dd223da5f5d224",
    ),
    (
        "setuptools",
        "80.9.0",
        "distutils-precedence.pth",
        "2638ce9e2500e572a5e0de7faed6661eb569d1b696fcba07b0dd223da5f5d224",
    ),
    (
        "setuptools",
        "84.2.1",
        "distutils-precedence.pth",
        "2638ce9e2500e572a5e0de7faed6661eb569d1b696fcba07b0dd223da5f5d224",
    ),
    (
        "virtualenv",
        "20.16.7",
        "_virtualenv.pth",
        "69ac3d8f27e679c81b94ab30b3b56e9cd138219b1ba94a1fa3606d5a76a1433d",
    ),
    (
        "virtualenv",
        "20.26.6",
        "_virtualenv.pth",
        "69ac3d8f27e679c81b94ab30b3b56e9cd138219b1ba94a1fa3606d5a76a1433d",
    ),
    (
        "virtualenv",
        "21.15.7",
        "_virtualenv.pth",
        "69ac3d8f27e679c81b94ab30b3b56e9cd138219b1ba94a1fa3606d5a76a1433d",
    ),
    (
        "coverage",
        "7.13.0",
        "a1_coverage.pth",
        "320272733976834259547e559d769d87e2c1c7ead17c90446376800e79f2aeb4",
    ),
    (
        "coverage",
        "7.14.0",
        "a1_coverage.pth",
        "ef2ed06d19867ec669c09a804060666a9cd5e383af0a9d11aa2de79b77d448e8",
    ),
    (
        "coverage",
        "7.17.3",
        "a1_coverage.pth",
        "ef2ed06d19867ec669c09a804060666a9cd5e383af0a9d11aa2de79b77d448e8",
    ),
    (
        "coverage",
        "7.10.0",
        "subcover.pth",
        "95d25e150fb11aab7bc8dc6510d6d000ede87d2e2dd0a273b4f621ab17976201",
    ),
    (
        "coverage",
        "7.10.7",
        "subcover_<pid>.pth",
        "792a25dd7d851a34dbdf9c67504a0afa998bdf526e675e3ecb58b2203ce2d345",
    ),
    (
        "coverage",
        "7.11.0",
        "subcover_<pid>.pth",
        "792a25dd7d851a34dbdf9c67504a0afa998bdf526e675e3ecb58b2203ce2d345",
    ),
    (
        "coverage",
        "7.12.0",
        "subcover_<pid>.pth",
        "792a25dd7d851a34dbdf9c67504a0afa998bdf526e675e3ecb58b2203ce2d345",
    ),
    (
        "pytest-cov",
        "2.12.1",
        "pytest-cov.pth",
        "b8e1b828090bfec4b25656d04cd0948d3e70221ea8281ac0e12569eef48ae2a6",
    ),
    (
        "pytest-cov",
        "3.0.0",
        "pytest-cov.pth",
        "b8e1b828090bfec4b25656d04cd0948d3e70221ea8281ac0e12569eef48ae2a6",
    ),
    (
        "pytest-cov",
        "4.0.0",
        "pytest-cov.pth",
        "f47446a60fdf5905e84e7d7c892baf92f8d5a3226d0da1599b9c014eab6c7ddb",
    ),
    (
        "pytest-cov",
        "4.1.0",
        "pytest-cov.pth",
        "f47446a60fdf5905e84e7d7c892baf92f8d5a3226d0da1599b9c014eab6c7ddb",
    ),
    (
        "pytest-cov",
        "5.0.0",
        "pytest-cov.pth",
        "f47446a60fdf5905e84e7d7c892baf92f8d5a3226d0da1599b9c014eab6c7ddb",
    ),
    (
        "pytest-cov",
        "6.0.0",
        "pytest-cov.pth",
        "f47446a60fdf5905e84e7d7c892baf92f8d5a3226d0da1599b9c014eab6c7ddb",
    ),
    (
        "pytest-cov",
        "6.3.0",
        "pytest-cov.pth",
        "f47446a60fdf5905e84e7d7c892baf92f8d5a3226d0da1599b9c014eab6c7ddb",
    ),
    (
        "pywin32",
        "306",
        "pywin32.pth",
        "4f67ff92af0ea38bf18ac308efd976f781d84e56f579c603ed1e8f0c69a17f8d",
    ),
    (
        "pywin32",
        "308",
        "pywin32.pth",
        "d902584a2a0a5216ce12c712d1378fe07541d32c383d0cc5abcd68412144fe4d",
    ),
    (
        "pywin32",
        "311",
        "pywin32.pth",
        "d902584a2a0a5216ce12c712d1378fe07541d32c383d0cc5abcd68412144fe4d",
    ),
)

#: setuptools ``-nspkg.pth`` line templates, one per variant: (root expression, the
#: ``Installer._nspkg_tmpl`` parts, "|", the ``_nspkg_tmpl_multi`` parts) and the
#: setuptools versions it was read from. A line is ``';'.join(parts) % vars + '\n'``.
NSPKG_TEMPLATES: Final[tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = (
    (
        (
            "sys._getframe(1).f_locals['sitedir']",
            "import sys, types, os",
            "pep420 = sys.version_info > (3, 3)",
            "p = os.path.join(%(root)s, *%(pth)r)",
            "ie = os.path.exists(os.path.join(p,'__init__.py'))",
            "m = not ie and not pep420 and sys.modules.setdefault(%(pkg)r, types.ModuleType(%(pkg)r))",
            "mp = (m or []) and m.__dict__.setdefault('__path__',[])",
            "(p not in mp) and mp.append(p)",
            "|",
            "m and setattr(sys.modules[%(parent)r], %(child)r, m)",
        ),
        ("28.8.0",),
    ),
    (
        (
            "sys._getframe(1).f_locals['sitedir']",
            "import sys, types, os",
            "has_mfs = sys.version_info > (3, 5)",
            "p = os.path.join(%(root)s, *%(pth)r)",
            "importlib = has_mfs and __import__('importlib.util')",
            "has_mfs and __import__('importlib.machinery')",
            "m = has_mfs and sys.modules.setdefault(%(pkg)r, importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec(%(pkg)r, [os.path.dirname(p)])))",
            "m = m or not has_mfs and sys.modules.setdefault(%(pkg)r, types.ModuleType(%(pkg)r))",
            "mp = (m or []) and m.__dict__.setdefault('__path__',[])",
            "(p not in mp) and mp.append(p)",
            "|",
            "m and setattr(sys.modules[%(parent)r], %(child)r, m)",
        ),
        ("31.0.0",),
    ),
    (
        (
            "sys._getframe(1).f_locals['sitedir']",
            "import sys, types, os",
            "has_mfs = sys.version_info > (3, 5)",
            "p = os.path.join(%(root)s, *%(pth)r)",
            "importlib = has_mfs and __import__('importlib.util')",
            "has_mfs and __import__('importlib.machinery')",
            "m = has_mfs and sys.modules.setdefault(%(pkg)r, importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec(%(pkg)r, [os.path.dirname(p)])))",
            "m = m or sys.modules.setdefault(%(pkg)r, types.ModuleType(%(pkg)r))",
            "mp = (m or []) and m.__dict__.setdefault('__path__',[])",
            "(p not in mp) and mp.append(p)",
            "|",
            "m and setattr(sys.modules[%(parent)r], %(child)r, m)",
        ),
        ("39.2.0", "68.2.2"),
    ),
    (
        (
            "sys._getframe(1).f_locals['sitedir']",
            "import sys, types, os",
            "p = os.path.join(%(root)s, *%(pth)r)",
            "importlib = __import__('importlib.util')",
            "__import__('importlib.machinery')",
            "m = sys.modules.setdefault(%(pkg)r, importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec(%(pkg)r, [os.path.dirname(p)])))",
            "m = m or sys.modules.setdefault(%(pkg)r, types.ModuleType(%(pkg)r))",
            "mp = (m or []) and m.__dict__.setdefault('__path__',[])",
            "(p not in mp) and mp.append(p)",
            "|",
            "m and setattr(sys.modules[%(parent)r], %(child)r, m)",
        ),
        ("69.5.1", "84.2.1"),
    ),
)

#: setuptools' PEP 660 editable finder line (``str.format`` with ``finder``) and the
#: setuptools versions it was read from.
EDITABLE_FINDER_TEMPLATES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("import {finder}; {finder}.install()", ("65.5.1", "69.5.1", "84.2.1")),
)
