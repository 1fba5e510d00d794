"""The one exception hierarchy of vmim.

Every error a user can cause or meet carries its own one-line message, an
optional hint (the way out) and the process exit code. The CLI prints
``message`` and ``hint`` without a traceback; anything that is not a
``VmimError`` is a bug and is shown with one.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3


class VmimError(Exception):
    """Base of every expected error."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(VmimError):
    """The command line asks for something that cannot be."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration file is unreadable or wrong; names file, line and key."""


class UnknownSlotError(UsageError):
    """A slot name that the configuration does not have."""


class SlotLockedError(VmimError):
    """Another process holds the slot's lease."""

    exit_code = EXIT_LOCKED


class OperationError(VmimError):
    """An operation was attempted and failed."""


class HypervisorError(OperationError):
    """libvirt refused, or could not be reached."""


class ToolError(OperationError):
    """An external program failed or is missing."""


class StateError(OperationError):
    """The slot is in a state that forbids the operation (running, mounted, dirty)."""
