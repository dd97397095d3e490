"""The cache is an optimisation: it may be missing, stale or down, and that costs time, never data.

Two pieces, wired in ``settings.CACHES``:

* ``FailOpenRedisCache``: django-redis with its ``IGNORE_EXCEPTIONS`` behaviour always on (a
  read that cannot reach Redis answers its default, a write is dropped), plus a short circuit
  breaker so that a Redis that hangs costs one socket timeout per ``RETRY_SECONDS``, not one per
  call. Every operation answered without Redis is counted (``outage_stats``) and the outage is
  logged once when it starts, not once per call.
* ``namespaced_key``: the ``KEY_FUNCTION`` that puts the database a process is connected to into
  every key. Entries describe rows of one database; a benchmark's scratch database or the test
  database therefore never reads or writes a deployment's entries, even on the same Redis with
  the same ``CACHE_KEY_PREFIX``.
"""

import hashlib
import logging
import sys
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db import connections
from django_redis.cache import CONNECTION_INTERRUPTED, RedisCache
from django_redis.exceptions import ConnectionInterrupted

logger = logging.getLogger("config.cache")

DEFAULT_RETRY_SECONDS = 5.0  # how long Redis is left alone after a failure before it is tried again


@dataclass
class OutageStats:
    failed_open: int = 0  # operations answered without Redis since the process started
    failed_calls: int = 0  # of those, the ones that tried Redis (the others met the open breaker)
    outages: int = 0  # times Redis went from reachable to unreachable
    down_since: float | None = None  # time.time() of the current outage's first failure


class _OutageRecorder:
    """Stands in for django-redis's logger of ignored exceptions: it counts, logs each outage once
    and opens the breaker. django-redis calls ``exception`` inside its ``except`` block."""

    def __init__(self, *, retry_seconds: float, location: str) -> None:
        self.retry_seconds = retry_seconds
        self.location = location
        self.stats = OutageStats()
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        tried = not isinstance(getattr(error, "__cause__", None), _BreakerOpen)
        with self._lock:
            self.stats.failed_open += 1
            if tried:  # a call skipped by the open breaker must not keep it open
                self.stats.failed_calls += 1
                self._retry_at = time.monotonic() + self.retry_seconds
            starting = self.stats.down_since is None
            if starting:
                self.stats.down_since = time.time()
                self.stats.outages += 1
        if starting:
            logger.warning(
                "cache at %s unreachable; answering without it (retrying every %.0f s)",
                self.location,
                self.retry_seconds,
                exc_info=True,
            )

    def breaker_open(self) -> bool:
        return time.monotonic() < self._retry_at

    def reachable(self) -> None:
        if self.stats.down_since is not None:
            with self._lock:
                down_for = time.time() - (self.stats.down_since or time.time())
                self.stats.down_since = None
            logger.warning(
                "cache at %s reachable again after %.1f s (%d operations answered without it so far)",
                self.location,
                down_for,
                self.stats.failed_open,
            )


_recorders: dict[tuple[str, float], _OutageRecorder] = {}
_recorders_lock = threading.Lock()


def _recorder_for(location: str, retry_seconds: float) -> _OutageRecorder:
    """One recorder (counters and breaker) per Redis and process: Django makes a cache backend
    per thread, but an outage is the process's to count and to wait out."""
    with _recorders_lock:
        key = (location, retry_seconds)
        if key not in _recorders:
            _recorders[key] = _OutageRecorder(retry_seconds=retry_seconds, location=location)
        return _recorders[key]


class _BreakerOpen(Exception):
    """Redis failed less than ``RETRY_SECONDS`` ago; it is not tried again yet."""


class FailOpenRedisCache(RedisCache):
    """django-redis that never raises for an unreachable Redis (reads miss, writes are dropped).

    ``OPTIONS["RETRY_SECONDS"]`` sets the breaker's pause (default 5 s).
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS", {}))
        retry_seconds = float(options.pop("RETRY_SECONDS", DEFAULT_RETRY_SECONDS))
        super().__init__(server, {**params, "OPTIONS": options})
        self._ignore_exceptions = True
        self._log_ignored_exceptions = True
        self.logger = _recorder_for(server, retry_seconds)

    @property
    def client(self):
        if self.logger.breaker_open():
            raise ConnectionInterrupted(connection=None) from _BreakerOpen(self._server)
        return super().client

    def _get(self, key, default, version, client):
        value = super()._get(key, default, version, client)
        self._note_reply(value)
        return value

    def get_many(self, *args, **kwargs):
        found = super().get_many(*args, **kwargs)
        if found:
            self.logger.reachable()
        return found

    def _note_reply(self, value: Any) -> None:
        if value is not CONNECTION_INTERRUPTED:
            self.logger.reachable()

    @property
    def outage_stats(self) -> OutageStats:
        return self.logger.stats


def outage_stats(alias: str = "default") -> OutageStats | None:
    """The fail-open counters of a cache, or ``None`` when it is not a ``FailOpenRedisCache``."""
    from django.core.cache import caches

    backend = caches[alias]
    return backend.outage_stats if isinstance(backend, FailOpenRedisCache) else None


# ----------------------------------------------------------------------------------------------
# Keys
# ----------------------------------------------------------------------------------------------
def namespaced_key(key: str, key_prefix: str, version: int | str) -> str:
    """``<prefix>:<database>:<version>:<key>``, the database being the one this thread uses now.

    Read at call time, not at import: the test runner and the benchmarks switch to a scratch
    database after settings are loaded, and their entries must follow them there.
    """
    return f"{key_prefix}:{database_namespace()}:{version}:{key}"


def database_namespace(alias: str = "default") -> str:
    settings_dict = connections[alias].settings_dict
    return _namespace(
        str(settings_dict.get("ENGINE") or ""),
        str(settings_dict.get("HOST") or ""),
        str(settings_dict.get("PORT") or ""),
        str(settings_dict.get("NAME") or ""),
    )


@lru_cache(maxsize=32)
def _namespace(engine: str, host: str, port: str, name: str) -> str:
    if engine.endswith("sqlite3"):
        # A file path: its name for people reading keys, a digest of the full path to tell
        # two checkouts' databases apart.
        digest = hashlib.sha256(str(Path(name).resolve()).encode()).hexdigest()[:8]
        return f"db={Path(name).name}.{digest}"
    return f"db={name}@{host or 'local'}:{port or 'default'}"
