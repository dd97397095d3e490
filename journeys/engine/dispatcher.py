"""The dispatcher: claims due step runs in batches and executes them.

Beat ticks ``step_runs_dispatch`` every second; runs that must run at once are also kicked
straight to a worker after their transaction commits (``dispatch_on_commit``). Either way a run
is executed in three phases, each for a whole batch:

1. **claim**: one statement turns due runs into ``running`` with a lease and counts the
   attempt (on Postgres ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``, so
   two dispatchers never take the same run; on SQLite the database's single writer does it);
2. **side effects** (email, webhooks, push, Telegram) run outside any transaction, in threads
   when the action touches no database, after quiet hours and frequency caps are checked;
3. **record**, set-based: one transaction locks the batch's user journeys and participants in
   one statement each (``SKIP LOCKED``), re-reads the runs under those locks and keeps those
   still ours (status ``running`` and the attempt we claimed); walkers record the outcomes and
   walk on in memory (tags included), and the batch is written in a few statements
   (``journeys.engine.batch``). A run whose user journey or participant another transaction
   holds (a wake-up, staff pausing it) is recorded afterwards the row-by-row way: its own
   savepoint, waiting for the lock. So is the whole batch if the set-based write fails.

Either way the user journey's row lock is held while a run is recorded, so waking and timing
out stay serialised, and the attempt check keeps each try recorded once.

The step runs table is a durable queue (``journeys.queue``, ``STEP_RUNS``): the claim statements
below are its claim written out in SQL, for the join to the user journey and the planner's sake.
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
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, TextField, Value, When
from django.utils import timezone

from journeys import metrics
from journeys.actions.base import ActionSkipped
from journeys.engine.batch import participants_lock, versions_load
from journeys.engine.definition import definition_for
from journeys.engine.resuming import ActionOutcome
from journeys.engine.runner import STEP_RETRY, Walker, action_context, lock_user_journey
from journeys.engine.timing import parse_duration, participant_zone, quiet_until
from journeys.engine.writes import BatchWrites
from journeys.errors import DomainError
from journeys.log_context import step_run_logging
from journeys.models import StepRun, UserJourney
from journeys.queue import Queue
from journeys.registries import action_types

logger = logging.getLogger(__name__)

KICK_CHUNK = 100  # run ids per Celery message when kicking runs after commit
KICK_ROUNDS = 20  # rounds an execute task follows newly created runs before leaving them to beat

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


@dataclass
class DispatchStats:
    claimed: int = 0
    executed: int = 0
    stale: int = 0
    batches: int = 0
    lags: list[float] = field(default_factory=list)  # seconds between due_at and the claim
    one_by_one: int = 0  # runs recorded row by row (their rows were locked, or the batch failed)

    def add(self, other: "DispatchStats") -> None:
        self.claimed += other.claimed
        self.executed += other.executed
        self.stale += other.stale
        self.batches += other.batches
        self.one_by_one += other.one_by_one
        self.lags.extend(other.lags)


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
        with step_run_logging(context):
            result = action.execute(context)
    except ActionSkipped as skip:
        return ActionOutcome(skipped=skip.reason)
    except DomainError as exc:
        return ActionOutcome(error=f"{type(exc).__name__}: {exc.message}", permanent=True)
    except Exception as exc:
        with step_run_logging(context):
            logger.warning("action %s failed", action.name, exc_info=True)
        return ActionOutcome(error=f"{type(exc).__name__}: {exc}")
    return ActionOutcome(result=result or {}, side_effect_done=True)


def _freeze_requests(prepared: list[tuple[StepRun, Any, Any]]) -> None:
    """Give each action that freezes its request (a webhook's body) the request of its first
    attempt: stored ones are reused; new ones are stored, in one statement, before anything is
    sent, so a retry or a redelivery after a crash sends the same bytes.

    The statement only fills empty ones: if another worker froze a run meanwhile (its lease ran
    out under us), its request is read back and sent instead of ours.
    """
    new: dict[int, str] = {}
    for run, action, context in prepared:
        if run.request_body:
            context.frozen_request = run.request_body
            continue
        try:
            body = action.freeze(context)
        except Exception:  # e.g. a template error: ``execute`` meets it again and records it
            logger.warning("could not build the request of step run %s", run.pk, exc_info=True)
            continue
        if body is not None:
            new[run.pk] = context.frozen_request = body
    if not new:
        return
    stored = StepRun.objects.filter(pk__in=new, request_body="").update(
        request_body=Case(
            *(When(pk=pk, then=Value(body)) for pk, body in new.items()), output_field=TextField()
        )
    )
    if stored < len(new):
        frozen = dict(StepRun.objects.filter(pk__in=new).values_list("pk", "request_body"))
        for run, _, context in prepared:
            if run.pk in new and frozen.get(run.pk):
                context.frozen_request = frozen[run.pk]


def _side_effects(runs: list[StepRun], now: datetime) -> dict[int, ActionOutcome]:
    outcomes: dict[int, ActionOutcome] = {}
    sent_in_batch: Counter = Counter()
    futures = {}
    prepared: list[tuple[StepRun, Any, Any]] = []
    for run in runs:
        gated = _gate(run, now, sent_in_batch)
        if gated is not None:
            outcomes[run.pk] = gated
            continue
        uj = run.user_journey
        step = definition_for(uj.version)[run.step_key]
        context = action_context(run=run, step=step, user_journey=uj, participant=run.participant)
        prepared.append((run, step.action, context))
    _freeze_requests(prepared)
    for run, action, context in prepared:
        if action.concurrent and len(runs) > 1:
            futures[run.pk] = _pool().submit(_perform, action, context)
        else:
            outcomes[run.pk] = _perform(action, context)
    for pk, future in futures.items():
        outcomes[pk] = future.result()
    return outcomes


class Item(NamedTuple):
    run_id: int
    user_journey_id: int
    attempts: int  # the attempt we hold
    outcome: ActionOutcome | None  # the side effect's, when one was attempted


def _still_ours(run: StepRun | None, item: Item) -> bool:
    """Not re-claimed after our lease ran out, nor finished by someone else."""
    return run is not None and run.status == StepRun.Status.RUNNING and run.attempts == item.attempts


def _record_batch(items: list[Item], now: datetime) -> tuple[DispatchStats, list[Item], list[int]]:
    """Phase 3, set-based, in one transaction. Returns the stats, the items left for the
    row-by-row path (their user journey or participant is locked elsewhere) and the runs to kick.

    Locks in the order every writer uses: user journeys, participants, runs.
    """
    stats = DispatchStats()
    with transaction.atomic():
        journeys = {
            uj.pk: uj
            for uj in UserJourney.objects.select_for_update(skip_locked=True)
            .filter(pk__in={item.user_journey_id for item in items})
            .order_by("pk")
        }
        participants = participants_lock(uj.participant_id for uj in journeys.values())
        mine, left = [], []
        for item in items:
            uj = journeys.get(item.user_journey_id)
            if uj is not None and uj.participant_id in participants:
                mine.append(item)
            else:
                left.append(item)
        if not mine:
            return stats, left, []
        versions_load(journeys.values())
        runs = {
            run.pk: run
            for run in StepRun.objects.select_for_update().filter(pk__in=[item.run_id for item in mine])
        }
        writes = BatchWrites(
            now=now, participants=participants, runs=runs.values(), journeys=journeys.values()
        )
        for item in mine:
            run = runs.get(item.run_id)
            if not _still_ours(run, item):
                stats.stale += 1
                continue
            uj = journeys[item.user_journey_id]
            uj.participant = participants[uj.participant_id]
            run.user_journey = uj
            run.participant = uj.participant
            Walker(uj, now=now, writes=writes).settle(run, item.outcome)
            stats.executed += 1
        kick = writes.flush()
    return stats, left, kick


def _record_one(item: Item, stats: DispatchStats, kick: list[int]) -> None:
    """Phase 3 for one run, in the caller's transaction (a savepoint); waits for the row locks."""
    uj = lock_user_journey(item.user_journey_id)
    run = StepRun.objects.select_for_update().filter(pk=item.run_id).first()
    if uj is None or not _still_ours(run, item):
        stats.stale += 1
        return
    run.user_journey = uj
    run.participant = uj.participant
    walker = Walker(uj)
    walker.settle(run, item.outcome)
    stats.executed += 1
    stats.one_by_one += 1
    kick.extend(walker.kick)


def _record_one_by_one(items: list[Item], stats: DispatchStats, kick: list[int]) -> None:
    for item in items:
        try:
            with transaction.atomic():
                _record_one(item, stats, kick)
        except Exception:
            # A bug or a lost race in one run must not lose the batch; the run keeps its lease and
            # is claimed again when it runs out (counting an attempt, so it cannot loop for ever).
            logger.exception("recording step run %s failed", item.run_id)


def _record_rows(items: list[Item]) -> tuple[DispatchStats, list[int]]:
    """The row-by-row path: one transaction, a savepoint per run; if the transaction itself
    fails, each run in its own."""
    stats, kick = DispatchStats(), []
    try:
        with transaction.atomic():
            _record_one_by_one(items, stats, kick)
    except Exception:
        logger.exception("recording a batch failed; recording its runs one by one")
        stats, kick = DispatchStats(), []
        _record_one_by_one(items, stats, kick)
    return stats, kick


def _has_side_effect(claim: Claim) -> bool:
    """An entered action step whose action runs outside the transaction (HTTP, SMTP…)."""
    if not claim.entered or claim.step_kind != "action":
        return False
    action = action_types.get(claim.action_type)
    return action is not None and not action.transactional


def _side_effects_of(claims: list[Claim], now: datetime) -> dict[int, ActionOutcome]:
    """Phase 2 for the claimed runs whose action has side effects."""
    tokens = {claim.id: claim.attempts for claim in claims}
    runs = [
        run
        for run in StepRun.objects.filter(pk__in=tokens, status=StepRun.Status.RUNNING)
        .select_related("participant", "user_journey")
        .order_by("user_journey_id", "seq")
        if run.attempts == tokens[run.pk]
    ]
    versions_load(run.user_journey for run in runs)
    for run in runs:
        run.user_journey.participant = run.participant
    # A run claimed again and again (its workers keep dying mid-step) stops being tried.
    exhausted = {run.pk for run in runs if run.attempts > run.max_attempts}
    outcomes = _side_effects([run for run in runs if run.pk not in exhausted], now)
    for pk in exhausted:
        outcomes[pk] = ActionOutcome(
            error="Abandoned by its worker more often than max attempts.", permanent=True
        )
    return outcomes


def step_runs_execute(*, claims: list[Claim]) -> tuple[DispatchStats, list[int]]:
    """Execute claimed runs. Returns stats and the runs their walks made pending (to kick)."""
    stats = DispatchStats(claimed=len(claims))
    if not claims:
        return stats, []
    now = timezone.now()
    outcomes = _side_effects_of([claim for claim in claims if _has_side_effect(claim)], now)
    items = [
        Item(claim.id, claim.user_journey_id, claim.attempts, outcomes.get(claim.id))
        for claim in sorted(claims, key=lambda claim: (claim.user_journey_id, claim.id))
    ]
    record_now = timezone.now()
    try:
        recorded, left, kick = _record_batch(items, record_now)
    except Exception:
        logger.exception("recording a batch set-based failed; recording its runs row by row")
        recorded, left, kick = DispatchStats(), items, []
    stats.add(recorded)
    if left:
        one_by_one, more = _record_rows(left)
        stats.add(one_by_one)
        kick += more
    for claim in claims:
        if claim.due_at is not None:
            stats.lags.append(max((now - claim.due_at).total_seconds(), 0.0))
    metrics.dispatch_lags(stats.lags)
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
        total.add(stats)
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
        total.add(stats)
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
    STEP_RUNS.enqueue_on_commit(run_ids)
