"""Rules with a real Celery worker on Redis and Postgres: events in through the API, flags, history,
milestones and their events out — exactly once, whether a worker message held one event or many."""

import pytest
from django.db.models import Count

from config.celery import app as celery_app
from journeys.models import Event
from journeys.tasks import events_process_task
from rules.models import Flag, FlagHistory, Milestone
from rules.services.flags import FLAG_UPDATED, MILESTONE_REACHED
from tests.helpers import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def language_sessions(user_id: str, n: int = 3) -> list[dict]:
    return [
        {
            "type": "kintell.session.completed",
            "user_id": user_id,
            "payload": {"session_type": "language", "rating": 5},
            "idempotency_key": f"{user_id}-session-{i}",
        }
        for i in range(n)
    ]


def everything_processed() -> bool:
    return not Event.objects.exclude(status=Event.Status.PROCESSED).exists()


def test_events_ingested_through_the_api_end_with_flags_written_exactly_once(
    default_rules, admin_api, celery_worker
):
    # The worker's own messages (the events evaluation emits) go to the queue it consumes.
    worker = celery_worker(extra_env={"CELERY_QUEUE": celery_app.conf.task_default_queue})
    crowd = [f"crowd-{i}" for i in range(20)]
    # One request for the crowd: one worker message of 60 events (the batch handler) …
    batch = admin_api.post("/api/v1/events", [e for user_id in crowd for e in language_sessions(user_id)])
    assert batch.status_code == 202
    # … and one event per request for a loner (the single handler, message by message).
    for event in language_sessions("loner"):
        assert admin_api.post("/api/v1/events", event).status_code == 202
    everyone = [*crowd, "loner"]

    wait_for(
        lambda: Flag.objects.filter(flag="mentor_ready").count() == len(everyone),
        timeout=60,
        message=f"flags not written; worker log:\n{worker.log()}",
    )
    wait_for(everything_processed, timeout=60, message="the events evaluation emitted were not processed")

    flags = Flag.objects.filter(flag="mentor_ready")
    assert sorted(flags.values_list("participant__user_id", flat=True)) == sorted(everyone)
    assert set(flags.values_list("value", "set_by_rule")) == {(True, "mentor_ready_001")}

    def per_participant(queryset) -> dict[str, int]:
        return dict(
            queryset.values("participant__user_id")
            .annotate(n=Count("id"))
            .values_list("participant__user_id", "n")
        )

    once_each = dict.fromkeys(everyone, 1)
    assert per_participant(FlagHistory.objects.filter(flag="mentor_ready", reason="rule")) == once_each
    assert per_participant(Event.objects.filter(type=FLAG_UPDATED, payload__flag="mentor_ready")) == once_each
    assert per_participant(Milestone.objects.filter(milestone="mentor_ready")) == once_each
    assert per_participant(Event.objects.filter(type=MILESTONE_REACHED)) == once_each

    # The same events again (a client retry, a redelivered message) change nothing.
    before = (FlagHistory.objects.count(), Milestone.objects.count(), Event.objects.count())
    again = admin_api.post("/api/v1/events", [e for user_id in crowd for e in language_sessions(user_id)])
    assert {e["duplicate"] for e in again.json()["events"]} == {True}
    sessions = list(Event.objects.filter(type="kintell.session.completed").values_list("pk", flat=True))
    consumed = worker.log().count("succeeded")
    events_process_task.delay(sessions)
    wait_for(lambda: worker.log().count("succeeded") > consumed, timeout=30, message="never redelivered")
    wait_for(everything_processed, timeout=30)
    assert (FlagHistory.objects.count(), Milestone.objects.count(), Event.objects.count()) == before
