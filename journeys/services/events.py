"""Ingestion: the one way an event enters the product, from outside or from inside.

All of a batch is validated before anything is written (by the caller's serializer, or by
``event_emit``), then written in one transaction: participants upserted, events inserted,
records projected. Processing is enqueued after commit; if that message is lost, the sweeper
finds the pending event again (see ``journeys.bus``).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from journeys import bus
from journeys.errors import ValidationFailed
from journeys.models import Event
from journeys.services.participants import participants_get_or_create
from journeys.services.records import records_project


@dataclass(frozen=True)
class EventInput:
    type: str
    user_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    source: str = "api"
    idempotency_key: str | None = None


@dataclass(frozen=True)
class IngestResult:
    id: int
    duplicate: bool


def events_ingest(*, events: Sequence[EventInput]) -> list[IngestResult]:
    """Store events (idempotently per source + key) and enqueue their processing.

    Returns one result per input, in order: the stored id, or for a repeated idempotency key the
    id stored the first time with ``duplicate=True``.
    """
    try:
        return _ingest(events)
    except IntegrityError:
        # Another request stored one of our idempotency keys between our read and our insert;
        # a second pass finds it and answers with its id.
        return _ingest(events)


@transaction.atomic
def _ingest(events: Sequence[EventInput]) -> list[IngestResult]:
    now = timezone.now()
    keyed = {(e.source, e.idempotency_key) for e in events if e.idempotency_key}
    known: dict[tuple[str, str], int] = {}
    if keyed:
        sources = {source for source, _ in keyed}
        keys = {key for _, key in keyed}
        for pk, source, key in Event.objects.filter(source__in=sources, idempotency_key__in=keys).values_list(
            "pk", "source", "idempotency_key"
        ):
            known[(source, key)] = pk

    participants = participants_get_or_create(user_ids={e.user_id for e in events})
    to_insert: list[Event] = []
    seen_in_batch: dict[tuple[str, str], Event] = {}
    plan: list[tuple[str, Any]] = []  # ("known", id) | ("new", Event) | ("repeat", Event)
    sweep_at = now + timedelta(seconds=settings.EVENT_SWEEP_AFTER_SECONDS)
    for item in events:
        ident = (item.source, item.idempotency_key) if item.idempotency_key else None
        if ident and ident in known:
            plan.append(("known", known[ident]))
            continue
        if ident and ident in seen_in_batch:
            plan.append(("repeat", seen_in_batch[ident]))
            continue
        event = Event(
            type=item.type,
            participant=participants[item.user_id],
            payload=item.payload,
            occurred_at=item.occurred_at or now,
            received_at=now,
            source=item.source,
            idempotency_key=item.idempotency_key,
            next_attempt_at=sweep_at,
        )
        to_insert.append(event)
        if ident:
            seen_in_batch[ident] = event
        plan.append(("new", event))

    if to_insert:
        Event.objects.bulk_create(to_insert)
        records_project(events=to_insert)
        bus.dispatch_on_commit(e.pk for e in to_insert)

    results = []
    for kind, value in plan:
        if kind == "known":
            results.append(IngestResult(id=value, duplicate=True))
        else:
            results.append(IngestResult(id=value.pk, duplicate=kind == "repeat"))
    return results


def event_emit(
    *,
    type: str,
    user_id: str,
    payload: dict[str, Any] | None = None,
    source: str = "internal",
    idempotency_key: str | None = None,
    occurred_at: datetime | None = None,
) -> IngestResult:
    """Put an event on the bus from inside the product (same path as the API).

    Give an ``idempotency_key`` derived from what caused the event (a step run id, a flag change)
    so a retried cause never emits twice.
    """
    errors: dict[str, list[str]] = {}
    if not type or len(type) > 200:
        errors["type"] = ["An event type of 1 to 200 characters is required."]
    if not user_id or len(user_id) > 255:
        errors["user_id"] = ["A user_id of 1 to 255 characters is required."]
    if payload is not None and not isinstance(payload, dict):
        errors["payload"] = ["The payload must be a JSON object."]
    if errors:
        raise ValidationFailed(errors)
    [result] = events_ingest(
        events=[
            EventInput(
                type=type,
                user_id=user_id,
                payload=payload or {},
                source=source,
                idempotency_key=idempotency_key,
                occurred_at=occurred_at,
            )
        ]
    )
    return result
