"""Journeys tell the bus what happens to their runs: ``journey.*`` events.

Every event is stored like any other (``source = "journeys"``), in the transaction that made the
change, with an idempotency key derived from what caused it, so a step retried after a crash
never publishes twice and subscribers (rules, other journeys, webhook subscriptions) see each
fact once:

====================================  =========================================================
``journey.enrolled``                  ``<user journey id>``
``journey.milestone.started``         ``<user journey id>:<step run seq>``
``journey.milestone.completed``       ``<user journey id>:<step run seq>``
``journey.milestone.skipped``         ``<user journey id>:<step run seq>``
``journey.milestone.failed``          ``<user journey id>:<step run seq>:<attempts>``
``journey.completed|failed|           ``<user journey id>:<end time in µs>`` (a journey can fail,
cancelled|converted``                 be retried and fail again)
====================================  =========================================================

The key stored is ``<type>:<suffix>``. Milestone events are published for the steps that count
as milestones (``Definition.milestones()``). A journey never enrols a participant because of
its own ``journey.*`` events (see ``journeys.services.event_handling``), so a journey triggered by
``journey.enrolled`` cannot feed itself.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from journeys.services.events import EventInput, IdempotencyKeyReused, events_ingest

logger = logging.getLogger(__name__)

SOURCE = "journeys"
ENROLLED = "journey.enrolled"
MILESTONE_STARTED = "journey.milestone.started"
MILESTONE_COMPLETED = "journey.milestone.completed"
MILESTONE_FAILED = "journey.milestone.failed"
MILESTONE_SKIPPED = "journey.milestone.skipped"
COMPLETED = "journey.completed"
FAILED = "journey.failed"
CANCELLED = "journey.cancelled"
CONVERTED = "journey.converted"
TYPES = (
    ENROLLED,
    MILESTONE_STARTED,
    MILESTONE_COMPLETED,
    MILESTONE_FAILED,
    MILESTONE_SKIPPED,
    COMPLETED,
    FAILED,
    CANCELLED,
    CONVERTED,
)


def journey_event(user_journey: Any, type: str, *, key: str, user_id: str, **payload: Any) -> EventInput:
    """The event of a fact about ``user_journey`` (not stored yet: see ``journey_events_publish``)."""
    return EventInput(
        type=type,
        user_id=user_id,
        payload={"user_journey_id": user_journey.pk, "journey_id": user_journey.journey_id, **payload},
        source=SOURCE,
        idempotency_key=f"{type}:{key}",
    )


def ended_key(user_journey: Any) -> str:
    return f"{user_journey.pk}:{int(user_journey.ended_at.timestamp() * 1_000_000)}"


def journey_ended_events(user_journey: Any, type: str, *, user_id: str, **payload: Any) -> list[EventInput]:
    """``journey.completed`` (plus ``journey.converted`` when converted), ``failed``, ``cancelled``."""
    key = ended_key(user_journey)
    reason = {"reason": user_journey.end_reason or user_journey.failure_reason, **payload}
    events = [journey_event(user_journey, type, key=key, user_id=user_id, **reason)]
    if type == COMPLETED and user_journey.converted:
        events.append(journey_event(user_journey, CONVERTED, key=key, user_id=user_id, **reason))
    return events


def journey_events_publish(
    events: Sequence[EventInput], *, participants: Mapping[str, Any] | None = None
) -> None:
    """Store the events on the bus (in the caller's transaction); repeated keys are no-ops.

    ``participants``: the rows the caller holds locked, by ``user_id`` (see ``events_ingest``).
    A key stored before with another payload means the fact was published already (the first
    telling stands): it is logged and left out, never allowed to fail the run that caused it.
    """
    if not events:
        return
    try:
        events_ingest(events=events, participants=participants)
    except IdempotencyKeyReused as exc:
        reused = set(exc.extra.get("idempotency_keys") or [])
        logger.warning("journey events already published with other payloads: %s", sorted(reused))
        rest = [event for event in events if event.idempotency_key not in reused]
        if rest:
            events_ingest(events=rest, participants=participants)


def milestone_keys(definition: Any) -> frozenset[str]:
    """The keys of the steps that count as milestones (cached on the loaded definition)."""
    keys = getattr(definition, "_milestone_keys", None)
    if keys is None:
        keys = frozenset(step.key for step in definition.milestones())
        definition._milestone_keys = keys
    return keys
