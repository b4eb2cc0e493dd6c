"""The kinds of finding ``scan`` and ``inspect`` report, with their default severity.

Severities (the scale of :mod:`pthguard.findings`): ``high`` (network, process or credential
access, native code, deserialised code, or execution of decoded data: the exit code is 1),
``medium`` (obfuscation, dynamic execution, environment access, file writes, archive
inconsistencies), ``low`` (plain imports, literal ``exec``, startup modules and entry points,
whose code is not followed), ``info`` (path lines, recognised legitimate files). Rules marked
``operational`` mean the check itself could not be completed (exit code 3 unless something
is high).
"""

from __future__ import annotations

from typing import Final

from pthguard.findings import Rule, rule, rule_table

__all__ = ["RULES"]

RULES: Final[dict[str, Rule]] = rule_table(
    rule("process", "high", "Startup code can run other programs"),
    rule("network", "high", "Startup code can reach the network"),
    rule("credentials", "high", "Startup code refers to credential files"),
    rule("native-code", "high", "Startup code can call native code (ctypes, cffi)"),
    rule("deserialize", "high", "Startup code deserialises code or objects"),
    rule("exec-decoded", "high", "Startup code executes decoded data"),
    rule("obfuscation", "medium", "Startup code decodes or decompresses data"),
    rule("exec-assembled", "medium", "Startup code executes a string it assembles"),
    rule("exec-dynamic", "medium", "Startup code executes data it does not spell out"),
    rule("dynamic-import", "medium", "Startup code imports a module named at run time"),
    rule("environment", "medium", "Startup code reads or changes environment variables"),
    rule("file-write", "medium", "Startup code writes, moves or deletes files"),
    rule("import-hook", "medium", "Startup code installs import, trace or audit hooks"),
    rule("opaque-data", "medium", "Startup code holds a long encoded-looking literal"),
    rule("url", "medium", "Startup code contains a URL"),
    rule("analysis-limit", "medium", "Part of the code was not followed (size or depth)"),
    rule("version-difference", "medium", "Python versions read the file differently"),
    rule("decode-error", "medium", "The file cannot be decoded: interpreter start fails"),
    rule("compiled-module", "medium", "A compiled startup module cannot be analysed"),
    rule("exec-literal", "low", "Startup code executes a string literal (followed)"),
    rule("import", "low", "Startup code imports a module (its code is not followed)"),
    rule("syntax-error", "low", "Code that does not parse (it fails when it runs)"),
    rule("startup-module", "low", "sitecustomize/usercustomize runs at every start"),
    rule("entry-point", "low", "A .start entry point runs at every start (3.15+)"),
    rule("path-lines", "info", "Path lines add directories to sys.path"),
    rule("known-file", "info", "A legitimate file recognised by its exact content"),
    rule("not-processed", "info", "The file is not processed by the Python analysed"),
    rule("pthguard-gate", "info", "pthguard's own startup gate"),
    rule("archive-traversal", "high", "An archive member escapes the install location"),
    rule("archive-outside", "medium", "A wheel installs files outside site-packages"),
    rule("archive-duplicate", "medium", "An archive holds the same name twice"),
    rule("archive-limit", "medium", "An archive member was not read (size limits)"),
    rule("record-missing", "medium", "A wheel has no RECORD"),
    rule("record-malformed", "medium", "A RECORD row is malformed or uses a weak hash"),
    rule("record-unlisted", "medium", "A wheel member is not listed in RECORD"),
    rule("record-orphan", "low", "A RECORD row names no member of the wheel"),
    rule("record-mismatch", "medium", "A wheel member's hash or size differs from RECORD"),
    rule("install-time-code", "medium", "An sdist runs setup.py when it is built"),
    rule("unreadable", "medium", "A path or archive could not be read", operational=True),
)
