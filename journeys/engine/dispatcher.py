"""The dispatcher: claims due step runs in batches and executes them.

Beat ticks ``step_runs_dispatch`` every second; runs that must run at once are also kicked
straight to a worker after their transaction commits (``dispatch_on_commit``). Either way a run
is executed in three phases, each for a whole batch:

1. **claim**: one statement turns due runs into ``running`` with a lease and counts the
   attempt (on Postgres ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``, so
   two dispatchers never take the same run; on SQLite the database's single writer does it);
2. **side effects** (email, webhooks, push, Telegram) run outside any transaction, in threads
   when the action touches no database, after quiet hours and frequency caps are checked;
3. **record**: one transaction for the batch (a savepoint per run) locks each user journey,
   checks the run is still ours (status ``running`` and the attempt we claimed), records the
   outcome and walks on.

A worker killed between 2 and 3 leaves its runs ``running``; when their lease runs out the
dispatcher claims them again and the action runs again with the same step run id as its
idempotency key (``webhook-id``), so the receiver can drop the repeat. Nothing is lost.
"""

import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from journeys.actions.base import ActionSkipped
from journeys.engine.definition import definition_for
from journeys.engine.runner import ActionOutcome, Walker, action_of, lock_user_journey
from journeys.engine.timing import parse_duration, participant_zone, quiet_until
from journeys.errors import DomainError
from journeys.models import StepRun, UserJourney

logger = logging.getLogger(__name__)

KICK_CHUNK = 100  # run ids per Celery message when kicking runs after commit
KICK_ROUNDS = 20  # rounds an execute task follows newly created runs before leaving them to beat


@dataclass
class DispatchStats:
    claimed: int = 0
    executed: int = 0
    stale: int = 0
    batches: int = 0
    lags: list[float] = field(default_factory=list)  # seconds between due_at and the claim


# ----------------------------------------------------------------------------------------------
# Claiming
# ----------------------------------------------------------------------------------------------
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
RETURNING id, attempts, due_at
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
RETURNING id, attempts, due_at
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
RETURNING id, attempts, due_at
"""

Claim = tuple[int, int, datetime | None]  # run id, the attempt we hold, when it was due


def _claim_sql(sql: str, params: dict[str, Any]) -> list[Claim]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def _claim_orm(queryset, *, now: datetime, lease: datetime, limit: int | None) -> list[Claim]:
    """SQLite: one writer at a time (IMMEDIATE transactions), so read-then-update is safe."""
    with transaction.atomic():
        rows = list(
            queryset.values_list("id", "attempts", "due_at")[:limit]
            if limit
            else queryset.values_list("id", "attempts", "due_at")
        )
        if rows:
            StepRun.objects.filter(pk__in=[r[0] for r in rows]).update(
                status=StepRun.Status.RUNNING, lease_until=lease, attempts=F("attempts") + 1, executed_at=now
            )
    return [(pk, attempts + 1, due) for pk, attempts, due in rows]


def step_runs_claim_due(*, limit: int, now: datetime | None = None) -> list[Claim]:
    """Claim up to ``limit`` due runs of active journeys, then runs whose worker's lease ran out."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.STEP_LEASE_SECONDS)
    if connection.vendor == "postgresql":
        claims = _claim_sql(_CLAIM_DUE_SQL, {"now": now, "lease": lease, "limit": limit})
        if len(claims) < limit:
            claims += _claim_sql(
                _CLAIM_EXPIRED_SQL, {"now": now, "lease": lease, "limit": limit - len(claims)}
            )
        return claims
    due = StepRun.objects.filter(
        status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED],
        due_at__lte=now,
        user_journey__state=UserJourney.State.ACTIVE,
    ).order_by("due_at")
    claims = _claim_orm(due, now=now, lease=lease, limit=limit)
    if len(claims) < limit:
        expired = StepRun.objects.filter(status=StepRun.Status.RUNNING, lease_until__lt=now).order_by(
            "lease_until"
        )
        claims += _claim_orm(expired, now=now, lease=lease, limit=limit - len(claims))
    return claims


def step_runs_claim(*, run_ids: list[int], now: datetime | None = None) -> list[Claim]:
    """Claim these runs if they are due (kicked after commit) unless another worker took them first."""
    if not run_ids:
        return []
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.STEP_LEASE_SECONDS)
    if connection.vendor == "postgresql":
        return _claim_sql(_CLAIM_IDS_SQL, {"now": now, "lease": lease, "ids": list(run_ids)})
    pending = StepRun.objects.filter(
        pk__in=run_ids,
        status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED],
        due_at__lte=now,
        user_journey__state=UserJourney.State.ACTIVE,
    )
    return _claim_orm(pending, now=now, lease=lease, limit=None)


# ----------------------------------------------------------------------------------------------
# Quiet hours and frequency caps
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _caps(raw: tuple[tuple[str, str], ...]) -> dict[str, tuple[int, timedelta]]:
    caps = {}
    for channel, rule in raw:
        count, _, period = str(rule).partition("/")
        period = period.strip() or "day"
        caps[channel] = (int(count), parse_duration(period if period[0].isdigit() else f"1 {period}"))
    return caps


