"""Evaluating a participant's rules and writing what changed.

Triggered by every event of the participant (``on_events``, the bus's batch subscriber, with
``on_event`` for one event), by the API (``POST /api/v1/journey/flags/{user_id}/evaluate``), and
by beat for participants whose ``time_since`` windows or flag expiries have come due
(``participants_evaluate_due``). On the bus, rules run before the journeys subscriber
(``RULES_PRIORITY``), so a journey condition on a flag sees what the same event decided.

Evaluation is set-based (``participants_evaluate_locked``): a worker message's participants are
locked, loaded, evaluated and written in a fixed number of statements, whether it holds one or a
hundred. Concurrent evaluations of one participant are serialised by a row lock on the
participant; the decision itself is the pure ``rules.engine.evaluator.evaluate``. Only changes
write — a flag row, a history row, an event — so evaluating the same context twice writes
nothing the second time, and the events evaluation emits come back through the bus without
causing more.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from journeys import bus, journey_events
from journeys.errors import NotFound
from journeys.log_context import evaluation_logging
from journeys.models import Event, Participant
from journeys.queue import Queue
from journeys.services.records import active_mappings
from rules import metrics
from rules.cache import active_ruleset, context_build, context_get, context_records_load
from rules.engine.evaluator import Outcome, StoredFlag, evaluate
from rules.engine.ruleset import Ruleset
from rules.models import EvaluationSchedule, Flag, Milestone
from rules.services.contexts import contexts_for_events
from rules.services.flags import (
    EVALUATION_SOURCE,
    FLAG_UPDATED,
    MILESTONE_REACHED,
)
from rules.services.outcomes import outcomes_write, schedules_write

logger = logging.getLogger(__name__)

DUE_BATCH = 1000  # participants claimed per beat tick
DUE_CHUNK = 100  # participants per Celery message
DUE_RETRY_AFTER = timedelta(minutes=5)  # a claimed participant whose evaluation was lost is retried

# Schedules are a durable queue (``journeys.queue``) whose lease is the due column: claiming a
# participant pushes its ``next_check_at`` ``DUE_RETRY_AFTER`` ahead, and the evaluation writes
# the real next moment.
DUE_SCHEDULES = Queue(
    name="rule re-evaluations",
    model=EvaluationSchedule,
    waiting=Q(),
    due_field="next_check_at",
    lease_field="next_check_at",
    lease_seconds=DUE_RETRY_AFTER.total_seconds(),
    chunk=DUE_CHUNK,
    sweep_batch=DUE_BATCH,
)


@dataclass
class Evaluation:
    """What one evaluation saw and did (or, on a dry run, would do)."""

    user_id: str
    evaluated_rules: list[str]
    triggered_rules: list[str]
    fired_rules: list[str]
    changes: list[dict[str, Any]]
    milestones: list[str]
    events: list[str]
    timestamp: datetime
    dry_run: bool
    next_check_at: datetime | None
    trace: list[dict[str, Any]] | None = field(default=None)


def participant_evaluate(
    *, participant: Participant, dry_run: bool = False, trace: bool = False, now: datetime | None = None
) -> Evaluation:
    """Evaluate every active rule for the participant; write the changes unless ``dry_run``."""
    now = now or timezone.now()
    if dry_run:
        return _dry_run(participant, trace=trace, now=now)
    with transaction.atomic():
        evaluations = participants_evaluate_locked(
            participant_ids=[participant.pk], now=now, trace=trace, cached_context=True
        )
    if not evaluations:
        raise NotFound(f"Participant {participant.pk} no longer exists.")
    return evaluations[0]


def participants_evaluate_locked(
    *,
    participant_ids: list[int],
    now: datetime,
    trace: bool = False,
    cached_context: bool = False,
    event_ids: list[int] | None = None,
) -> list[Evaluation]:
    """Evaluate these participants set-based and write what changed; one ``Evaluation`` each, by id.

    Runs in the caller's transaction, in a fixed number of statements whatever the number of
    participants:

    1. lock the participants' rows, in id order (two batches sharing participants wait for each
       other instead of deadlocking), reading their schedules with them;
    2. load their records (one query; or the cached context for the API's one participant, with
       ``cached_context``; or, on the bus, with ``event_ids``, the contexts this worker keeps
       extended by the records of those events: ``rules.services.contexts``), their flags (one
       query), and the milestones they might reach (one);
    3. evaluate each (pure, in memory), then write all changes: flags, history, milestones and
       schedules in one statement each, and every event in one ingestion.

    Missing participants are skipped.
    """
    participants = list(
        Participant.objects.select_for_update(of=("self",))
        .select_related("rule_schedule")
        .filter(pk__in=participant_ids)
        .order_by("pk")
    )
    if not participants:
        return []
    ruleset = active_ruleset()
    contexts = _contexts(participants, cached_context=cached_context, event_ids=event_ids)
    stored, row_ids = _stored_flags(participants)
    with evaluation_logging([p.user_id for p in participants]):
        started = time.perf_counter()
        evaluated = [
            (p, evaluate(ruleset, contexts[p.pk], stored[p.pk], now=now, trace=trace)) for p in participants
        ]
        _drop_reached_milestones(evaluated)
        metrics.evaluated(ruleset, evaluated)
        events = outcomes_write(evaluated=evaluated, row_ids=row_ids, now=now)
        schedules_write(evaluated=evaluated)
        logger.info(
            "rules evaluated for %d participant(s) in %.1f ms, %d event(s) emitted",
            len(participants),
            (time.perf_counter() - started) * 1000,
            sum(len(found) for found in events.values()),
        )
    return [_evaluation(p, ruleset, outcome, events.get(p.pk, []), now) for p, outcome in evaluated]


def _contexts(
    participants: list[Participant], *, cached_context: bool, event_ids: list[int] | None
) -> dict[int, Any]:
    """Each participant's evaluation context: cached, extended by these events, or loaded afresh."""
    if cached_context:
        return {p.pk: context_get(p) for p in participants}
    if event_ids is not None:
        return contexts_for_events(participants=participants, event_ids=event_ids)
    records = context_records_load(participant_ids=[p.pk for p in participants])
    return {p.pk: context_build(p, records.get(p.pk, {})) for p in participants}


