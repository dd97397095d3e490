"""Beat tasks of the stages app: the periodic gate check and the history purge."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.beat import PERIODIC_TASKS
from config.celery import app as celery_app
from stages.models import Measurement, Snapshot, StagedJourney, StageTransition, UnitOfWork
from stages.services.measurements import approval_record, measurements_record
from stages.services.rollback import staged_journey_rollback
from stages.services.staged_journeys import (
    staged_journey_cancel,
    staged_journey_promote,
)
from stages.tasks import journeys_auto_promote_task, stage_history_purge_task
from tests.stages.factories import backdate_stage, criteria_pipeline, satisfy, start

pytestmark = pytest.mark.django_db


def test_every_stages_beat_entry_names_a_registered_task():
    ours = [spec for spec in PERIODIC_TASKS if spec.task.startswith("stages.")]
    assert {spec.task for spec in ours} == {
        "stages.work_tasks_sweep",
        "stages.journeys_auto_promote",
        "stages.history_purge",
    }
    for spec in ours:
        assert spec.task in celery_app.tasks
        assert spec.expires_seconds < spec.every_seconds


def test_the_periodic_check_promotes_once_seven_clean_days_have_passed():
    criteria_pipeline(auto_promote=True)
    journey = staged_journey_promote(journey=satisfy(start("client-1")), actor="ops").journey
    journey = backdate_stage(journey, days=3)
    measurements_record(journey=journey, values={"search_quality": 0.9, "user_satisfaction": 4.4}, actor="e")
    approval_record(journey=journey, key="performance_sla_met", approved=True, actor="monitoring")

    assert journeys_auto_promote_task() == 0
    assert StagedJourney.objects.get(pk=journey.pk).stage == "pilot"

    # Time passes; the measurements stay (they were taken in this stage visit).
    StagedJourney.objects.filter(pk=journey.pk).update(stage_entered_at=timezone.now() - timedelta(days=8))
    Measurement.objects.filter(journey=journey).update(recorded_at=timezone.now() - timedelta(days=5))

    assert journeys_auto_promote_task() == 1
    assert StagedJourney.objects.get(pk=journey.pk).stage == "production"
    assert journeys_auto_promote_task() == 0  # production's own criteria are not met


def test_journeys_in_manual_stages_are_left_alone():
    criteria_pipeline(auto_promote=False)
    satisfy(start("client-1"))
    assert journeys_auto_promote_task() == 0
    assert StagedJourney.objects.get().stage == "sandbox"


def test_the_purge_deletes_journeys_ended_more_than_two_years_ago_with_their_history():
    criteria_pipeline()
    old = staged_journey_promote(journey=satisfy(start("old-client")), actor="ops").journey
    old = staged_journey_rollback(journey=old, reason="regression", actor="ops")
    old = staged_journey_cancel(journey=old, reason="churned", actor="ops")
    recent = staged_journey_cancel(journey=start("recent-client"), reason="paused", actor="ops")
    running = start("running-client")
    three_years_ago = timezone.now() - timedelta(days=3 * 365)
    StagedJourney.objects.filter(pk=old.pk).update(ended_at=three_years_ago)
    StageTransition.objects.filter(journey=running).update(transitioned_at=three_years_ago)

    purged = stage_history_purge_task()

    assert purged == {"journeys": 1, "transitions": 1, "snapshots": 0}
    assert set(StagedJourney.objects.values_list("client_id", flat=True)) == {
        "recent-client",
        "running-client",
    }
    assert not StageTransition.objects.filter(journey_id=old.pk).exists()
    assert not Snapshot.objects.filter(journey_id=old.pk).exists()
    assert not UnitOfWork.objects.filter(journey_id=old.pk).exists()
    assert StageTransition.objects.filter(journey=recent).count() == 2
    assert StagedJourney.objects.get(pk=running.pk).stage == "sandbox"


def test_the_retention_period_is_configurable(settings):
    criteria_pipeline()
    journey = staged_journey_cancel(journey=start("client-1"), reason="stop", actor="ops")
    StagedJourney.objects.filter(pk=journey.pk).update(ended_at=timezone.now() - timedelta(days=40))

    assert stage_history_purge_task(retention_days=60)["journeys"] == 0
    settings.STAGES_HISTORY_RETENTION_DAYS = 30
    assert stage_history_purge_task()["journeys"] == 1
