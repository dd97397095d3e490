"""Redis down costs neither data nor answers: the throttle and every cache read fail open.

Each test runs the product's production cache configuration against a ``redis-server`` of its
own, kills it with ``kill -9`` and starts it again.
"""

import signal
import threading
import time

import httpx
import pytest
from django.core.cache import cache
from django.utils import timezone

from config.cache import outage_stats
from journeys.models import EntityRecord, Event
from journeys.services.records import entity_mappings_load_defaults
from tests.reliability.conftest import free_port

pytestmark = pytest.mark.reliability

URL = "/api/v1/events"


@pytest.mark.django_db
def test_events_are_accepted_and_throttled_calls_answer_while_redis_is_down(cache_on, admin_api):
    entity_mappings_load_defaults()
    assert admin_api.post(URL, {"type": "kintell.session.completed", "user_id": "u1"}).status_code == 202

    cache_on.kill()
    answers = [
        admin_api.post(URL, {"type": "kintell.session.completed", "user_id": f"u{i}"}) for i in range(2, 7)
    ]
    listing = admin_api.get(URL)

    assert [a.status_code for a in answers] == [202] * 5
    assert all(a["Content-Type"] == "application/json" for a in answers)
    assert listing.status_code == 200
    assert Event.objects.count() == 6
    # The projection read its mappings from the table, not from the dead cache.
    assert EntityRecord.objects.filter(entity="kintell_sessions").count() == 6
    assert outage_stats().failed_open > 0
    ready = admin_api.get("/readyz")
    assert ready.status_code == 200, ready.json()  # still serving: not taken out of rotation
    assert ready.json()["checks"]["cache"]["status"] == "degraded"


@pytest.mark.django_db
def test_the_cache_is_used_again_once_redis_is_back(cache_on, admin_api):
    cache_on.kill()
    assert cache.get("probe") is None
    cache.set("probe", "written while down")
    cache_on.start()
    time.sleep(0.6)  # the breaker's pause in these tests

    cache.set("probe", "after")
    assert cache.get("probe") == "after"
    assert outage_stats().down_since is None
    assert admin_api.post(URL, {"type": "signup", "user_id": "back"}).status_code == 202


@pytest.mark.django_db
def test_a_hung_redis_is_waited_for_once_per_pause_not_once_per_call(cache_on, admin_api, settings):
    cache_config = settings.CACHES["default"]
    options = {**cache_config["OPTIONS"], "RETRY_SECONDS": 60}
    settings.CACHES = {"default": {**cache_config, "OPTIONS": options}}
    cache_on.process.send_signal(signal.SIGSTOP)  # the port accepts, nobody answers
    try:
        codes = [admin_api.post(URL, {"type": "signup", "user_id": f"h{i}"}).status_code for i in range(20)]
    finally:
        cache_on.process.send_signal(signal.SIGCONT)
    assert codes == [202] * 20
    stats = outage_stats()
    assert stats.failed_calls == 1  # one socket timeout opened the breaker for the whole burst
    assert stats.failed_open > 20  # every throttle read and write of the burst answered without it


@pytest.mark.postgres  # eight concurrent writers
@pytest.mark.django_db(transaction=True)
def test_ingest_over_http_loses_nothing_while_redis_is_killed_and_restarted(
    cache_on, live_server, admin_user
):
    """Eight clients post for a few seconds; Redis is killed a second in and restarted later."""
    from rest_framework_simplejwt.tokens import AccessToken

    token = str(AccessToken.for_user(admin_user))
    accepted: list[int] = []
    failures: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}) as http:
            i = 0
            while not stop.is_set():
                batch = [
                    {"type": "signup", "user_id": f"c{n}-{i}-{k}", "idempotency_key": f"c{n}-{i}-{k}"}
                    for k in range(5)
                ]
                i += 1
                try:
                    response = http.post(URL, json=batch, timeout=10)
                except httpx.HTTPError as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 202:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                with lock:
                    accepted.extend(e["id"] for e in response.json()["events"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    cache_on.kill()
    time.sleep(3)
    cache_on.start()
    time.sleep(2)
    stop.set()
    for thread in threads:
        thread.join(30)

    assert failures == []
    assert len(accepted) > 100
    assert Event.objects.filter(pk__in=accepted).count() == len(accepted) == len(set(accepted))
    assert outage_stats().outages >= 1


@pytest.mark.django_db
def test_events_are_accepted_while_the_broker_is_down_and_it_is_tried_once_per_pause(
    admin_api, caplog, django_capture_on_commit_callbacks
):
    from config.celery import app as celery_app
    from journeys import bus

    real_url = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    celery_app._pool = None  # drop the cached pools (kombu shares them per URL: do not close)
    celery_app.amqp._producer_pool = None
    celery_app.conf.task_always_eager = False
    try:
        with caplog.at_level("WARNING", logger="journeys.broker"):
            answers = []
            for i in range(10):
                with django_capture_on_commit_callbacks(execute=True):
                    answers.append(admin_api.post(URL, {"type": "signup", "user_id": f"b{i}"}))
    finally:
        celery_app.conf.task_always_eager = True
        celery_app.conf.broker_url = real_url
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    assert [a.status_code for a in answers] == [202] * 10
    assert len([r for r in caplog.records if "could not send" in r.getMessage()]) == 1
    assert set(Event.objects.values_list("status", flat=True)) == {Event.Status.PENDING}
    Event.objects.update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert bus.events_sweep() == 10  # the broker is back: the sweeper sends them
    assert set(Event.objects.values_list("status", flat=True)) == {Event.Status.PROCESSED}
