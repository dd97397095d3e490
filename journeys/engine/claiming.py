"""Claiming due step runs: the step runs queue's claim, written out in SQL.

One statement turns due runs into ``running`` with a lease and counts the attempt: on Postgres
``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``, so two dispatchers never
take the same run; on SQLite the database's single writer does it. The step runs table is a
durable queue (``journeys.queue``, ``STEP_RUNS``): the statements below are its claim written out
for the join to the user journey and the planner's sake. A claim returns the columns the batch
needs before it loads anything (``Claim``).
"""

from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from journeys.engine.runner import STEP_RETRY
from journeys.models import StepRun, UserJourney
from journeys.queue import Queue

KICK_CHUNK = 100  # run ids per Celery message when kicking runs after commit

STEP_RUNS = Queue(
    name="step runs",
    model=StepRun,
    waiting=Q(status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED]),
    due_field="due_at",
    held=Q(status=StepRun.Status.RUNNING),
    lease_field="lease_until",
    lease_seconds=lambda: settings.STEP_LEASE_SECONDS,
    chunk=KICK_CHUNK,  # beat's step_runs_dispatch is this queue's sweep: it claims expired leases too
    backoff=STEP_RETRY,
)


_CLAIM_DUE_SQL = """
UPDATE journeys_steprun SET status = 'running', lease_until = %(lease)s, attempts = attempts + 1,
       executed_at = %(now)s
WHERE id IN (
    SELECT sr.id FROM journeys_steprun sr
    JOIN journeys_userjourney uj ON uj.id = sr.user_journey_id
    WHERE sr.status IN ('pending', 'scheduled') AND sr.due_at <= %(now)s AND uj.state = 'active'
    ORDER BY sr.due_at
    LIMIT %(limit)s
    FOR UPDATE OF sr SKIP LOCKED
)
RETURNING id, attempts, due_at, user_journey_id, entered, step_kind, action_type
"""
_CLAIM_EXPIRED_SQL = """
UPDATE journeys_steprun SET lease_until = %(lease)s, attempts = attempts + 1, executed_at = %(now)s
WHERE id IN (
    SELECT sr.id FROM journeys_steprun sr
    WHERE sr.status = 'running' AND sr.lease_until < %(now)s
    ORDER BY sr.lease_until
    LIMIT %(limit)s
    FOR UPDATE OF sr SKIP LOCKED
)
RETURNING id, attempts, due_at, user_journey_id, entered, step_kind, action_type
"""
_CLAIM_IDS_SQL = """
UPDATE journeys_steprun SET status = 'running', lease_until = %(lease)s, attempts = attempts + 1,
       executed_at = %(now)s
WHERE id IN (
    SELECT sr.id FROM journeys_steprun sr
    JOIN journeys_userjourney uj ON uj.id = sr.user_journey_id
    WHERE sr.id = ANY(%(ids)s) AND sr.status IN ('pending', 'scheduled') AND sr.due_at <= %(now)s
      AND uj.state = 'active'
    FOR UPDATE OF sr SKIP LOCKED
)
RETURNING id, attempts, due_at, user_journey_id, entered, step_kind, action_type
"""


class Claim(NamedTuple):
    """A claimed run, with what the batch needs to know before loading it."""

    id: int
    attempts: int  # the attempt we hold: the run is still ours while it has this count
    due_at: datetime | None
    user_journey_id: int
    entered: bool
    step_kind: str
    action_type: str


_CLAIM_FIELDS = ("id", "attempts", "due_at", "user_journey_id", "entered", "step_kind", "action_type")


def _claim_sql(sql: str, params: dict[str, Any]) -> list[Claim]:
    """Run a claim statement with bitmap scans off for its duration.

    The due runs must be read in ``due_at`` order from the partial index, the scan stopping at
    the limit. When many runs fall due at once (a campaign, a backlog after an outage), the
    table's statistics still say few are due, and the planner would rather collect every due run
    with a bitmap scan, join each to its user journey and sort them: 47 ms instead of 1 ms per
    claim with 30,000 due, growing with the backlog.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(sql, params)
        claims = [Claim(*row) for row in cursor.fetchall()]
        cursor.execute("RESET enable_bitmapscan")  # also inside a caller's transaction
    return claims


def _claim_orm(queryset, *, now: datetime, lease: datetime, limit: int | None) -> list[Claim]:
    """SQLite: one writer at a time (IMMEDIATE transactions), so read-then-update is safe."""
    with transaction.atomic():
        rows = list(
            queryset.values_list(*_CLAIM_FIELDS)[:limit] if limit else queryset.values_list(*_CLAIM_FIELDS)
        )
        if rows:
            StepRun.objects.filter(pk__in=[r[0] for r in rows]).update(
                status=StepRun.Status.RUNNING, lease_until=lease, attempts=F("attempts") + 1, executed_at=now
            )
    return [Claim(row[0], row[1] + 1, *row[2:]) for row in rows]


def step_runs_claim_due(*, limit: int, now: datetime | None = None) -> list[Claim]:
    """Claim up to ``limit`` due runs of active journeys, then runs whose worker's lease ran out."""
    now = now or timezone.now()
    lease = STEP_RUNS.lease_until(now)
    if connection.vendor == "postgresql":
        claims = _claim_sql(_CLAIM_DUE_SQL, {"now": now, "lease": lease, "limit": limit})
        if len(claims) < limit:
            claims += _claim_sql(
                _CLAIM_EXPIRED_SQL, {"now": now, "lease": lease, "limit": limit - len(claims)}
            )
        return claims
    due = StepRun.objects.filter(STEP_RUNS.due(now), user_journey__state=UserJourney.State.ACTIVE)
    claims = _claim_orm(due.order_by("due_at"), now=now, lease=lease, limit=limit)
    if len(claims) < limit:
        expired = StepRun.objects.filter(STEP_RUNS.expired(now)).order_by("lease_until")
        claims += _claim_orm(expired, now=now, lease=lease, limit=limit - len(claims))
    return claims


def step_runs_claim(*, run_ids: list[int], now: datetime | None = None) -> list[Claim]:
    """Claim these runs if they are due (kicked after commit) unless another worker took them first."""
    if not run_ids:
        return []
    now = now or timezone.now()
    lease = STEP_RUNS.lease_until(now)
    if connection.vendor == "postgresql":
        return _claim_sql(_CLAIM_IDS_SQL, {"now": now, "lease": lease, "ids": list(run_ids)})
    pending = StepRun.objects.filter(
        STEP_RUNS.due(now), pk__in=run_ids, user_journey__state=UserJourney.State.ACTIVE
    )
    return _claim_orm(pending, now=now, lease=lease, limit=None)
