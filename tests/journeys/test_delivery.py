"""The bus with a real Celery worker on Redis and Postgres: nothing lost, nothing twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from journeys import bus
from journeys.models import Event, Participant
from journeys.tasks import events_process_task
from tests.helpers import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SUBSCRIBER = {"EVENT_SUBSCRIBERS": "*=tests.journeys.subscribers.mark_participant_seen"}
SESSION_RECORDER = {"EVENT_SUBSCRIBERS": "*=tests.journeys.subscribers.mark_database_session"}


def seen_events(user_id: str) -> list[int]:
    participant = Participant.objects.filter(user_id=user_id).first()
    return participant.attributes.get("seen_events", []) if participant else []


def test_an_ingested_event_is_processed_by_a_real_worker_and_its_subscriber_sees_it(admin_api, celery_worker):
    celery_worker(extra_env=SUBSCRIBER)
    event_id = admin_api.post("/api/v1/events", {"type": "signup", "user_id": "ada"}).json()["id"]

    wait_for(lambda: seen_events("ada") == [event_id], message="the worker never handled the event")
    wait_for(lambda: Event.objects.get(pk=event_id).status == Event.Status.PROCESSED)


def test_a_message_delivered_three_times_is_handled_once(admin_api, celery_worker):
    worker = celery_worker(extra_env=SUBSCRIBER)
    event_id = admin_api.post("/api/v1/events", {"type": "signup", "user_id": "ada"}).json()["id"]
    events_process_task.delay([event_id])
    events_process_task.delay([event_id])

    wait_for(lambda: Event.objects.get(pk=event_id).status == Event.Status.PROCESSED)
    wait_for(lambda: worker.log().count("succeeded") >= 3, message="not all three messages consumed")
    assert seen_events("ada") == [event_id]


def test_a_worker_keeps_its_database_session_from_one_task_to_the_next(admin_api, celery_worker):
    worker = celery_worker(extra_env=SESSION_RECORDER)
    for _ in range(3):  # one event, one task, at a time
        before = worker.log().count("succeeded")
        admin_api.post("/api/v1/events", {"type": "signup", "user_id": "ada"})
        wait_for(lambda before=before: worker.log().count("succeeded") > before)

    sessions = Participant.objects.get(user_id="ada").attributes["sessions"]
    assert len(sessions) == 3
    assert len(set(sessions)) == 1  # Celery alone would open a session per task


def test_events_accepted_while_the_broker_is_down_are_processed_by_the_sweeper(admin_api, celery_worker):
    with _broker_outage():
        response = admin_api.post(
            "/api/v1/events", [{"type": "signup", "user_id": f"u{i}"} for i in range(5)]
        )
        assert response.status_code == 202  # accepted: the database is the source of truth
    ids = [e["id"] for e in response.json()["events"]]
    assert set(Event.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"pending"}

    celery_worker(extra_env=SUBSCRIBER)
    Event.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert bus.events_sweep() == 5

    wait_for(lambda: all(seen_events(f"u{i}") == [ids[i]] for i in range(5)))
    assert set(Event.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"processed"}


class _broker_outage:
    def __enter__(self):
        self.real_url = celery_app.conf.broker_url
        celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
        self._reset()

    def __exit__(self, *exc):
        celery_app.conf.broker_url = self.real_url
        self._reset()

    @staticmethod
    def _reset() -> None:
        # Drop the cached pools (not close them: kombu shares them per broker URL).
        celery_app._pool = None
        celery_app.amqp._producer_pool = None


def test_an_event_held_by_a_killed_worker_is_processed_once_by_another(admin_api, celery_worker):
    slow = {**SUBSCRIBER, "TEST_SUBSCRIBER_SLEEP": "3", "EVENT_LEASE_SECONDS": "2"}
    first = celery_worker(extra_env=slow)
    event_id = admin_api.post("/api/v1/events", {"type": "signup", "user_id": "ada"}).json()["id"]
    wait_for(lambda: Event.objects.get(pk=event_id).status == Event.Status.PROCESSING)
    first.kill()  # mid-handler: nothing committed, the message is gone with it

    assert seen_events("ada") == []
    celery_worker(extra_env=SUBSCRIBER)
    wait_for(lambda: bus.events_sweep() >= 1, timeout=10, message="the lease never ran out")
    wait_for(lambda: seen_events("ada") == [event_id])
    assert Event.objects.get(pk=event_id).attempts == 2
