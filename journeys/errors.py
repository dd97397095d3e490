"""Domain errors raised by services of every app, mapped to HTTP by one exception handler.

``ValidationFailed`` → 400 with field-level messages, ``NotFound`` → 404, ``Conflict`` → 409
(an invalid transition: the body carries the current state). Services turn django-fsm's
``TransitionNotAllowed`` into ``Conflict`` (``transition_refused_as_conflict``), so the API and
the admin handle this one family.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django_fsm import TransitionNotAllowed


class DomainError(Exception):
    status_code = 400
    default_code = "error"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        return {"detail": self.message, "code": self.code, **self.extra}


class ValidationFailed(DomainError):
    """Bad input. ``errors`` maps a field (or dot path) to its messages."""

    default_code = "invalid"

    def __init__(self, errors: dict[str, Any] | str, *, code: str | None = None) -> None:
        if isinstance(errors, str):
            errors = {"non_field_errors": [errors]}
        self.errors = errors
        super().__init__("Invalid input.", code=code)

    def as_dict(self) -> dict[str, Any]:
        return self.errors


class NotFound(DomainError):
    status_code = 404
    default_code = "not_found"


class Conflict(DomainError):
    """The request is valid but the current state forbids it (e.g. an invalid transition)."""

    status_code = 409
    default_code = "conflict"


class TransitionRefused(Conflict):
    """The state machine refused a transition (django-fsm's ``TransitionNotAllowed``)."""

    default_code = "invalid_transition"


@contextmanager
def transition_refused_as_conflict() -> Iterator[None]:
    """Run django-fsm transitions; one the state machine refuses becomes ``TransitionRefused``.

    The 409 carries the message and the object's current state, as an invalid transition's does.
    """
    try:
        yield
    except TransitionNotAllowed as exc:
        instance = getattr(exc, "object", None)
        state = getattr(instance, "state", None) or getattr(instance, "status", None)
        raise TransitionRefused(
            str(exc) or "This transition is not allowed now.", current_state=state
        ) from exc
