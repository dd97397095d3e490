"""Projection of events into participant records (the context rules read).

An ``EntityMapping`` says which event types feed which entity. Keyed mappings merge events
carrying the same key into one record; an older event arriving late never overwrites newer data.
"""

import fnmatch
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from journeys.errors import ValidationFailed
from journeys.models import EntityMapping, EntityRecord, Event, Participant

MAPPINGS_CACHE_KEY = "journeys:entity-mappings:v1"
MAPPINGS_CACHE_SECONDS = 300  # invalidated on every change; the timeout is only a backstop

DEFAULT_MAPPINGS: list[dict[str, str]] = [
    {
        "event_type": "kintell.session.*",
        "entity": "kintell_sessions",
        "key_field": "",
        "description": "Kintell sessions (language and mentoring), one record per session event.",
    },
    {
        "event_type": "buddy.match.*",
        "entity": "buddy_matches",
        "key_field": "",
        "description": "Buddy matches.",
    },
    {
        "event_type": "buddy.*",
        "entity": "buddy_events",
        "key_field": "",
        "description": "Every buddy programme event; its newest record is the last buddy activity.",
    },
    {
        "event_type": "program.enrollment.*",
        "entity": "program_enrollments",
        "key_field": "enrollment_id",
        "description": "Programme enrollments, one record per enrollment_id holding its latest status.",
    },
    {
        "event_type": "upskilling.*",
        "entity": "learning_progress",
        "key_field": "",
        "description": "Upskilling progress (courses started, completed…).",
    },
]


@dataclass(frozen=True)
class CompiledMapping:
    pattern: str
    entity: str
    key_path: tuple[str, ...]

    def matches(self, event_type: str) -> bool:
        return fnmatch.fnmatchcase(event_type, self.pattern)


def active_mappings() -> list[CompiledMapping]:
    """The active mappings, from the cache when it holds a non-empty set, else from the table.

    An empty set is never trusted from the cache (nor stored there): "no mappings" makes every
    event count as projected without its records, for good, so the table is asked each time
    instead. A deployment with no mappings pays one small query per ingest for that.
    """
    rows = cache.get(MAPPINGS_CACHE_KEY)
    if not rows:
        rows = _mapping_rows()
        if rows:
            cache.set(MAPPINGS_CACHE_KEY, rows, MAPPINGS_CACHE_SECONDS)
    return compile_mappings(rows)


def _mapping_rows() -> list[tuple[str, str, str]]:
    return list(EntityMapping.objects.filter(active=True).values_list("event_type", "entity", "key_field"))


def compile_mappings(rows: list[tuple[str, str, str]] | None = None) -> list[CompiledMapping]:
    """Mappings from ``rows`` (event type, entity, key field), or straight from the table."""
    rows = _mapping_rows() if rows is None else rows
    return [
        CompiledMapping(pattern, entity, tuple(key.split(".")) if key else ())
        for pattern, entity, key in rows
    ]


def invalidate_mappings() -> None:
    transaction.on_commit(lambda: cache.delete(MAPPINGS_CACHE_KEY))
    cache.delete(MAPPINGS_CACHE_KEY)


