"""Two beat schedulers at once (a deployment mistake that happens): every tick is sent twice, yet
no event is swept twice and no step is dispatched twice."""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from journeys import bus
from journeys.models import Event, Participant, StepRun, UserJourney
from tests.conftest import BASE_DIR, TEST_RUN_ID, _database_url_for_tests
from tests.helpers import wait_for
from tests.reliability.conftest import deliveries_by_id, due_webhook_runs

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

LOST_EVENTS = 200
STEPS = 200


@pytest.mark.django_db
def test_sweeping_twice_takes_each_abandoned_event_once(django_capture_on_commit_callbacks):
    participant = Participant.objects.create(user_id="u")
    past = timezone.now() - timedelta(minutes=10)
    Event.objects.bulk_create(
        [Event(type="signup", participant=participant, next_attempt_at=past) for _ in range(5)]
        + [
            Event(type="signup", participant=participant, status=Event.Status.PROCESSING, lease_until=past)
            for _ in range(5)
        ]
    )
    with django_capture_on_commit_callbacks(execute=False):
        first = bus.events_sweep()
        second = bus.events_sweep()

    assert (first, second) == (10, 0)
    assert set(Event.objects.values_list("status", flat=True)) == {Event.Status.PENDING}


class BeatProcess:
    def __init__(self) -> None:
        self.log_path = BASE_DIR / "var" / f"test-beat-{TEST_RUN_ID}-{uuid.uuid4().hex[:4]}.log"
        self._log = self.log_path.open("w")
        env = {
            **os.environ,
            "DATABASE_URL": _database_url_for_tests(),
            "CELERY_QUEUE": celery_app.conf.task_default_queue,
            "LOG_PERIODIC_TICKS": "true",  # the test counts the ticks each beat sends
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "--pidfile="],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()

    def sent(self, task: str) -> int:
        return self.log_path.read_text().count(f"Sending due task {task}")


@pytest.mark.worker
def test_two_beats_at_once_sweep_and_dispatch_everything_once(celery_worker, webhook_sink):
    from config.beat import sync_periodic_tasks

    sync_periodic_tasks()
    participant = Participant.objects.create(user_id="lost-events")
    Event.objects.bulk_create(  # accepted, but their processing message was lost
        [
            Event(type="custom.lost", participant=participant, next_attempt_at=timezone.now())
            for _ in range(LOST_EVENTS)
        ]
    )
    due_webhook_runs(webhook_sink.url, STEPS)
    worker = celery_worker(concurrency=2, extra_env={"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"})
    beats = [BeatProcess(), BeatProcess()]
    try:
        wait_for(
            lambda: (
                UserJourney.objects.filter(state=UserJourney.State.COMPLETED).count() == STEPS
                and not Event.objects.exclude(status=Event.Status.PROCESSED).exists()
            ),
            timeout=90,
            interval=0.5,
            message="the two beats did not get everything done",
        )
        wait_for(lambda: all(b.sent("Sweep unprocessed events") for b in beats), timeout=15)
        time.sleep(2)  # ticks sent twice keep arriving: nothing may happen twice meanwhile
    finally:
        for beat in beats:
            beat.stop()

    assert all(beat.sent("Dispatch due journey steps") >= 1 for beat in beats)
    swept = sum(int(n) for n in re.findall(r"swept (\d+) events for dispatch", worker.log()))
    assert swept == LOST_EVENTS  # each lost event swept once, by one of the two beats' ticks
    assert set(Event.objects.filter(type="custom.lost").values_list("attempts", flat=True)) == {1}
    hooks = list(StepRun.objects.filter(step_key="hook"))
    assert {r.attempts for r in hooks} == {1}
    delivered = deliveries_by_id(webhook_sink)
    assert len(webhook_sink.requests) == len(delivered) == STEPS  # no webhook dispatched twice
