"""Ingestion: the one way an event enters the product, from outside or from inside.

All of a batch is validated before anything is written (by the caller's serializer, or by
``event_emit``), then written in one transaction: participants upserted, events inserted,
records projected. Processing is enqueued after commit; if that message is lost, the sweeper
finds the pending event again (see ``journeys.bus``).
"""

import hashlib
import json
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from journeys import bus, metrics
from journeys.engine.batch import bulk_insert, unsaved
from journeys.errors import Conflict, ValidationFailed
from journeys.models import Event, Participant
from journeys.services.participants import participants_lock_or_create, participants_merge_attributes
from journeys.services.records import records_project

logger = logging.getLogger(__name__)

INGEST_ATTEMPTS = 5  # tries of one ingest transaction that met a deadlock or a serialization failure
INGEST_RETRY_BASE_SECONDS = 0.02  # first pause between tries; doubles, with jitter
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure
# What fingerprints hash (one encoder: ``json.dumps`` with these options builds one per call).
CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class EventInput:
    type: str
    user_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    source: str = "api"
    idempotency_key: str | None = None
    attributes: dict[str, Any] | None = None  # merged into the participant's attributes

    def fingerprint(self) -> str:
        """What makes two requests under one idempotency key "the same": type, participant,
        payload, the ``occurred_at`` the sender gave (none when it gave none) and the attributes
        it carries (when it carries any, so fingerprints of events without them are unchanged)."""
        occurred = self.occurred_at.astimezone(UTC).isoformat() if self.occurred_at else None
        extra = [self.attributes] if self.attributes else []
        canonical = CANONICAL_JSON.encode([self.type, self.user_id, self.payload, occurred, *extra])
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class IngestResult:
    id: int
    duplicate: bool


class IdempotencyKeyReused(Conflict):
    """An idempotency key already stored with a different event (Stripe's semantics: 409)."""

    default_code = "idempotency_key_reused"


def events_ingest(
    *, events: Sequence[EventInput], participants: Mapping[str, Participant] | None = None
) -> list[IngestResult]:
    """Store events (idempotently per source + key) and enqueue their processing.

    ``participants``: rows the caller already holds locked in its transaction, by ``user_id``
    (the engine publishing facts about the participants of its batch); the others are locked,
    and created when missing, here.

    Returns one result per input, in order: the stored id, or for a repeated idempotency key the
    id stored the first time with ``duplicate=True``. A key repeated with a *different* event
    refuses the whole request (``IdempotencyKeyReused``, 409, naming the keys); nothing is written.

    A transaction that meets a deadlock or a serialization failure is tried again, up to
    ``INGEST_ATTEMPTS`` times, when it is the outermost one (inside a caller's transaction the
    caller owns the retry).
    """
    retryable = not connection.in_atomic_block
    for attempt in range(1, INGEST_ATTEMPTS + 1):
        try:
            try:
                return _ingest(events, participants or {})
            except IntegrityError:
                # Another request stored one of our idempotency keys (for another participant)
                # between our read and our insert; a second pass finds it.
                return _ingest(events, participants or {})
        except OperationalError as exc:
            if not retryable or attempt == INGEST_ATTEMPTS or not _is_retryable(exc):
                raise
            pause = INGEST_RETRY_BASE_SECONDS * 2 ** (attempt - 1) * (0.5 + random.random())
            logger.info("ingest transaction retried after %s (try %d)", type(exc.__cause__).__name__, attempt)
            time.sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


def _is_retryable(exc: OperationalError) -> bool:
    return (
        getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES
        or getattr(exc.__cause__, "pgcode", None) in RETRYABLE_SQLSTATES
    )


def _stored_keys(events: Sequence[EventInput]) -> dict[tuple[str, str], tuple[int, str]]:
    """The batch's idempotency keys that are stored already: ``(source, key) -> (id, fingerprint)``.

    On Postgres the keys go as one JSON parameter joined on the unique index (a list of
    thousands of keys costs more to bind, value by value, than the lookup itself).
    """
    keyed = {(e.source, e.idempotency_key) for e in events if e.idempotency_key}
    if not keyed:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT e.id, e.source, e.idempotency_key, e.fingerprint FROM "{Event._meta.db_table}" e '
                "JOIN jsonb_to_recordset(%s::jsonb) AS k(source text, key text) "
                "ON e.source = k.source AND e.idempotency_key = k.key WHERE e.idempotency_key IS NOT NULL",
                [json.dumps([{"source": source, "key": key} for source, key in keyed])],
            )
            rows = cursor.fetchall()
    else:
        rows = Event.objects.filter(
            source__in={source for source, _ in keyed}, idempotency_key__in={key for _, key in keyed}
        ).values_list("pk", "source", "idempotency_key", "fingerprint")
    return {(source, key): (pk, fingerprint) for pk, source, key, fingerprint in rows}


