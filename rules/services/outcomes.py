"""Writing what an evaluation decided: flags, history, milestones, their events, and schedules.

Called by ``rules.services.evaluation`` inside its transaction, with the participants locked;
every participant's changes go out in one statement per table and one event ingestion.
"""

from collections.abc import Iterator
from datetime import datetime

from journeys.models import Participant
from journeys.services.events import EventInput, events_ingest
from rules.engine.evaluator import Outcome
from rules.models import EvaluationSchedule, Milestone
from rules.services.flags import (
    EVALUATION_SOURCE,
    FlagWrite,
    flag_updated_event,
    flags_changes_write,
    milestone_reached_event,
)


def outcomes_write(
    *, evaluated: list[tuple[Participant, Outcome]], row_ids: dict[tuple[int, str], int], now: datetime
) -> dict[int, list[str]]:
    """Flags, history, milestones and their events of every participant, in the caller's
    transaction; returns the types of the events emitted per participant, in emission order.

    Per participant, the events are its flag updates (one per history row), then the events its
    fired rules emit, then its milestones: the order, payloads and idempotency keys do not
    depend on how many participants are written together.
    """
    changes = [
        (p, FlagWrite(c.flag, c.previous, c.value, c.set_by_rule, c.reason, c.expires_at))
        for p, outcome in evaluated
        for c in outcome.changes
    ]
    if not changes:
        return {}
    history = iter(flags_changes_write(changes=changes, stored=row_ids, now=now))
    reached = [
        Milestone(
            participant=p, milestone=name, reached_at=now, triggered_by_rule=rule.rule_id, metadata=metadata
        )
        for p, outcome in evaluated
        for rule, name, metadata in outcome.milestones
    ]
    milestones = iter(Milestone.objects.bulk_create(reached) if reached else [])
    inputs: list[EventInput] = []
    types: dict[int, list[str]] = {}
    for participant, outcome in evaluated:
        if not outcome.changes:
            continue
        own_history = [next(history) for _ in outcome.changes]
        own = _participant_events(participant, outcome, own_history, milestones, now)
        inputs.extend(own)
        types[participant.pk] = [e.type for e in own]
    # The evaluation holds its participants' rows: the ingestion need not lock them again.
    events_ingest(events=inputs, participants={p.user_id: p for p, _ in evaluated})
    return types


def _participant_events(
    participant: Participant,
    outcome: Outcome,
    own_history: list,
    milestones: Iterator[Milestone],
    now: datetime,
) -> list[EventInput]:
    """One participant's events, in order: its flag updates, its fired rules' emits, its milestones.

    An emitted event's idempotency key names the first history row its rule wrote, so the same
    evaluation written again emits nothing new.
    """
    own = [
        flag_updated_event(participant=participant, history=h, source=EVALUATION_SOURCE) for h in own_history
    ]
    first_change_of: dict[str, int] = {}
    for change, row in zip(outcome.changes, own_history, strict=True):
        if change.rule is not None:
            first_change_of.setdefault(change.rule.rule_id, row.pk)
    for rule, emit in outcome.emits:
        payload = dict(emit.payload)
        payload.setdefault("triggered_by_rule", rule.rule_id)
        own.append(
            EventInput(
                type=emit.event,
                user_id=participant.user_id,
                payload=payload,
                occurred_at=now,
                source=EVALUATION_SOURCE,
                idempotency_key=f"rule-event:{first_change_of[rule.rule_id]}:{emit.index}",
            )
        )
    own.extend(
        milestone_reached_event(participant=participant, milestone=next(milestones), source=EVALUATION_SOURCE)
        for _ in outcome.milestones
    )
    return own


def schedules_write(*, evaluated: list[tuple[Participant, Outcome]]) -> None:
    """Remember when time alone can next change each participant's rules (written on change,
    one upsert for all)."""
    upserts: list[EvaluationSchedule] = []
    for participant, outcome in evaluated:
        current = getattr(participant, "rule_schedule", None)  # read with the lock
        if (current.next_check_at if current else None) != outcome.next_check_at:
            upserts.append(EvaluationSchedule(participant=participant, next_check_at=outcome.next_check_at))
    if upserts:
        EvaluationSchedule.objects.bulk_create(
            upserts, update_conflicts=True, unique_fields=["participant"], update_fields=["next_check_at"]
        )
