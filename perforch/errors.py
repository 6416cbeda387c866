"""Errors users see. Core code raises these; only the CLI prints them and exits.

Each carries a one-line message and an optional hint (what to do next). Anything else that
escapes is a bug and shows a traceback.
"""

from __future__ import annotations


class PerforchError(Exception):
    """A failure perforch can explain: bad input, a missing or crashing tool, unreadable output."""

    def __init__(self, message: str, hint: str | None = None, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details  # extra lines shown under the message (stderr tail, ...)


class SpecError(PerforchError):
    """The scenario file is invalid."""


class ToolNotFound(PerforchError):
    """A load tool (or Docker) is not available."""


class ToolFailed(PerforchError):
    """A load tool ran and failed."""


class IngestError(PerforchError):
    """Raw results could not be read."""


class RunDirError(PerforchError):
    """A run directory is missing or damaged."""


class ReportError(PerforchError):
    """A report could not be produced."""
