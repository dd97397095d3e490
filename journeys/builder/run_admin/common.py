"""What the operators' screens share: permissions, read-only rows, times and details in words."""

import json
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings

from journeys.errors import DomainError, TransitionRefused
from journeys.models import UserJourney
from journeys.services.user_journeys import (
    user_journey_cancel,
    user_journey_pause,
    user_journey_resume,
)

OPERATIONS = {
    "pause": (user_journey_pause, "Paused"),
    "resume": (user_journey_resume, "Resumed"),
    "cancel": (user_journey_cancel, "Cancelled"),
}
OPERATE_PERMISSION = "journeys.operate_userjourney"
RETRY_PERMISSION = "journeys.retry_steprun"
OVERDUE_GRACE_SECONDS = 5  # the dispatcher ticks every second; later than this is overdue


def overdue_grace() -> timedelta:
    return timedelta(seconds=getattr(settings, "JOURNEY_OVERDUE_GRACE_SECONDS", OVERDUE_GRACE_SECONDS))


def error_text(exc: Exception, user_journey: UserJourney | None = None) -> str:
    if isinstance(exc, TransitionRefused):
        state = UserJourney.objects.filter(pk=user_journey.pk).values_list("state", flat=True).first()
        return f"not allowed while the journey is {state}"
    if isinstance(exc, DomainError):
        return exc.message
    return str(exc)


def seconds_in_words(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def each_through_service(
    rows: Iterable[Any], apply: Callable[[Any], object], refusal: Callable[[Any, Exception], str]
) -> tuple[int, list[str]]:
    """Apply a service to each row of a bulk action: how many it changed, and why the others were
    refused (a row in the wrong state is reported, not fatal)."""
    done, refused = 0, []
    for row in rows:
        try:
            apply(row)
        except DomainError as exc:
            refused.append(refusal(row, exc))
        else:
            done += 1
    return done, refused


def detail_in_words(detail) -> str:
    """A log entry's detail as staff read it: ``reason: goal event · step: welcome``."""
    if not detail:
        return ""
    if not isinstance(detail, dict):
        return str(detail)
    parts = []
    for key, value in detail.items():
        if isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False, default=str)
        parts.append(f"{str(key).replace('_', ' ')}: {value}")
    return " · ".join(parts)