def frequency_caps() -> dict[str, tuple[int, timedelta]]:
    """``JOURNEY_FREQUENCY_CAPS`` (``{"email": "3/day"}``) as channel → (count, window)."""
    return _caps(tuple(sorted(settings.JOURNEY_FREQUENCY_CAPS.items())))


def _gate(run: StepRun, now: datetime, sent_in_batch: Counter) -> ActionOutcome | None:
    """Hold a message back for quiet hours, or skip/defer it over a frequency cap."""
    if not run.channel:
        return None
    definition = definition_for(run.user_journey.version)
    zone = participant_zone(run.participant.attributes)
    until = quiet_until(now, definition.quiet_start, definition.quiet_end, zone)
    if until is not None:
        return ActionOutcome(
            deferred_until=until,
            trace={
                "reason": "quiet hours",
                "at": now.isoformat(),
                "until": until.isoformat(),
                "zone": str(zone),
            },
        )
    cap = frequency_caps().get(run.channel)
    if cap is None:
        return None
    limit, window = cap
    key = (run.participant_id, run.channel)
    recent = list(
        StepRun.objects.filter(
            participant_id=run.participant_id,
            channel=run.channel,
            status=StepRun.Status.SUCCEEDED,
            finished_at__gte=now - window,
        )
        .exclude(pk=run.pk)
        .order_by("finished_at")
        .values_list("finished_at", flat=True)[: limit + sent_in_batch[key]]
    )
    count = len(recent) + sent_in_batch[key]
    if count < limit:
        sent_in_batch[key] += 1
        return None
    trace = {
        "reason": "frequency cap",
        "channel": run.channel,
        "limit": limit,
        "window_seconds": window.total_seconds(),
        "sent": count,
    }
    if definition.cap_policy == "skip":
        return ActionOutcome(skipped=f"frequency cap: {limit} {run.channel} per {window}", trace=trace)
    oldest = recent[count - limit] if count - limit < len(recent) else now
    until = max(oldest + window, now) + timedelta(seconds=1)
    return ActionOutcome(deferred_until=until, trace={**trace, "until": until.isoformat()})


# ----------------------------------------------------------------------------------------------
# Executing
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.STEP_EXECUTION_THREADS, thread_name_prefix="step-action")


def _perform(action, context) -> ActionOutcome:
    try:
        result = action.execute(context)
    except ActionSkipped as skip:
        return ActionOutcome(skipped=skip.reason)
    except DomainError as exc:
        return ActionOutcome(error=f"{type(exc).__name__}: {exc.message}", permanent=True)
    except Exception as exc:
        logger.warning("action %s failed", getattr(action, "name", action), exc_info=True)
        return ActionOutcome(error=f"{type(exc).__name__}: {exc}")
    return ActionOutcome(result=result or {}, side_effect_done=True)


def _side_effects(runs: list[StepRun], now: datetime) -> dict[int, ActionOutcome]:
    outcomes: dict[int, ActionOutcome] = {}
    sent_in_batch: Counter = Counter()
    futures = {}
    for run in runs:
        gated = _gate(run, now, sent_in_batch)
        if gated is not None:
            outcomes[run.pk] = gated
            continue
        walker = Walker(run.user_journey, now=now)
        step = walker.definition[run.step_key]
        action = action_of(step)
        context = walker.action_context(run, step)
        if getattr(action, "concurrent", False) and len(runs) > 1:
            futures[run.pk] = _pool().submit(_perform, action, context)
        else:
            outcomes[run.pk] = _perform(action, context)
    for pk, future in futures.items():
        outcomes[pk] = future.result()
    return outcomes


Item = tuple[int, int, int, ActionOutcome | None]  # run id, user journey id, attempt held, outcome


def _record(item: Item, stats: DispatchStats, kick: list[int]) -> None:
    """Phase 3 for one run, in the caller's transaction (a savepoint).

    Locks in the order every writer uses: the user journey, then the run.
    """
    run_id, user_journey_id, token, outcome = item
    uj = lock_user_journey(user_journey_id)
    run = StepRun.objects.select_for_update().filter(pk=run_id).first()
    if uj is None or run is None or run.status != StepRun.Status.RUNNING or run.attempts != token:
        stats.stale += 1  # re-claimed after our lease ran out, or finished by someone else
        return
    run.user_journey = uj
    run.participant = uj.participant
    walker = Walker(uj)
    if outcome is not None:  # the side effect was attempted
        if uj.is_live:
            walker.complete_action(run, outcome)
        elif outcome.side_effect_done:
            walker._record(run, StepRun.Status.SUCCEEDED, outcome.result or {})
        else:
            walker._record(run, StepRun.Status.CANCELLED, {"cancelled": f"user journey {uj.state}"})
    elif uj.state == UserJourney.State.ACTIVE:
        walker.run_due(run)
    elif uj.is_live:  # paused since the claim: give the run back untouched
        StepRun.objects.filter(pk=run.pk).update(
            status=StepRun.Status.SCHEDULED if run.entered else StepRun.Status.PENDING,
            attempts=max(run.attempts - 1, 0),
            lease_until=None,
        )
    else:
        walker._record(run, StepRun.Status.CANCELLED, {"cancelled": f"user journey {uj.state}"})
    stats.executed += 1
    kick.extend(walker.kick)


