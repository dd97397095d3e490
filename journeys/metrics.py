"""Prometheus metrics of the event spine and the journey engine.

Kept in process by prometheus_client (in multi-process mode, in files under
``PROMETHEUS_MULTIPROC_DIR`` that every gunicorn and Celery process writes), so a scrape never
scans the database. Counters incremented inside a transaction that later rolls back still count:
they measure work done, not rows kept. The engine calls these in single lines.
"""

from collections import Counter as Tally
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)  # seconds
LAG_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)  # seconds

JOURNEY_STARTED = Counter("journey_started", "User journeys started, per journey.", ["name"])
JOURNEY_STEP_FIRED = Counter(
    "journey_step_fired", "Steps that ran to success, per journey and step.", ["name", "step"]
)
STEP_RUNS_FINISHED = Counter("journey_step_runs_finished", "Step runs finished, per status.", ["status"])
STEP_RUNS_DEAD_LETTERED = Counter(
    "journey_step_runs_dead_lettered",
    "Step runs out of attempts (dead letters), per journey and step.",
    ["name", "step"],
)
STEP_RUN_LATENCY = Histogram(
    "journey_step_run_latency_seconds",
    "From a worker's claim of a step run to its record.",
    buckets=LATENCY_BUCKETS,
)
DISPATCH_LAG = Histogram(
    "journey_step_dispatch_lag_seconds",
    "How late a worker claimed a step run after it fell due.",
    buckets=LAG_BUCKETS,
)
EVENTS_INGESTED = Counter("events_ingested", "Events accepted by the API, new or repeated.", ["duplicate"])
EVENTS_PROCESSED = Counter("events_processed", "Events processed by the bus, per outcome.", ["status"])
BROKER_PUBLISH_FAILURES = Counter(
    "broker_publish_failures",
    "Messages the broker refused (it was down); the sweepers and the dispatcher recover the work.",
    ["task"],
)


@lru_cache(maxsize=4096)  # label sets in use: statuses, steps of each journey
def labelled(metric: Any, *values: Any) -> Any:
    """``metric.labels(*values)``, kept: ``labels`` checks and locks on every call, which was
    half of what recording a step's metrics cost. No metric here is ever removed or cleared,
    so a kept child stays the metric's own."""
    return metric.labels(*values)


def _journey_name(user_journey: Any) -> str:
    return (user_journey.context.get("journey") or {}).get("name") or str(user_journey.journey_id)


def journeys_started(user_journeys: Iterable[Any]) -> None:
    for name, n in Tally(_journey_name(uj) for uj in user_journeys).items():
        labelled(JOURNEY_STARTED, name).inc(n)


def step_recorded(user_journey: Any, run: Any, definition: Any) -> None:
    """A step run finished (succeeded, skipped, failed or cancelled)."""
    labelled(STEP_RUNS_FINISHED, run.status).inc()
    step = definition.steps.get(run.step_key)
    if run.status == "succeeded":
        labelled(JOURNEY_STEP_FIRED, _journey_name(user_journey), step.name if step else run.step_key).inc()
    if run.executed_at and run.finished_at:
        STEP_RUN_LATENCY.observe(max((run.finished_at - run.executed_at).total_seconds(), 0.0))


def step_dead_lettered(user_journey: Any, run: Any, definition: Any) -> None:
    step = definition.steps.get(run.step_key)
    labelled(STEP_RUNS_DEAD_LETTERED, _journey_name(user_journey), step.name if step else run.step_key).inc()


def dispatch_lags(lags: Iterable[float]) -> None:
    for lag in lags:
        DISPATCH_LAG.observe(lag)


def events_ingested(results: Iterable[Any]) -> None:
    for duplicate, n in Tally(bool(r.duplicate) for r in results).items():
        labelled(EVENTS_INGESTED, str(duplicate).lower()).inc(n)


def events_settled(events: Iterable[Any]) -> None:
    for status, n in Tally(e.status for e in events).items():
        labelled(EVENTS_PROCESSED, status).inc(n)
