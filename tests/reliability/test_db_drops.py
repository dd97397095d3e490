"""Postgres connections dropped under the application: runs resume, nothing is done twice, and
the API says "try again" as JSON instead of failing with a page."""

import time

import pytest
from django.db import connection

from journeys.models import StepRun, UserJourney
from tests.helpers import wait_for
from tests.reliability.conftest import deliveries_by_id, due_webhook_runs, free_port

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

STEPS = 300


def terminate_other_connections() -> int:
    """``pg_terminate_backend`` every other connection to the test database (the worker's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_with_retry_after_while_the_database_is_unreachable(admin_api, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "PORT", free_port())  # nothing listens there
    connection.close()
    try:
        answer = admin_api.get("/api/v1/events")
        ingest = admin_api.post("/api/v1/events", {"type": "signup", "user_id": "u"})
    finally:
        monkeypatch.undo()
        connection.close()

    for response in (answer, ingest):
        assert response.status_code == 503
        assert response["Content-Type"] == "application/json"
        assert response["Retry-After"] == "5"
        assert response.json()["code"] == "unavailable"
    assert admin_api.get("/api/v1/events").status_code == 200  # back once the database is


@pytest.mark.worker
def test_dropping_the_workers_database_connections_mid_dispatch_resumes_every_run_once(
    celery_worker, webhook_sink
):
    from journeys.tasks import step_runs_dispatch_task

    webhook_sink.delay = 0.05  # seconds per request, 4 threads: the dispatch lasts a few seconds
    due_webhook_runs(webhook_sink.url, STEPS)
    env = {
        "STEP_LEASE_SECONDS": "4",
        "STEP_RETRY_BASE_SECONDS": "1",
        "STEP_EXECUTION_THREADS": "4",
        "STEP_DISPATCH_BATCH": "50",
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    }
    celery_worker(extra_env=env)
    step_runs_dispatch_task.delay()
    wait_for(lambda: len(webhook_sink.requests) >= 20, timeout=60, message="no webhook was sent")

    outstanding = StepRun.objects.filter(step_key="hook").exclude(status=StepRun.Status.SUCCEEDED).count()
    dropped = 0
    for _ in range(5):
        dropped += terminate_other_connections()
        step_runs_dispatch_task.delay()
        time.sleep(0.5)
    assert dropped > 0 and outstanding > 0  # connections were dropped while runs were in flight
    webhook_sink.delay = 0

    def all_done() -> bool:
        step_runs_dispatch_task.delay()
        return UserJourney.objects.filter(state=UserJourney.State.COMPLETED).count() == STEPS

    wait_for(all_done, timeout=120, interval=1, message="runs did not resume after the drops")
    time.sleep(1)

    hooks = list(StepRun.objects.filter(step_key="hook"))
    assert {r.status for r in hooks} == {StepRun.Status.SUCCEEDED}
    assert StepRun.objects.filter(step_key="after").count() == STEPS
    delivered = deliveries_by_id(webhook_sink)
    assert set(delivered) == {f"step-run-{r.pk}" for r in hooks}
    assert all(len(bodies) == 1 for bodies in delivered.values())
