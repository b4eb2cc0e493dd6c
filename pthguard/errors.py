"""One exception tree. The CLI catches :class:`PthguardError` only and prints
:meth:`PthguardError.diagnostics`; anything else is a bug and shows a traceback."""

from __future__ import annotations


class PthguardError(Exception):
    """Base of every error pthguard raises on purpose (exit code 3 in the CLI)."""

    #: What the user should do about it; shown after the message.
    remedy: str = ""

    def __init__(self, message: str, *, remedy: str = "") -> None:
        super().__init__(message)
        if remedy:
            self.remedy = remedy

    def diagnostics(self) -> str:
        """One line: what went wrong and, if known, what to do."""
        text = str(self)
        return f"{text}; {self.remedy}" if self.remedy else text


class UsageError(PthguardError):
    """The command line asks for something impossible (exit code 2)."""


class CanonicalJSONError(PthguardError):
    """A value cannot be written as canonical JSON."""


class ProblemsError(PthguardError):
    """An input with several problems at once: ``problems`` lists every ``path: message``;
    the message names the first five."""

    def __init__(
        self, message: str, problems: list[str] | None = None, *, remedy: str = ""
    ) -> None:
        self.problems = list(problems or [])
        if self.problems:
            message = f"{message}: " + "; ".join(self.problems[:5])
            if len(self.problems) > 5:
                message += f" (and {len(self.problems) - 5} more)"
        super().__init__(message, remedy=remedy)


class ManifestError(ProblemsError):
    """A manifest is not well formed."""


class KeyFileError(PthguardError):
    """A key file cannot be read, decrypted, or is the wrong kind of key."""


class SignatureError(PthguardError):
    """A manifest's signatures do not meet its threshold of trusted keys."""


class ExpiredError(SignatureError):
    """A manifest is past its ``expires`` time."""


class RecordError(PthguardError):
    """A RECORD file is malformed. ``problems`` lists every row that is wrong."""

    def __init__(self, message: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{message}: " + "; ".join(problems[:5]))


class ScanError(PthguardError):
    """The environment cannot be inspected (interpreter not runnable, unreadable files)."""


class InstallError(PthguardError):
    """The guard cannot be installed, inspected or removed."""


class LockError(ProblemsError):
    """A lock file cannot be read or parsed (exit code 3)."""


class ApprovalError(PthguardError):
    """An approval is malformed, or names a hash that nothing to be signed has."""
