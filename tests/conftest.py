"""Infrastructure fixtures shared by every app's tests: API clients, users, the Celery worker.

Services: Postgres is used when ``DATABASE_URL`` names it, Redis when ``REDIS_URL`` is set.
Tests marked ``postgres`` / ``redis`` are skipped without them, except in CI (``CI=true``),
where a missing service fails the run instead of hiding tests.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from config.celery import app as celery_app

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_RUN_ID = uuid.uuid4().hex[:8]
BASE_DIR = Path(__file__).resolve().parent.parent


def pytest_configure(config) -> None:
    # Users are made by the hundred; a slow password hash only costs time here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if settings.REDIS_URL:
        # A prefix of our own, so clearing the cache between tests touches nothing else.
        settings.CACHES["default"]["KEY_PREFIX"] = f"test-{TEST_RUN_ID}"
    else:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "KEY_FUNCTION": "config.cache.namespaced_key",
            }
        }
    # Tasks run inline when their on-commit callback runs; the worker tests switch this off.
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_default_queue = f"test-{TEST_RUN_ID}"


def pytest_collection_modifyitems(config, items) -> None:
    is_postgres = connection.vendor == "postgresql"
    has_redis = bool(settings.REDIS_URL)
    for item in items:
        if "postgres" in item.keywords and not is_postgres:
            if IN_CI:
                raise pytest.UsageError(f"{item.nodeid} needs Postgres and CI must not skip it")
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…"))
        if ("redis" in item.keywords or "worker" in item.keywords) and not has_redis:
            if IN_CI:
                raise pytest.UsageError(f"{item.nodeid} needs Redis and CI must not skip it")
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://…"))


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    if settings.REDIS_URL:
        cache.delete_pattern("*")
    else:
        cache.clear()
    yield


# ----------------------------------------------------------------------------------------------
# Users and clients
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def make_user(db):
    """A user with exactly the given permissions (``"app.codename"`` strings)."""

    def make(username: str = "", *perms: str, superuser: bool = False):
        user_model = get_user_model()
        username = username or f"user-{uuid.uuid4().hex[:6]}"
        if superuser:
            return user_model.objects.create_superuser(username=username, password="pw-for-tests-1")
        user = user_model.objects.create_user(username=username, password="pw-for-tests-1")
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return user

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user("root", superuser=True)


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous client."""
    return APIClient()


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    """A client authenticated as a superuser."""
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.fixture
def client_for():
    """A client authenticated as the given user."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


# ----------------------------------------------------------------------------------------------
# A real Celery worker (Redis broker, the test database)
# ----------------------------------------------------------------------------------------------
def _database_url_for_tests() -> str:
    test_db = connection.settings_dict["NAME"]
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{test_db}"))


class WorkerProcess:
    """A ``celery worker`` subprocess on the test queue; ``kill()`` is a ``kill -9``. Its pool:
    solo, prefork with ``concurrency`` processes, or ``threads`` threads in one process."""

    def __init__(
        self, *, concurrency: int = 1, threads: int = 1, extra_env: dict[str, str] | None = None
    ) -> None:
        self.log_path = BASE_DIR / "var" / f"test-worker-{TEST_RUN_ID}-{uuid.uuid4().hex[:4]}.log"
        self.log_path.parent.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": _database_url_for_tests(),
            "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            # Tasks the worker itself sends (events it emits) stay on the test queue too.
            "CELERY_QUEUE": celery_app.conf.task_default_queue,
            **(extra_env or {}),
        }
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--pool",
                "threads" if threads > 1 else "solo" if concurrency == 1 else "prefork",
                "--concurrency",
                str(max(concurrency, threads)),
                "--queues",
                celery_app.conf.task_default_queue,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--hostname",
                f"test-{uuid.uuid4().hex[:6]}@%h",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log_path.read_text():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()}")
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.log_path.read_text()}")

    def log(self) -> str:
        return self.log_path.read_text()

    def kill(self) -> None:
        """SIGKILL the whole worker (no chance to ack, finish or clean up)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture
def celery_worker(transactional_db) -> Iterator:
    """Start real worker processes on Redis against the test database: ``celery_worker()``."""
    celery_app.conf.task_always_eager = False
    workers: list[WorkerProcess] = []

    def start(**kwargs) -> WorkerProcess:
        worker = WorkerProcess(**kwargs)
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()
        celery_app.conf.task_always_eager = True
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(celery_app.conf.task_default_queue)


# ----------------------------------------------------------------------------------------------
# A webhook sink: a real HTTP server on 127.0.0.1 that records what it receives
# ----------------------------------------------------------------------------------------------
class WebhookSink:
    """Records every request; ``status`` sets the answer, ``delay`` slows it down (seconds)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        sink = self
        self.requests: list[dict] = []
        self.status = 200
        self.delay = 0.0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (a killed worker): no receiver would accept
                    # a cut-off body, so it is not a delivery.
                    self.close_connection = True
                    return
                if sink.delay:
                    time.sleep(sink.delay)
                with sink._lock:
                    sink.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                        }
                    )
                self.send_response(sink.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # Workers send many webhooks at once: a backlog of 5 (the default) makes the
            # kernel reset connections, which the engine then rightly retries.
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def json_bodies(self) -> list:
        import json

        with self._lock:
            return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_sink(settings) -> Iterator[WebhookSink]:
    """A local HTTP server, allow-listed for outbound calls (loopback is refused otherwise)."""
    sink = WebhookSink()
    settings.WEBHOOK_ALLOWED_HOSTS = [*settings.WEBHOOK_ALLOWED_HOSTS, "127.0.0.1"]
    try:
        yield sink
    finally:
        sink.close()
