"""Errors a user can act on, and the CLI's exit codes."""

from __future__ import annotations

# Exit codes of the `takehome` command (documented in README.md).
EXIT_OK = 0
EXIT_FAILED = 1  # the command ran but found problems (validation failed, submission rejected)
EXIT_USAGE = 2  # bad command line (click's own code)
EXIT_ENVIRONMENT = 3  # the machine is not ready: no Docker engine, no image, unreadable path
EXIT_HARNESS = 4  # an internal fault of takehome (never a candidate's score)


class TakehomeError(Exception):
    """An error with a one-line message saying what went wrong, where, and how to fix it."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class EnvironmentProblem(TakehomeError):
    """The machine is not ready (Docker engine, image, permissions)."""

    exit_code = EXIT_ENVIRONMENT


class SubmissionRejected(TakehomeError):
    """The submission cannot be accepted (hostile or invalid archive, invalid notebook)."""

    exit_code = EXIT_FAILED


class SpecError(TakehomeError):
    """An assignment or rubric file is invalid."""

    exit_code = EXIT_FAILED