def _stored_flags(
    participants: list[Participant],
) -> tuple[dict[int, dict[str, StoredFlag]], dict[tuple[int, str], int]]:
    """The participants' flags as stored (one query), and each flag row's id by (participant, flag)."""
    stored: dict[int, dict[str, StoredFlag]] = {p.pk: {} for p in participants}
    row_ids: dict[tuple[int, str], int] = {}
    # Unordered (the model's default ordering costs a sort of every row), and without ``set_at``
    # (a timestamp parsed per row that nothing reads): on the event path this is every flag of a
    # message's participants.
    rows = (
        Flag.objects.filter(participant_id__in=list(stored))
        .order_by()
        .values_list("pk", "participant_id", "flag", "value", "set_by_rule", "expires_at")
    )
    for pk, participant_id, name, value, set_by_rule, expires_at in rows:
        stored[participant_id][name] = StoredFlag(value, set_by_rule, expires_at)
        row_ids[(participant_id, name)] = pk
    return stored, row_ids


def _dry_run(participant: Participant, *, trace: bool, now: datetime) -> Evaluation:
    """What an evaluation would change, written nowhere (no lock either: nothing is written)."""
    participant = Participant.objects.filter(pk=participant.pk).first()  # fresh attributes and tags
    if participant is None:
        raise NotFound("The participant no longer exists.")
    ruleset = active_ruleset()
    context = context_get(participant)
    stored = {
        f.flag: StoredFlag(f.value, f.set_by_rule, f.expires_at)
        for f in Flag.objects.filter(participant=participant)
    }
    outcome = evaluate(ruleset, context, stored, now=now, trace=trace)
    _drop_reached_milestones([(participant, outcome)])
    events = [e.event for _, e in outcome.emits] + [
        *([FLAG_UPDATED] * len(outcome.changes)),
        *([MILESTONE_REACHED] * len(outcome.milestones)),
    ]
    return _evaluation(participant, ruleset, outcome, events, now, dry_run=True)


def _evaluation(
    participant: Participant,
    ruleset: Ruleset,
    outcome: Outcome,
    events: list[str],
    now: datetime,
    *,
    dry_run: bool = False,
) -> Evaluation:
    return Evaluation(
        user_id=participant.user_id,
        evaluated_rules=ruleset.rule_ids,
        triggered_rules=[r.rule_id for r in outcome.matched],
        fired_rules=outcome.fired,
        changes=[
            {
                "flag": c.flag,
                "previous_value": c.previous,
                "value": c.value,
                "reason": c.reason,
                "set_by_rule": c.set_by_rule,
                "expires_at": c.expires_at,
            }
            for c in outcome.changes
        ],
        milestones=[name for _, name, _ in outcome.milestones],
        events=events,
        timestamp=now,
        dry_run=dry_run,
        next_check_at=outcome.next_check_at,
        trace=outcome.traces,
    )


