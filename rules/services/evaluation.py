"""Evaluating a participant's rules and writing what changed.

Triggered by every event of the participant (``on_event``, subscribed to the bus), by the API
(``POST /api/v1/journey/flags/{user_id}/evaluate``), and by beat for participants whose
``time_since`` windows or flag expiries have come due (``participants_evaluate_due``).

Concurrent evaluations of one participant are serialised by a row lock on the participant; the
decision itself is the pure ``rules.engine.evaluator.evaluate``. Only changes write — a flag
row, a history row, an event — so evaluating the same context twice writes nothing the second
time, and the events evaluation emits come back through the bus without causing more.
"""

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from journeys import bus
from journeys.models import Event, Participant
from journeys.services.events import EventInput, events_ingest
from journeys.services.records import active_mappings
from rules.cache import active_ruleset, context_get, context_invalidate
from rules.engine.evaluator import Outcome, StoredFlag, evaluate
from rules.models import EvaluationSchedule, Flag, Milestone
from rules.services.flags import (
    EVALUATION_SOURCE,
    FlagWrite,
    flag_changes_write,
    flag_updated_event,
    milestone_reached_event,
)

logger = logging.getLogger(__name__)

DUE_BATCH = 1000  # participants claimed per beat tick
DUE_CHUNK = 100  # participants per Celery message
DUE_RETRY_AFTER = timedelta(minutes=5)  # a claimed participant whose evaluation was lost is retried


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
    with nullcontext() if dry_run else transaction.atomic():
        # Fresh attributes and tags; the lock serialises evaluations of one participant.
        fresh = Participant.objects if dry_run else Participant.objects.select_for_update()
        participant = fresh.get(pk=participant.pk)
        ruleset = active_ruleset()
        context = context_get(participant)
        rows = {f.flag: f for f in Flag.objects.filter(participant=participant)}
        stored = {
            name: StoredFlag(f.value, f.set_by_rule, f.set_at, f.expires_at) for name, f in rows.items()
        }
        outcome = evaluate(ruleset, context, stored, now=now, trace=trace)
        if outcome.milestones:
            reached = set(
                Milestone.objects.filter(
                    participant=participant, milestone__in=[name for _, name, _ in outcome.milestones]
                ).values_list("milestone", flat=True)
            )
            outcome.milestones = [m for m in outcome.milestones if m[1] not in reached]
        events: list[str] = []
        if not dry_run:
            events = _write(participant, outcome, rows, now)
            _schedule(participant, outcome.next_check_at)
        else:
            events = [e.event for _, e in outcome.emits] + [
                *(["orchestration.flag.updated"] * len(outcome.changes)),
                *(["orchestration.milestone.reached"] * len(outcome.milestones)),
            ]
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


def _write(participant: Participant, outcome: Outcome, rows: dict[str, Flag], now: datetime) -> list[str]:
    """Flags, history, milestones and their events, in the caller's transaction."""
    if not outcome.changes:
        return []
    writes = [
        FlagWrite(c.flag, c.previous, c.value, c.set_by_rule, c.reason, c.expires_at) for c in outcome.changes
    ]
    history = flag_changes_write(participant=participant, writes=writes, stored=rows, now=now)
    events: list[EventInput] = [
        flag_updated_event(participant=participant, history=h, source=EVALUATION_SOURCE) for h in history
    ]
    first_change_of: dict[str, int] = {}
    for change, row in zip(outcome.changes, history, strict=True):
        if change.rule is not None:
            first_change_of.setdefault(change.rule.rule_id, row.pk)
    for rule, emit in outcome.emits:
        payload = dict(emit.payload)
        payload.setdefault("triggered_by_rule", rule.rule_id)
        events.append(
            EventInput(
                type=emit.event,
                user_id=participant.user_id,
                payload=payload,
                occurred_at=now,
                source=EVALUATION_SOURCE,
                idempotency_key=f"rule-event:{first_change_of[rule.rule_id]}:{emit.index}",
            )
        )
    for rule, name, metadata in outcome.milestones:
        milestone = Milestone.objects.create(
            participant=participant,
            milestone=name,
            reached_at=now,
            triggered_by_rule=rule.rule_id,
            metadata=metadata,
        )
        events.append(
            milestone_reached_event(participant=participant, milestone=milestone, source=EVALUATION_SOURCE)
        )
    events_ingest(events=events)
    return [e.type for e in events]


def _schedule(participant: Participant, next_check_at: datetime | None) -> None:
    """Remember when time alone can next change this participant's rules (written on change)."""
    row = EvaluationSchedule.objects.filter(pk=participant.pk).first()
    if row is None:
        if next_check_at is not None:
            EvaluationSchedule.objects.create(participant=participant, next_check_at=next_check_at)
    elif row.next_check_at != next_check_at:
        row.next_check_at = next_check_at
        row.save(update_fields=["next_check_at"])


# ----------------------------------------------------------------------------------------------
# Triggers: the bus and beat
# ----------------------------------------------------------------------------------------------
def on_event(event: Event) -> None:
    """Bus subscriber (every event type): the participant's context changed, evaluate.

    Events this engine emitted while evaluating (``source == "rules"``) are skipped unless an
    entity mapping turns them into records: the evaluation that emitted them already settled
    every flag they announce, so evaluating again could only confirm it.
    """
    if event.source == EVALUATION_SOURCE and not any(m.matches(event.type) for m in active_mappings()):
        return
    context_invalidate(event.participant_id)
    participant_evaluate(participant=event.participant)


RULES_PRIORITY = 100  # before journeys (priority 0): a trigger condition on a flag sees this event's value


def subscribe() -> None:
    bus.subscribe("*", on_event, name="rules.evaluate", priority=RULES_PRIORITY)


def participants_evaluate_due(*, now: datetime | None = None, limit: int = DUE_BATCH) -> list[int]:
    """Participants whose time-dependent rules may have flipped, claimed for evaluation.

    Pushes their ``next_check_at`` a little later so the next tick does not dispatch them again
    while a worker is on it; the evaluation then writes the real next moment. Returns the ids.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = EvaluationSchedule.objects.filter(next_check_at__lte=now).order_by("next_check_at")
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("participant_id", flat=True)[:limit])
        if ids:
            EvaluationSchedule.objects.filter(pk__in=ids).update(next_check_at=now + DUE_RETRY_AFTER)
    return ids


def participants_evaluate(*, participant_ids: list[int]) -> int:
    """Evaluate these participants (beat's fan-out). Returns how many exist still."""
    done = 0
    for participant in Participant.objects.filter(pk__in=participant_ids):
        try:
            participant_evaluate(participant=participant)
            done += 1
        except Exception:
            # One bad participant must not block the chunk; its schedule retries it later.
            logger.exception("evaluation of participant %s failed", participant.pk)
    return done
