"""Bus subscribers: measurements and approvals arriving as events, and incidents that may trip
a rollback-triggering criterion. Each is idempotent (a re-run of the same event changes nothing).

Event contracts (``user_id`` is the client_id):

* ``stages.measurement.recorded``: ``{"values": {"search_quality": 0.86, ...}}`` (or ``{"key":
  ..., "value": ...}``) for the client's active journey, in its current stage;
* ``stages.approval.recorded``: ``{"key": "demo_approved", "approved": true, "by": "...",
  "note": "..."}``;
* any event whose type matches a ``no_events`` criterion that triggers rollback (e.g.
  ``incident.reported`` with ``severity: P0``) re-checks the client's journey.
"""

import logging
from collections.abc import Callable

from journeys.errors import DomainError
from journeys.generations import GenerationIndex
from journeys.models import Event
from stages.criteria import event_type_matches
from stages.models import ExitCriterion, Measurement, StagedJourney
from stages.models.stages import ACTIVE_STAGES, PREVIOUS_STAGE
from stages.services import measurements as measurement_services
from stages.services.events import EVENT_SOURCE
from stages.services.rollback import staged_journey_check_rollback_triggers

logger = logging.getLogger(__name__)

MEASUREMENT_EVENT = "stages.measurement.recorded"
APPROVAL_EVENT = "stages.approval.recorded"


def _active_journey(event: Event) -> StagedJourney | None:
    return StagedJourney.objects.filter(client_id=event.participant.user_id, stage__in=ACTIVE_STAGES).first()


def measurement_event_handle(event: Event) -> None:
    journey = _active_journey(event)
    if journey is None or Measurement.objects.filter(event_id=event.pk).exists():
        return
    payload = event.payload or {}
    values = payload.get("values")
    if values is None and "key" in payload:
        values = {payload["key"]: payload.get("value")}
    if not isinstance(values, dict) or not all(isinstance(v, int | float) for v in values.values()):
        logger.warning("event %s: measurement payload needs numeric values: %r", event.pk, payload)
        return
    try:
        measurement_services.measurements_record(
            journey=journey, values=values, actor=event.source, source="bus", event_id=event.pk
        )
    except DomainError as exc:
        # Bad input does not get better with retries: log it, keep the event processed.
        logger.warning("event %s: measurement refused: %s", event.pk, exc.as_dict())


def approval_event_handle(event: Event) -> None:
    journey = _active_journey(event)
    if journey is None or Measurement.objects.filter(event_id=event.pk).exists():
        return
    payload = event.payload or {}
    try:
        measurement_services.approval_record(
            journey=journey,
            key=str(payload.get("key", "")),
            approved=bool(payload.get("approved", True)),
            actor=str(payload.get("by") or event.source),
            note=str(payload.get("note", "")),
            source="bus",
            event_id=event.pk,
        )
    except DomainError as exc:
        logger.warning("event %s: approval refused: %s", event.pk, exc.as_dict())


def watched_interest() -> Callable[[Event], bool]:
    """The bus's pre-filter: events of types no rollback-triggering criterion watches (all when
    the index cannot be read)."""
    return WATCHED.interest(_watched)


def _watched(patterns: tuple[str, ...], event: Event) -> bool:
    return event.source != EVENT_SOURCE and any(event_type_matches(p, event.type) for p in patterns)


def watched_event_handle(event: Event) -> None:
    """Any event: if its type is watched by a rollback-triggering criterion, re-check the
    client's journey."""
    watched_events_handle([event])


def watched_events_handle(events: list[Event]) -> None:
    """A worker message's events at once: those of watched types re-check their clients' journeys.
    The watched types are an index kept per process (``WATCHED``), so the rest cost no query."""
    patterns = WATCHED.get()
    if patterns is None:  # the index cannot be validated: read the rows
        patterns = _watched_patterns()
    for event in events:
        if not _watched(patterns, event):
            continue
        journey = StagedJourney.objects.filter(
            participant_id=event.participant_id, stage__in=list(PREVIOUS_STAGE)
        ).first()
        if journey is not None:
            staged_journey_check_rollback_triggers(journey_pk=journey.pk)


def _watched_patterns() -> tuple[str, ...]:
    return tuple(
        ExitCriterion.objects.filter(kind=ExitCriterion.Kind.NO_EVENTS, triggers_rollback=True)
        .values_list("event_type", flat=True)
        .distinct()
    )


# Event types rollback-triggering criteria watch, per process (``journeys.generations``).
WATCHED = GenerationIndex(key="stages:watched:gen", load=_watched_patterns)


def watched_patterns_forget(**kwargs) -> None:
    """Criteria changed: every process rebuilds ``WATCHED`` (connected to criterion saves and
    deletes: bookkeeping, not domain)."""
    WATCHED.invalidate()
