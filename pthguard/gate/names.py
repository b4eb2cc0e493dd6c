"""Name and file rules the gate shares with the rest of pthguard, defined once.

Standard library only and import-free: the build compiles this file into the gate's
namespace (see ``guard.gatebuild``); ``manifest``, ``environment`` and ``analysis`` import it
as an ordinary module.
"""

UF_HIDDEN = 0x8000  # st_flags (macOS, BSD: ``chflags hidden``)
FILE_ATTRIBUTE_HIDDEN = 0x2  # st_file_attributes (Windows)

#: What ``*`` in a project rule's file name stands for: one version (``1.0``, ``2.1.dev3+g12``).
VERSION_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._+!")


def hidden_flag(st: "StatResult") -> bool:
    """Does the file carry the hidden flag, which ``site`` honours from 3.13 on (it then
    skips the ``.pth``)? Linux has no such flag."""
    flags = getattr(st, "st_flags", 0) & UF_HIDDEN
    return bool(flags or getattr(st, "st_file_attributes", 0) & FILE_ATTRIBUTE_HIDDEN)


def name_fits(pattern: str, name: str) -> bool:
    """Does ``name`` fit ``pattern``?

    Without ``*`` the names must be equal. ``*`` (at most one) stands for a version: a
    non-empty run of ASCII letters, digits, ``.``, ``_``, ``+`` and ``!`` starting with a digit.
    """
    head, star, tail = pattern.partition("*")
    if not star:
        return name == pattern
    if len(name) <= len(head) + len(tail) or not name.startswith(head) or not name.endswith(tail):
        return False
    middle = name[len(head) : len(name) - len(tail)]
    return middle[0].isdigit() and all(c in VERSION_CHARS for c in middle)


TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import stat_result as StatResult
