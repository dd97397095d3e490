"""Fixtures of the fault suite: services of the test's own that a test may stop, kill and restart.

A test here never stops the suite's shared Redis or Postgres: it starts a ``redis-server`` of its
own on a free port (no persistence), and it drops only its own database connections.
"""

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from config.environment import redis_cache
from tests.conftest import IN_CI, TEST_RUN_ID

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """``redis-server --port <free> --save ''`` as a child process: ``kill()`` is a ``kill -9``,
    ``start()`` brings it back on the same port (empty, as a restarted cache would be)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = BASE_DIR / "var" / f"test-redis-{TEST_RUN_ID}-{self.port}.log"
        self.log_path.parent.mkdir(exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(self.log_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("redis-server is not installed and CI must not skip fault tests")
        pytest.skip("needs the redis-server binary")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def cache_on(settings, redis_server) -> RedisServer:
    """The product's cache (as configured for production) pointed at the test's own Redis."""
    settings.CACHES = {
        "default": {
            **redis_cache(redis_server.url),
            "KEY_PREFIX": f"test-{TEST_RUN_ID}",
            "OPTIONS": {**redis_cache(redis_server.url)["OPTIONS"], "RETRY_SECONDS": 0.5},
        }
    }
    return redis_server


# ----------------------------------------------------------------------------------------------
# Due webhook steps for the dispatcher to chew on
# ----------------------------------------------------------------------------------------------
def due_webhook_runs(sink_url: str, count: int):
    """``count`` user journeys, each waiting on a webhook step that is due now, then a tag step.

    Returns the journey. The runs are scheduled (a delay before the webhook) and then made due,
    so only the dispatcher (beat's tick) takes them, in batches.
    """
    from django.db.models import F

    from journeys.models import Participant, StepRun
    from journeys.services.enrolment import Enrolment, user_journeys_enrol
    from tests.journeys.factories import action, make_journey, tag_step

    journey = make_journey(
        [
            action("hook", "trigger_webhook", {"url": f"{sink_url}/hook"}, delay_minutes=1, max_attempts=10),
            tag_step("after", "done", order=1),
        ]
    )
    participants = Participant.objects.bulk_create([Participant(user_id=f"p-{i}") for i in range(count)])
    user_journeys_enrol(enrolments=[Enrolment(journey=journey, participant=p) for p in participants])
    StepRun.objects.filter(step_key="hook").update(due_at=F("due_at") - timedelta(minutes=2))
    return journey


def deliveries_by_id(sink) -> dict[str, set[bytes]]:
    """Webhook-id → the distinct bodies received under it."""
    found: dict[str, set[bytes]] = {}
    for request in sink.requests:
        found.setdefault(request["headers"]["webhook-id"], set()).add(request["body"])
    return found
