"""Fixtures for journey engine tests: emitting events and letting time pass for the dispatcher."""

from datetime import timedelta

import pytest
from django.db.models import F

from journeys.engine.dispatcher import step_runs_dispatch
from journeys.models import StepRun
from journeys.services.events import event_emit


@pytest.fixture
def emit(django_capture_on_commit_callbacks):
    """Put an event on the bus and process it (and whatever it kicks) before returning."""

    def send(type: str, user_id: str = "u-1", payload: dict | None = None, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return event_emit(type=type, user_id=user_id, payload=payload or {}, **kwargs)

    return send


@pytest.fixture
def dispatch(django_capture_on_commit_callbacks):
    """Run the dispatcher, after letting ``later`` pass for every waiting run."""

    def run(later: timedelta | None = None):
        if later:
            StepRun.objects.filter(
                status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED], due_at__isnull=False
            ).update(due_at=F("due_at") - later)
        with django_capture_on_commit_callbacks(execute=True):
            return step_runs_dispatch(budget_seconds=10)

    return run