def _drop_reached_milestones(evaluated: list[tuple[Participant, Outcome]]) -> None:
    """Milestones are reached once: drop those already recorded (one query for everyone)."""
    wanted = [(p.pk, name) for p, outcome in evaluated for _, name, _ in outcome.milestones]
    if not wanted:
        return
    reached = set(
        Milestone.objects.filter(
            participant_id__in={pk for pk, _ in wanted}, milestone__in={name for _, name in wanted}
        ).values_list("participant_id", "milestone")
    )
    for participant, outcome in evaluated:
        outcome.milestones = [m for m in outcome.milestones if (participant.pk, m[1]) not in reached]


# ----------------------------------------------------------------------------------------------
# Triggers: the bus and beat
# ----------------------------------------------------------------------------------------------
def on_event(event: Event) -> None:
    """Bus subscriber (every event type): the participant's context changed, evaluate."""
    on_events([event])


def rules_interest() -> Callable[[Event], bool]:
    """Which events can change a participant's rules, asked by the bus before it sends any.

    Events from outside can (they carry attributes, they are projected into records). The
    product's own announcements cannot unless an entity mapping turns them into records:
    ``source == "rules"`` ones echo an evaluation that already settled every flag they announce;
    ``journey.*`` ones (``source == "journeys"``) follow steps that may change the participant's
    tags or attributes, which matters only when some active rule reads them.
    """
    mappings: list | None = None
    reads_participant: bool | None = None

    def mapped(event: Event) -> bool:
        nonlocal mappings
        mappings = active_mappings() if mappings is None else mappings
        return any(m.matches(event.type) for m in mappings)

    def interested(event: Event) -> bool:
        nonlocal reads_participant
        if event.source == journey_events.SOURCE:
            if reads_participant is None:
                reads_participant = active_ruleset().reads_participant
            return reads_participant or mapped(event)
        return event.source != EVALUATION_SOURCE or mapped(event)

    return interested


def on_events(events: list[Event]) -> None:
    """Bus batch subscriber: the events of one worker message, each participant evaluated once.

    The events' records were projected when they were ingested, so one evaluation after all of
    a participant's events sees what evaluating after each would, and (evaluation being
    idempotent) writes what the last of those would have written: the same as ``on_event`` on
    each in turn. Events that cannot change any rule's outcome are left out (``rules_interest``).
    """
    interested = rules_interest()
    participant_ids = {event.participant_id: None for event in events if interested(event)}
    if not participant_ids:
        return
    with transaction.atomic(savepoint=False):
        # Marks the cached contexts of these participants stale (under their locks), as
        # ``contexts_invalidate`` does, and loads only what these events wrote.
        participants_evaluate_locked(
            participant_ids=list(participant_ids), now=timezone.now(), event_ids=[e.pk for e in events]
        )


RULES_PRIORITY = 100  # before journeys (priority 0): a trigger condition on a flag sees this event's value


def subscribe() -> None:
    bus.subscribe(
        "*",
        on_event,
        name="rules.evaluate",
        priority=RULES_PRIORITY,
        batch_handler=on_events,
        interest=rules_interest,
    )


def participants_evaluate_due(*, now: datetime | None = None, limit: int = DUE_BATCH) -> list[int]:
    """Participants whose time-dependent rules may have flipped, claimed for evaluation.

    Pushes their ``next_check_at`` a little later so the next tick does not dispatch them again
    while a worker is on it; the evaluation then writes the real next moment. Returns the ids.
    """
    now = now or timezone.now()
    return DUE_SCHEDULES.claim(DUE_SCHEDULES.due(now), now=now, limit=limit, order_by="next_check_at")


def participants_evaluate(*, participant_ids: list[int]) -> int:
    """Evaluate these participants (beat's fan-out), all in one transaction; if that fails, one
    by one so a bad participant does not hold back the others (its schedule retries it later).
    Returns how many exist still."""
    try:
        with transaction.atomic():
            return len(participants_evaluate_locked(participant_ids=participant_ids, now=timezone.now()))
    except Exception:
        logger.exception(
            "evaluation of %d participants failed; evaluating them one by one", len(participant_ids)
        )
    done = 0
    for participant_id in participant_ids:
        try:
            with transaction.atomic():
                done += len(
                    participants_evaluate_locked(participant_ids=[participant_id], now=timezone.now())
                )
        except Exception:
            logger.exception("evaluation of participant %s failed", participant_id)
    return done
