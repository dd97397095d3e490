"""Idempotency keys (Stripe's semantics): the same event again is a duplicate, another event
under a used key is refused with 409 naming the key, and nothing of that request is written."""

import threading

import httpx
import pytest

from config.celery import app as celery_app
from journeys.models import Event

pytestmark = pytest.mark.django_db

URL = "/api/v1/events"


def test_the_same_body_under_a_used_key_is_a_duplicate(admin_api):
    body = {"type": "signup", "user_id": "u", "payload": {"plan": "pro"}, "idempotency_key": "k1"}
    first = admin_api.post(URL, body)
    again = admin_api.post(URL, {**body, "payload": {"plan": "pro"}})

    assert again.status_code == 202
    assert again.json() == {"id": first.json()["id"], "duplicate": True}


def test_a_different_body_under_a_used_key_is_refused_naming_the_key(admin_api):
    admin_api.post(
        URL, {"type": "signup", "user_id": "u", "payload": {"plan": "pro"}, "idempotency_key": "k1"}
    )

    answer = admin_api.post(
        URL, {"type": "signup", "user_id": "u", "payload": {"plan": "free"}, "idempotency_key": "k1"}
    )

    assert answer.status_code == 409
    assert answer.json()["code"] == "idempotency_key_reused"
    assert answer.json()["idempotency_keys"] == ["k1"]
    assert "'k1'" in answer.json()["detail"]
    assert Event.objects.get(idempotency_key="k1").payload == {"plan": "pro"}


def test_a_batch_reusing_a_key_for_another_event_writes_nothing(admin_api):
    admin_api.post(URL, {"type": "signup", "user_id": "u", "idempotency_key": "k1"})

    answer = admin_api.post(
        URL,
        [
            {"type": "signup", "user_id": "new-user", "idempotency_key": "k2"},
            {"type": "signup", "user_id": "someone-else", "idempotency_key": "k1"},
        ],
        format="json",
    )

    assert answer.status_code == 409
    assert answer.json()["idempotency_keys"] == ["k1"]
    assert Event.objects.count() == 1
    assert not Event.objects.filter(idempotency_key="k2").exists()


def test_one_key_twice_in_a_batch_with_different_events_is_refused(admin_api):
    answer = admin_api.post(
        URL,
        [
            {"type": "signup", "user_id": "u", "idempotency_key": "k"},
            {"type": "login", "user_id": "u", "idempotency_key": "k"},
        ],
        format="json",
    )
    assert answer.status_code == 409
    assert Event.objects.count() == 0


def test_the_time_the_sender_gave_is_part_of_the_event(admin_api):
    body = {"type": "signup", "user_id": "u", "idempotency_key": "k", "occurred_at": "2026-01-15T10:30:00Z"}
    admin_api.post(URL, body)

    same_instant = admin_api.post(URL, {**body, "occurred_at": "2026-01-15T11:30:00+01:00"})
    other_time = admin_api.post(URL, {**body, "occurred_at": "2026-01-15T10:31:00Z"})

    assert same_instant.json()["duplicate"] is True
    assert other_time.status_code == 409


def test_events_stored_before_fingerprints_existed_stay_duplicates(admin_api):
    first = admin_api.post(URL, {"type": "signup", "user_id": "u", "idempotency_key": "old"})
    Event.objects.filter(pk=first.json()["id"]).update(fingerprint="")

    again = admin_api.post(
        URL, {"type": "signup", "user_id": "u", "payload": {"x": 1}, "idempotency_key": "old"}
    )
    assert again.json() == {"id": first.json()["id"], "duplicate": True}


# ----------------------------------------------------------------------------------------------
# Concurrency (Postgres): batches sharing participants and keys, from many clients at once
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def processing_queued():
    """Events are queued for a worker (none runs) instead of processed inside the request."""
    celery_app.conf.task_always_eager = False
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = True
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(celery_app.conf.task_default_queue)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_sharing_participants_and_keys_store_each_key_once(
    live_server, admin_user, processing_queued
):
    """10,000 events in batches of 100 from 16 threads; 2,000 of them repeat another's key (with
    the same body), participants shared across batches: exactly 8,000 stored, no 5xx."""
    from rest_framework_simplejwt.tokens import AccessToken

    unique = [
        {
            "type": "kintell.session.completed",
            "user_id": f"user-{i % 300}",
            "payload": {"n": i},
            "idempotency_key": f"key-{i}",
        }
        for i in range(8000)
    ]
    repeats = [unique[(i * 7919) % 8000] for i in range(2000)]
    # Interleave so repeats land in other batches than their originals, in different orders.
    events = []
    for i in range(2000):
        events.extend(unique[i * 4 : i * 4 + 4])
        events.append(repeats[-1 - i])
    batches = [events[i : i + 100] for i in range(0, len(events), 100)]
    token = str(AccessToken.for_user(admin_user))
    statuses: list[int] = []
    lock = threading.Lock()

    def post(chunk: list[list[dict]]) -> None:
        with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}) as http:
            for batch in chunk:
                code = http.post(URL, json=batch, timeout=120).status_code
                with lock:
                    statuses.append(code)

    threads = [threading.Thread(target=post, args=(batches[n::16],)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)

    assert len(statuses) == 100
    assert [s for s in statuses if s >= 500] == []
    assert set(statuses) == {202}
    assert Event.objects.count() == 8000
