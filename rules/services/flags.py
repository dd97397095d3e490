"""Writing flag changes and milestones, and the events that announce them.

Every write here happens because something changed, inside the caller's transaction, and every
event carries an idempotency key derived from the row that records the change
(``flag-history:<id>``, ``milestone:<id>``): the event and its row commit together, and a retried
cause can never emit twice.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from journeys.engine.batch import bulk_insert, unsaved
from journeys.errors import ValidationFailed
from journeys.models import Participant
from journeys.services.events import EventInput, events_ingest
from rules.engine.validation import NAME_RE
from rules.models import Flag, FlagHistory, Milestone

FLAG_UPDATED = "orchestration.flag.updated"
MILESTONE_REACHED = "orchestration.milestone.reached"
EVALUATION_SOURCE = "rules"  # events emitted by evaluation; the bus handler skips their echo
MANUAL_SOURCE = "rules.manual"  # flags and milestones set by staff, the API or journey actions


@dataclass(frozen=True)
class FlagWrite:
    """One change to apply: ``value=None`` removes the flag."""

    flag: str
    previous: bool | None
    value: bool | None
    set_by_rule: str
    reason: str
    expires_at: datetime | None = None


def flag_changes_write(
    *, participant: Participant, writes: list[FlagWrite], stored: dict[str, Flag], now: datetime
) -> list[FlagHistory]:
    """Apply one participant's changes to ``journey_flags`` and append their history rows."""
    return flags_changes_write(
        changes=[(participant, write) for write in writes],
        stored={(participant.pk, name): row.pk for name, row in stored.items()},
        now=now,
    )


def flags_changes_write(
    *,
    changes: list[tuple[Participant, FlagWrite]],
    stored: dict[tuple[int, str], int],
    now: datetime,
) -> list[FlagHistory]:
    """Apply changes of any number of participants in at most three statements; returns their
    history rows (with ids), one per change, in order.

    1. removed flags: one ``DELETE``;
    2. set flags, new or changed: one ``INSERT … ON CONFLICT (participant, flag) DO UPDATE``;
    3. history: one ``INSERT``.

    ``stored`` holds the ids of the flag rows there are, by ``(participant id, flag)``. Callers
    hold the participants' row locks, so it is what the table holds.
    """
    removed: list[int] = []
    upserts: list[Flag] = []
    history: list[FlagHistory] = []
    for participant, write in changes:
        if write.value is None:
            row_id = stored.get((participant.pk, write.flag))
            if row_id is not None:
                removed.append(row_id)
        else:
            upserts.append(
                unsaved(
                    Flag,
                    participant_id=participant.pk,
                    flag=write.flag,
                    value=write.value,
                    set_by_rule=write.set_by_rule,
                    set_at=now,
                    expires_at=write.expires_at,
                )
            )
        history.append(
            unsaved(
                FlagHistory,
                participant_id=participant.pk,
                flag=write.flag,
                value=write.value,
                previous_value=write.previous,
                set_by_rule=write.set_by_rule,
                reason=write.reason,
                expires_at=write.expires_at,
                changed_at=now,
            )
        )
    if removed:
        Flag.objects.filter(pk__in=removed).delete()
    bulk_insert(
        Flag,
        upserts,
        unique_fields=["participant", "flag"],
        update_fields=["value", "set_by_rule", "set_at", "expires_at"],
    )
    bulk_insert(FlagHistory, history, ids=True)
    return history


def flag_updated_event(*, participant: Participant, history: FlagHistory, source: str) -> EventInput:
    return EventInput(
        type=FLAG_UPDATED,
        user_id=participant.user_id,
        payload={
            "flag": history.flag,
            "value": history.value,
            "previous_value": history.previous_value,
            "set_by_rule": history.set_by_rule,
            "reason": history.reason,
            "expires_at": history.expires_at.isoformat() if history.expires_at else None,
        },
        occurred_at=history.changed_at,
        source=source,
        idempotency_key=f"flag-history:{history.pk}",
    )