def _dig(payload: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(payload, dict):
            return None
        payload = payload.get(part)
    return payload


def records_project(*, events: Sequence[Event], mappings: list[CompiledMapping] | None = None) -> int:
    """Write the records these (just inserted) events feed. Returns the number written.

    Runs inside the ingesting transaction, so an event and its records commit together.
    """
    if mappings is None:
        mappings = active_mappings()
    if not mappings or not events:
        return 0
    inserts: list[EntityRecord] = []
    keyed: dict[tuple[int, str, str], list[Event]] = defaultdict(list)
    by_type: dict[str, list[CompiledMapping]] = {}  # a batch holds few types: each matched once
    for event in events:
        matching = by_type.get(event.type)
        if matching is None:
            matching = by_type[event.type] = [m for m in mappings if m.matches(event.type)]
        for mapping in matching:
            key = _dig(event.payload, mapping.key_path) if mapping.key_path else None
            if key is None or isinstance(key, dict | list):
                # No key path, or no usable key: the event still counts, as a record of its own.
                inserts.append(
                    EntityRecord(
                        participant_id=event.participant_id,
                        entity=mapping.entity,
                        data=event.payload,
                        event_type=event.type,
                        occurred_at=event.occurred_at,
                        last_event=event,
                    )
                )
                continue
            keyed[(event.participant_id, mapping.entity, str(key))].append(event)
    written = len(inserts)
    if inserts:
        EntityRecord.objects.bulk_create(inserts)
    if keyed:
        written += _upsert_keyed(keyed)
    return written


def _upsert_keyed(keyed: dict[tuple[int, str, str], list[Event]]) -> int:
    """Fold each key's events into its record, oldest first, as if they had come one by one.

    Every field ends up with the value of the newest event carrying it, whatever order the events
    arrive in, so a batch, a late event and a rebuild from the log all agree.
    """
    participant_ids = {ident[0] for ident in keyed}
    keys = {ident[2] for ident in keyed}
    existing = {
        (r.participant_id, r.entity, r.key): r
        for r in EntityRecord.objects.select_for_update()
        .filter(participant_id__in=participant_ids, key__in=keys)
        .order_by("pk")
    }
    updates: list[EntityRecord] = []
    creates: list[EntityRecord] = []
    now = timezone.now()
    for ident, events in keyed.items():
        record = existing.get(ident)
        for event in sorted(events, key=lambda e: (e.occurred_at, e.pk or 0)):
            if record is None:
                record = EntityRecord(
                    participant_id=ident[0],
                    entity=ident[1],
                    key=ident[2],
                    data=event.payload,
                    event_type=event.type,
                    occurred_at=event.occurred_at,
                    last_event=event,
                )
                creates.append(record)
            elif record.occurred_at <= event.occurred_at:
                record.data = {**record.data, **event.payload}
                record.occurred_at = event.occurred_at
                record.event_type = event.type
                record.last_event = event
            else:
                # A late, older event: keep the newer values, fill in only what is missing.
                record.data = {**event.payload, **record.data}
        if record.pk is not None:
            record.updated_at = now
            updates.append(record)
    if creates:
        EntityRecord.objects.bulk_create(creates)
    if updates:
        EntityRecord.objects.bulk_update(
            updates, ["data", "event_type", "occurred_at", "last_event", "updated_at"]
        )
    return len(creates) + len(updates)


REBUILD_EVENTS_CHUNK = 2000  # events projected per statement group while rebuilding
# Sent (``participant_id=``) inside the rebuild's transaction, under the participant's lock:
# whatever holds the participant's records in memory or in a cache must load them again.
records_rebuilt = Signal()


def records_rebuild(*, participant: Participant, mappings: list[CompiledMapping] | None = None) -> int:
    """Re-project one participant's records from its event log. Returns the records written.

    ``mappings`` defaults to the table's active mappings (never the cache: a rebuild is what
    repairs what a bad cache entry did).

    1. Lock the participant's row (ingestion takes the same lock), so no event lands half-way.
    2. Delete its records.
    3. Project its events again in the order they were received, a chunk at a time. Keyed
       records fold their events by time (``_upsert_keyed``), so the result is what live
       ingestion wrote, and running it twice writes the same records again.
    """
    if mappings is None:
        mappings = compile_mappings()
    with transaction.atomic():
        Participant.objects.select_for_update().filter(pk=participant.pk).first()
        EntityRecord.objects.filter(participant=participant).delete()
        written = 0
        last_id = 0
        while True:
            chunk = list(
                Event.objects.filter(participant=participant, pk__gt=last_id).order_by("pk")[
                    :REBUILD_EVENTS_CHUNK
                ]
            )
            if not chunk:
                break
            written += records_project(events=chunk, mappings=mappings)
            last_id = chunk[-1].pk
        records_rebuilt.send(sender=EntityRecord, participant_id=participant.pk)
    return written


@transaction.atomic
def entity_mapping_save(*, mapping: EntityMapping) -> EntityMapping:
    """Create or update a mapping (validated) and drop the cached set."""
    from django.core.exceptions import ValidationError

    try:
        mapping.full_clean()
    except ValidationError as exc:
        raise ValidationFailed(exc.message_dict) from exc
    mapping.save()
    invalidate_mappings()
    return mapping


@transaction.atomic
def entity_mapping_delete(*, mapping: EntityMapping) -> None:
    mapping.delete()
    invalidate_mappings()


def entity_mappings_load_defaults() -> int:
    """Create the default mappings that do not exist yet. Returns how many were created."""
    created = 0
    for spec in DEFAULT_MAPPINGS:
        _, was_created = EntityMapping.objects.get_or_create(
            event_type=spec["event_type"],
            entity=spec["entity"],
            defaults={"key_field": spec["key_field"], "description": spec["description"]},
        )
        created += was_created
    if created:
        invalidate_mappings()
    return created
