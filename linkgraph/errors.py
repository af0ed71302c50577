"""The exceptions callers tell apart.

Every error a user can fix is a :class:`LinkgraphError`; the CLI prints it as
``Error: ...`` and exits 1. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Any


class LinkgraphError(Exception):
    """An error the user can fix: bad input, bad config."""


class InputError(LinkgraphError):
    """An input table is missing, unreadable, or breaks the contract.

    ``rows`` holds the offending rows (a DataFrame) when there are any, so an
    analyst can look at them in Jupyter.
    """

    def __init__(self, message: str, *, rows: Any = None) -> None:
        super().__init__(message)
        self.rows = rows


class RejectLimitError(InputError):
    """A table rejected more rows than the configured limit allows."""


class ConfigError(LinkgraphError):
    """A config file or option is invalid: unknown key, bad type, out of range."""


class RunDirectoryError(LinkgraphError):
    """A run directory is missing, incomplete, or cannot be written."""
