"""The dispatcher: claims due step runs in batches and executes them.

Beat ticks ``step_runs_dispatch`` every second; runs that must run at once are also kicked
straight to a worker after their transaction commits (``dispatch_on_commit``). Either way a
batch is executed in these phases:

1. **claim** (``journeys.engine.claiming``): one statement turns due runs into ``running`` with
   a lease and counts the attempt, and returns them whole; two dispatchers never take the same
   run;
2. **record at once** the runs whose step does nothing outside the database (a tag, a branch, a
   delay run out): in the claim's own transaction, under the row locks the claim took, so they
   are not read again (``_record_batch`` with the claimed runs);
3. **side effects** (``journeys.engine.side_effects``: email, webhooks, push, Telegram) of the
   other runs, outside any transaction, once the claim has committed: in threads when the action
   touches no database, after quiet hours and frequency caps are checked;
4. **record** those, set-based: one transaction locks the batch's user journeys and
   participants in one statement each (``SKIP LOCKED``), re-reads the runs under those locks and
   keeps those still ours (status ``running`` and the attempt we claimed).

Recording (2 and 4): walkers record the outcomes and walk on in memory (tags included), and the
batch is written in a few statements (``journeys.engine.batch``). A run whose user journey or
participant another transaction holds (a wake-up, staff pausing it) is recorded afterwards the
row-by-row way, after the claim committed: its own savepoint, waiting for the lock. So is the
whole batch if the set-based write fails (it rolls back to its savepoint; the claim stands).
Either way the user journey's row lock is held while a run is recorded, so waking and timing out
stay serialised, and the attempt check keeps each try recorded once. The claim's locks are taken
before the user journeys' in 2, against the order every writer uses (user journeys,
participants, runs); that cannot deadlock because those locks are taken with ``SKIP LOCKED``,
never waited for.

The step runs table is a durable queue (``journeys.queue``, ``STEP_RUNS``). A worker killed
between 1 and 4 leaves its runs ``running`` (or, in 2, not claimed at all: the transaction
rolls back); when their lease runs out the dispatcher claims them again and the action runs again
with the same step run id as its idempotency key (``webhook-id``), so the receiver can drop the
repeat. Nothing is lost.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from journeys import metrics
from journeys.engine.batch import participants_lock, versions_load
from journeys.engine.claiming import STEP_RUNS, step_runs_claim, step_runs_claim_due
from journeys.engine.resuming import ActionOutcome
from journeys.engine.runner import Walker, lock_user_journey
from journeys.engine.side_effects import has_side_effect, side_effects_perform
from journeys.engine.writes import BatchWrites
from journeys.models import StepRun, UserJourney

logger = logging.getLogger(__name__)

KICK_ROUNDS = 20  # rounds an execute task follows newly created runs before leaving them to beat


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


class Item(NamedTuple):
    run_id: int
    user_journey_id: int
    attempts: int  # the attempt we hold
    outcome: ActionOutcome | None  # the side effect's, when one was attempted


def _still_ours(run: StepRun | None, item: Item) -> bool:
    """Not re-claimed after our lease ran out, nor finished by someone else."""
    return run is not None and run.status == StepRun.Status.RUNNING and run.attempts == item.attempts


def _record_batch(
    items: list[Item], now: datetime, *, claimed: dict[int, StepRun] | None = None
) -> tuple[DispatchStats, list[Item], list[int]]:
    """Record runs set-based, in one transaction (a savepoint in the claim's). Returns the stats,
    the items left for the row-by-row path (their user journey or participant is locked
    elsewhere) and the runs to kick.

    ``claimed``: the runs as the claim returned them, in this transaction (phase 2): ours, locked
    and current. Without it (phase 4) they are read again under lock, after the locks on user
    journeys and participants, in the order every writer uses.
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
        if claimed is not None:
            runs = {item.run_id: claimed[item.run_id] for item in mine}
        else:
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


def _record(
    items: list[Item], now: datetime, *, claimed: dict[int, StepRun] | None = None
) -> tuple[DispatchStats, list[Item], list[int]]:
    """``_record_batch``, or when its set-based write fails, every item left for the row-by-row
    path (the failure rolled back to the batch's savepoint; the claim stands)."""
    if not items:
        return DispatchStats(), [], []
    try:
        return _record_batch(items, now, claimed=claimed)
    except Exception:
        logger.exception("recording a batch set-based failed; recording its runs row by row")
        return DispatchStats(), items, []


def _item(run: StepRun, outcome: ActionOutcome | None = None) -> Item:
    return Item(run.pk, run.user_journey_id, run.attempts, outcome)


def step_runs_execute(*, claim: Callable[[], list[StepRun]]) -> tuple[DispatchStats, list[int]]:
    """Claim runs with ``claim`` and execute them (the module's phases). Returns the stats and
    the runs their walks made pending (to kick)."""
    with transaction.atomic():
        runs = claim()
        now = timezone.now()  # after the claim: a run is never finished before it was executed
        stats = DispatchStats(claimed=len(runs))
        stats.lags = [max((now - run.due_at).total_seconds(), 0.0) for run in runs if run.due_at is not None]
        runs.sort(key=lambda run: (run.user_journey_id, run.pk))
        effectful = [run for run in runs if has_side_effect(run)]  # before any walk changes a run
        plain = [run for run in runs if not has_side_effect(run)]
        recorded, left, kick = _record(
            [_item(run) for run in plain], now, claimed={run.pk: run for run in plain}
        )
        stats.add(recorded)
    if effectful:
        outcomes = side_effects_perform(effectful, now)
        items = [_item(run, outcomes.get(run.pk)) for run in effectful]
        recorded, more_left, more_kick = _record(items, timezone.now())
        stats.add(recorded)
        left += more_left
        kick += more_kick
    if left:
        one_by_one, more = _record_rows(left)
        stats.add(one_by_one)
        kick += more
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
        # The runs its walks made pending are due: claimed in the next round.
        stats, _ = step_runs_execute(claim=lambda: step_runs_claim_due(limit=size))
        if not stats.claimed:
            break
        total.add(stats)
        if time.monotonic() >= deadline:
            break
    return total


def step_runs_execute_now(*, run_ids: list[int]) -> DispatchStats:
    """Claim and execute kicked runs, then the runs their walks made pending, a few rounds deep."""
    total = DispatchStats()
    for _ in range(KICK_ROUNDS):
        stats, run_ids = step_runs_execute(claim=lambda ids=run_ids: step_runs_claim(run_ids=ids))
        if not stats.claimed:
            break
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
