"""Refusals a practitioner can understand. Adapters show ``message`` as it is; no stack traces."""

from __future__ import annotations

from collections.abc import Mapping

from dialogs import texts


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
    """One or more fields are wrong. ``field_errors`` maps a field id to what to fix: cards show
    each error at its own field. ``message`` is for where there is no card to show them on, so
    it names each field as people read it (``labels``, else the core questions' own words),
    never by its id."""

    def __init__(
        self, field_errors: dict[str, str], labels: Mapping[str, str] | None = None
    ) -> None:
        self.field_errors = dict(field_errors)
        named = {**texts.FIELD_NAMES, **(labels or {})}
        lines = [
            _named(named[field], error) if field in named else error
            for field, error in self.field_errors.items()
        ]
        super().__init__(texts.PLEASE_CORRECT + "; ".join(lines))


def _named(label: str, error: str) -> str:
    """'Their email: …', or for a question 'Who do you disagree with? …' (no '?:')."""
    label = label.strip()
    return f"{label} {error}" if label.endswith(("?", ":")) else f"{label}: {error}"
