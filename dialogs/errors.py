"""Refusals a practitioner can understand. Adapters show ``message`` as it is; no stack traces."""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CaseNotFound(DomainError):
    pass


class NotAllowed(DomainError):
    """The person is not a party to the case, or their role may not do this."""


class IllegalTransition(DomainError):
    """The case's state does not allow this command (closed, wrong stage, nothing to escalate)."""


class StaleCase(DomainError):
    """The case changed since the person's card was drawn; nothing was changed."""


class InvalidInput(DomainError):
    """One or more fields are wrong. ``field_errors`` maps a field id to what to fix."""

    def __init__(self, field_errors: dict[str, str]) -> None:
        self.field_errors = dict(field_errors)
        lines = [f"{field}: {error}" for field, error in self.field_errors.items()]
        super().__init__("Please correct: " + "; ".join(lines))
