"""A shallow exception tree whose exceptions carry the data a caller needs to act on them."""

from __future__ import annotations

from typing import Any


class SynthloomError(Exception):
    """Base of every error synthloom raises on purpose, so callers can catch one type."""


class RecipeError(SynthloomError):
    """Bad user input (recipe, seed file, template): reported once, before any model call.

    Carries where the problem is so the CLI can print ``file:line: field: cause`` and exit 2.
    """

    def __init__(
        self,
        cause: str,
        *,
        file: str | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        self.cause = cause
        self.file = file
        self.field = field
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.file or "<recipe>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        if self.field:
            return f"{where}: {self.field}: {self.cause}"
        return f"{where}: {self.cause}"


class MissingDependencyError(SynthloomError):
    """An optional package a configured step needs is not installed."""

    def __init__(self, package: str, purpose: str, pip_name: str | None = None) -> None:
        self.package = package
        self.pip_name = pip_name or package
        super().__init__(f"{purpose} needs the '{package}' package: pip install '{self.pip_name}'")


class BackendError(SynthloomError):
    """A model call that did not produce a completion.

    ``retryable`` separates transient faults (timeouts, 5xx, throttling) from ones that will
    fail the same way again (bad request, missing model file).
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class GenerationFailed(SynthloomError):
    """A row that could not be turned into a valid record after every retry and re-ask.

    The engine turns this into a ``failed`` record; the attributes become its error fields.
    """

    def __init__(
        self,
        message: str,
        *,
        error_class: str,
        attempts: int,
        last_output: str | None = None,
        usage: dict[str, Any] | None = None,
    ) -> None:
        self.error_class = error_class
        self.attempts = attempts
        self.last_output = last_output
        self.usage = usage or {}
        super().__init__(message)


class StoreError(SynthloomError):
    """The run directory cannot be used (locked, corrupt, written by a newer synthloom)."""


class BudgetExhausted(SynthloomError):
    """The next call could take the run past its token or cost budget. Raised inside the engine
    to stop scheduling: the row stays unstarted and the run ends cleanly, resumable."""


class ReviewError(SynthloomError):
    """A review request that cannot be taken (bad verdict, edit, name); nothing is stored."""
