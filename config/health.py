"""Liveness and readiness probes (anonymous, never throttled, never cached)."""

import logging
import time

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from config.cache import outage_stats
from config.celery import app as celery_app

logger = logging.getLogger(__name__)
BROKER_TIMEOUT = 2  # seconds
RETRY_AFTER_SECONDS = 5  # what a load balancer or client is told to wait when not ready


@never_cache
def healthz(request):
    """The process is alive and serving requests."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    key = "readyz:probe"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")


def _check_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
        conn.default_channel  # opens a channel: the transport really answers # noqa: B018


@never_cache
def readyz(request):
    """Database and broker answer: 200; otherwise 503 naming what failed.

    The cache is reported but never makes the service unready: requests are answered without it
    (``config.cache``), and taking every web process out of rotation because Redis is down would
    turn a slower service into none.
    """
    checks = {}
    healthy = True
    for name, check in (("database", _check_database), ("cache", _check_cache), ("broker", _check_broker)):
        started = time.perf_counter()
        try:
            check()
            checks[name] = {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}
        except Exception as exc:
            logger.warning("readiness check %s failed: %s", name, exc)
            if name == "cache":
                stats = outage_stats()
                checks[name] = {
                    "status": "degraded",
                    "error": f"{type(exc).__name__}: {exc}",
                    "answered_without_cache": stats.failed_open if stats else None,
                }
                continue
            healthy = False
            checks[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    response = JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )
    if not healthy:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