def milestone_reached_event(*, participant: Participant, milestone: Milestone, source: str) -> EventInput:
    return EventInput(
        type=MILESTONE_REACHED,
        user_id=participant.user_id,
        payload={
            "milestone": milestone.milestone,
            "triggered_by_rule": milestone.triggered_by_rule,
            "reached_at": milestone.reached_at.isoformat(),
            "metadata": milestone.metadata,
        },
        occurred_at=milestone.reached_at,
        source=source,
        idempotency_key=f"milestone:{milestone.pk}",
    )


def _check_flag_name(flag: str) -> None:
    if not isinstance(flag, str) or not NAME_RE.match(flag):
        raise ValidationFailed(
            {"flag": ["A flag name: letters, digits and _ . : - only, starting with a letter."]}
        )


@transaction.atomic
def flag_set(
    *,
    participant: Participant,
    flag: str,
    value: bool = True,
    set_by: str = "manual",
    expires_at: datetime | None = None,
    reason: str = FlagHistory.Reason.MANUAL,
) -> bool:
    """Set one flag outside rule evaluation (journey action, staff). Returns whether it changed.

    Setting the value a live flag already has changes nothing. The ``orchestration.flag.updated``
    event then wakes rule evaluation, so rules reading this flag see it.
    """
    _check_flag_name(flag)
    now = timezone.now()
    Participant.objects.select_for_update().filter(pk=participant.pk).first()
    row = Flag.objects.filter(participant=participant, flag=flag).first()
    live = row is not None and (row.expires_at is None or row.expires_at > now)
    if live and row.value is value and row.expires_at == expires_at:
        return False
    write = FlagWrite(flag, row.value if live else None, value, set_by, reason, expires_at)
    _manual_write(participant, write, stored={flag: row} if row else {}, now=now)
    return True


def _manual_write(
    participant: Participant, write: FlagWrite, *, stored: dict[str, Flag], now: datetime
) -> None:
    """Write one change made by hand, with its history row and its ``FlagUpdated`` event."""
    [history] = flag_changes_write(participant=participant, writes=[write], stored=stored, now=now)
    events_ingest(events=[flag_updated_event(participant=participant, history=history, source=MANUAL_SOURCE)])


@transaction.atomic
def flag_clear(
    *,
    participant: Participant,
    flag: str,
    cleared_by: str = "manual",
    reason: str = FlagHistory.Reason.MANUAL,
) -> bool:
    """Remove one flag outside rule evaluation. Returns whether there was a flag to remove."""
    _check_flag_name(flag)
    Participant.objects.select_for_update().filter(pk=participant.pk).first()
    row = Flag.objects.filter(participant=participant, flag=flag).first()
    if row is None:
        return False
    write = FlagWrite(flag, row.value, None, cleared_by, reason)
    _manual_write(participant, write, stored={flag: row}, now=timezone.now())
    return True


@transaction.atomic
def milestone_reach(
    *,
    participant: Participant,
    milestone: str,
    metadata: dict[str, Any] | None = None,
    triggered_by_rule: str = "manual",
) -> tuple[Milestone, bool]:
    """Record a milestone by hand. A milestone is reached once: asking again returns the first
    record with ``created=False`` and emits nothing."""
    errors: dict[str, list[str]] = {}
    if not isinstance(milestone, str) or not NAME_RE.match(milestone):
        errors["milestone"] = ["A milestone name: letters, digits and _ . : - only, starting with a letter."]
    if metadata is not None and not isinstance(metadata, dict):
        errors["metadata"] = ["Must be an object."]
    if errors:
        raise ValidationFailed(errors)
    Participant.objects.select_for_update().filter(pk=participant.pk).first()
    existing = Milestone.objects.filter(participant=participant, milestone=milestone).first()
    if existing is not None:
        return existing, False
    record = Milestone.objects.create(
        participant=participant,
        milestone=milestone,
        reached_at=timezone.now(),
        triggered_by_rule=triggered_by_rule,
        metadata=metadata or {},
    )
    events_ingest(
        events=[milestone_reached_event(participant=participant, milestone=record, source=MANUAL_SOURCE)]
    )
    return record, True