def _plan(
    events: Sequence[EventInput],
    fingerprints: list[str],
    known: dict[tuple[str, str], tuple[int, str]],
    *,
    participants: dict,
    now: datetime,
) -> tuple[list[tuple[str, Any]], list[Event]]:
    """Decide, item by item, whether it is stored already (``known``), repeats an earlier item,
    or is new.

    Returns the plan (``("known", id)``, ``("repeat", Event)`` or ``("new", Event)`` per item)
    and the unsaved new events.
    """
    to_insert: list[Event] = []
    seen_in_batch: dict[tuple[str, str], Event] = {}
    plan: list[tuple[str, Any]] = []
    sweep_at = now + timedelta(seconds=settings.EVENT_SWEEP_AFTER_SECONDS)
    for item, fingerprint in zip(events, fingerprints, strict=True):
        ident = (item.source, item.idempotency_key) if item.idempotency_key else None
        if ident and ident in known:
            plan.append(("known", known[ident][0]))
            continue
        if ident and ident in seen_in_batch:
            plan.append(("repeat", seen_in_batch[ident]))
            continue
        event = unsaved(
            Event,
            type=item.type,
            participant_id=participants[item.user_id].pk,
            payload=item.payload,
            occurred_at=item.occurred_at or now,
            received_at=now,
            source=item.source,
            idempotency_key=item.idempotency_key,
            fingerprint=fingerprint,
            next_attempt_at=sweep_at,
        )
        to_insert.append(event)
        if ident:
            seen_in_batch[ident] = event
        plan.append(("new", event))
    return plan, to_insert


@transaction.atomic
def _ingest(events: Sequence[EventInput], held: Mapping[str, Participant]) -> list[IngestResult]:
    """1. Lock (creating) the batch's participants in ``user_id`` order, but those the caller
    ``held``: two requests sharing a participant queue here, so a repeated key's second request
    waits for the first to commit;
    2. refuse a key repeated in the batch, or stored already, for a different event (the
    transaction rolls back: nothing is written);
    3. insert the new events. On Postgres the insert itself leaves out an event whose key is
    stored already (``ON CONFLICT DO NOTHING``), so a batch whose keys are all new, as most
    are, never looks them up: only the keys left out are read, and checked as in 2. SQLite's
    single writer reads them all first;
    4. project the new events' records and merge their attributes; after commit, send to a
    worker the events some subscriber is interested in (``bus.events_interesting``); the others
    are stored processed."""
    now = timezone.now()
    participants = dict(held)
    if missing := {e.user_id for e in events} - held.keys():
        participants.update(participants_lock_or_create(user_ids=missing))
    fingerprints = [e.fingerprint() if e.idempotency_key else "" for e in events]
    known = {} if connection.vendor == "postgresql" else _stored_keys(events)
    _refuse_reused_keys(events, fingerprints, known)
    plan, to_insert = _plan(events, fingerprints, known, participants=participants, now=now)
    if to_insert:
        interesting = bus.events_interesting(to_insert)
        for event, wanted in zip(to_insert, interesting, strict=True):
            if not wanted:  # nothing would handle it: stored as processed, no worker message
                event.status = Event.Status.PROCESSED
                event.processed_at = now
                event.next_attempt_at = None
        if connection.vendor == "postgresql":
            bulk_insert(Event, to_insert, key=("source", "idempotency_key"), ignore_conflicts=True)
        else:
            bulk_insert(Event, to_insert, ids=True)
        if left_out := [event for event in to_insert if event.pk is None]:
            plan = _stored_already(events, fingerprints, plan, left_out)
        inserted = [(e, wanted) for e, wanted in zip(to_insert, interesting, strict=True) if e.pk is not None]
        new_items = [item for item, (kind, _) in zip(events, plan, strict=True) if kind == "new"]
        # An event's ``attributes`` update its participant (a repeated idempotency key does not).
        participants_merge_attributes(
            participants=participants, changes=[(item.user_id, item.attributes) for item in new_items]
        )
        records_project(events=[e for e, _ in inserted])
        bus.dispatch_on_commit(e.pk for e, wanted in inserted if wanted)
        metrics.events_settled(e for e, wanted in inserted if not wanted)

    results = []
    for kind, value in plan:
        if kind == "known":
            results.append(IngestResult(id=value, duplicate=True))
        else:
            results.append(IngestResult(id=value.pk, duplicate=kind == "repeat"))
    metrics.events_ingested(results)
    return results


def _stored_already(
    events: Sequence[EventInput], fingerprints: list[str], plan: list[tuple[str, Any]], left_out: list[Event]
) -> list[tuple[str, Any]]:
    """The plan once the insert has left out the events whose keys were stored already: those
    (and their repeats in the batch) become ``("known", id)``. A key stored with another event
    is refused (``IdempotencyKeyReused``)."""
    left = {id(event) for event in left_out}
    known = _stored_keys([item for item, (_, value) in zip(events, plan, strict=True) if id(value) in left])
    _refuse_reused_keys(events, fingerprints, known)
    return [
        ("known", known[(item.source, item.idempotency_key)][0]) if id(value) in left else (kind, value)
        for item, (kind, value) in zip(events, plan, strict=True)
    ]


def _refuse_reused_keys(
    events: Sequence[EventInput], fingerprints: list[str], known: dict[tuple[str, str], tuple[int, str]]
) -> None:
    """Raise ``IdempotencyKeyReused`` for keys stored (or repeated in this batch) with another event.

    Events stored before fingerprints existed have none; they are taken as the same event.
    """
    first_in_batch: dict[tuple[str, str], str] = {}
    reused: dict[str, None] = {}
    for item, fingerprint in zip(events, fingerprints, strict=True):
        if not item.idempotency_key:
            continue
        ident = (item.source, item.idempotency_key)
        stored = known.get(ident)
        expected = stored[1] if stored else first_in_batch.setdefault(ident, fingerprint)
        if expected and expected != fingerprint:
            reused[item.idempotency_key] = None
    if reused:
        keys = list(reused)
        raise IdempotencyKeyReused(
            f"The idempotency key {', '.join(repr(k) for k in keys)} was already used with a different "
            "event; use a new key for a new event.",
            idempotency_keys=keys,
        )


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
