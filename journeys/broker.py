"""Sending work to the broker after commit, when the broker may be down.

The broker is never the source of truth: what a message would start (processing an event,
executing a step run) is a row in the database that a beat sweeper finds again. So a message
that cannot be sent is left to the sweeper, and after one failure the broker is left alone for
``BROKER_RETRY_SECONDS``: while Redis is down, each request pays for one failed connection per
pause and process, not one (with kombu's retries) per request.
"""

import logging
import threading
import time
from typing import Any

from journeys import metrics

logger = logging.getLogger(__name__)

BROKER_RETRY_SECONDS = 5.0  # how long the broker is left alone after a failed send

_lock = threading.Lock()
_retry_at: dict[str, float] = {}  # broker URL → when to try it again


def task_send(task: Any, *args: Any, left_to: str) -> bool:
    """``task.delay(*args)``, or nothing while its broker is known to be down. Returns whether
    the message was sent; ``left_to`` names who picks the work up otherwise (for the log)."""
    broker = str(task.app.conf.broker_url)
    if time.monotonic() < _retry_at.get(broker, 0.0):
        return False
    try:
        task.delay(*args)
    except Exception:
        metrics.BROKER_PUBLISH_FAILURES.labels(task=getattr(task, "name", str(task))).inc()
        with _lock:
            first = time.monotonic() >= _retry_at.get(broker, 0.0)
            _retry_at[broker] = time.monotonic() + BROKER_RETRY_SECONDS
        if first:
            logger.warning(
                "could not send %s; %s will pick the work up (the broker is left alone for %.0f s)",
                getattr(task, "name", task),
                left_to,
                BROKER_RETRY_SECONDS,
                exc_info=True,
            )
        return False
    return True