def _record_all(items: list[Item], stats: DispatchStats, kick: list[int]) -> None:
    for item in items:
        try:
            with transaction.atomic():
                _record(item, stats, kick)
        except Exception:
            # A bug or a lost race in one run must not lose the batch; the run keeps its lease and
            # is claimed again when it runs out (counting an attempt, so it cannot loop for ever).
            logger.exception("recording step run %s failed", item[0])


def step_runs_execute(*, claims: list[Claim]) -> tuple[DispatchStats, list[int]]:
    """Execute claimed runs. Returns stats and the runs their walks made pending (to kick)."""
    stats = DispatchStats(claimed=len(claims))
    if not claims:
        return stats, []
    now = timezone.now()
    tokens = {pk: attempts for pk, attempts, _ in claims}
    runs = list(
        StepRun.objects.filter(pk__in=tokens, status=StepRun.Status.RUNNING)
        .select_related("participant", "user_journey__version", "user_journey__participant")
        .order_by("user_journey_id", "seq")
    )
    side_effect_runs = []
    for run in runs:
        if run.attempts != tokens[run.pk]:
            continue
        step = definition_for(run.user_journey.version).steps.get(run.step_key)
        action = action_of(step) if step else None
        if run.entered and action is not None and not getattr(action, "transactional", False):
            side_effect_runs.append(run)
    # A run claimed again and again (its workers keep dying mid-step) stops being tried.
    exhausted = {run.pk for run in side_effect_runs if run.attempts > run.max_attempts}
    outcomes = _side_effects([run for run in side_effect_runs if run.pk not in exhausted], now)
    for pk in exhausted:
        outcomes[pk] = ActionOutcome(
            error="Abandoned by its worker more often than max attempts.", permanent=True
        )

    items = [
        (run.pk, run.user_journey_id, tokens[run.pk], outcomes.get(run.pk))
        for run in runs
        if run.attempts == tokens[run.pk]
    ]
    stats.stale += len(runs) - len(items) + len(tokens) - len(runs)
    kick: list[int] = []
    try:
        with transaction.atomic():  # one commit for the batch; a savepoint per run
            _record_all(items, stats, kick)
    except Exception:
        logger.exception("recording a batch failed; recording its runs one by one")
        stats.executed = 0
        kick.clear()
        _record_all(items, stats, kick)
    for _pk, _attempts, due_at in claims:
        if due_at is not None:
            stats.lags.append(max((now - due_at).total_seconds(), 0.0))
    return stats, kick


def step_runs_dispatch(
    *, budget_seconds: float | None = None, batch_size: int | None = None
) -> DispatchStats:
    """Claim and execute due runs in batches until none is due or the time budget is spent."""
    budget = settings.STEP_DISPATCH_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    size = batch_size or settings.STEP_DISPATCH_BATCH
    deadline = time.monotonic() + budget
    total = DispatchStats()
    while True:
        claims = step_runs_claim_due(limit=size)
        if not claims:
            break
        stats, _ = step_runs_execute(claims=claims)  # runs its walks made pending are due: claimed next
        total.claimed += stats.claimed
        total.executed += stats.executed
        total.stale += stats.stale
        total.batches += 1
        total.lags.extend(stats.lags)
        if time.monotonic() >= deadline:
            break
    return total


def step_runs_execute_now(*, run_ids: list[int]) -> DispatchStats:
    """Claim and execute kicked runs, then the runs their walks made pending, a few rounds deep."""
    total = DispatchStats()
    for _ in range(KICK_ROUNDS):
        claims = step_runs_claim(run_ids=run_ids)
        if not claims:
            break
        stats, run_ids = step_runs_execute(claims=claims)
        total.claimed += stats.claimed
        total.executed += stats.executed
        total.stale += stats.stale
        if not run_ids:
            break
    else:
        dispatch_on_commit(run_ids)
    return total


def dispatch_on_commit(run_ids: list[int]) -> None:
    """Send pending runs to a worker once the surrounding transaction commits.

    If the message is lost (broker down), the runs are due now and beat's dispatcher claims them
    within a second or two.
    """
    ids = list(run_ids)
    if not ids:
        return

    def send() -> None:
        from journeys.tasks import step_runs_execute_task

        for start in range(0, len(ids), KICK_CHUNK):
            chunk = ids[start : start + KICK_CHUNK]
            try:
                step_runs_execute_task.delay(chunk)
            except Exception:
                logger.warning(
                    "could not enqueue step runs %s; the dispatcher will claim them", chunk, exc_info=True
                )

    transaction.on_commit(send)
