"""Beat's time-based re-evaluation: only participants whose moment came are evaluated."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.beat import PERIODIC_TASKS
from journeys.models import Participant
from rules.models import EvaluationSchedule, Flag
from rules.tasks import participants_evaluate_due_task

pytestmark = pytest.mark.django_db


def test_the_beat_entry_exists_with_an_expiry_under_its_period():
    [spec] = [s for s in PERIODIC_TASKS if s.task == "rules.evaluate_due"]
    assert spec.expires_seconds < spec.every_seconds


def test_the_tick_evaluates_due_participants_and_nobody_else(
    default_rules, record, django_capture_on_commit_callbacks
):
    now = timezone.now()
    due, waiting, idle = (Participant.objects.create(user_id=name) for name in ("due", "waiting", "idle"))
    for who in (due, waiting):
        record("program_enrollments", who=who, status="active", ago=timedelta(days=30))
    record("buddy_events", who=due, ago=timedelta(days=15))
    record("buddy_events", who=waiting, ago=timedelta(days=2))
    EvaluationSchedule.objects.create(participant=due, next_check_at=now - timedelta(minutes=1))
    EvaluationSchedule.objects.create(participant=waiting, next_check_at=now + timedelta(days=12))

    with django_capture_on_commit_callbacks(execute=True):
        assert participants_evaluate_due_task() == 1

    assert list(Flag.objects.values_list("participant__user_id", "flag")) == [("due", "followup_needed")]
    # Every window of the due participant has closed now: nothing time-based is left to wait for.
    assert EvaluationSchedule.objects.get(participant=due).next_check_at is None
    assert EvaluationSchedule.objects.get(participant=waiting).next_check_at > now
    assert not EvaluationSchedule.objects.filter(participant=idle).exists()


def test_a_tick_with_nothing_due_does_nothing(default_rules, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert participants_evaluate_due_task() == 0
    assert callbacks == []
