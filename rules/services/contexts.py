"""Participant contexts on the event path: kept by each worker process, extended by each message.

Evaluating a participant after its events used to load its whole history from the database
(every record's JSON decoded, every timestamp parsed) on every worker message, so the cost of an
event grew with the participant's past. Instead, a worker keeps the records it loaded, and a
message loads only what its own events wrote:

1. Under the participants' row locks (taken by the caller), read their context generation tokens
   (``rules.cache``; one round trip). A context this process keeps under the current token is
   what the database held when it was last evaluated, by this process, plus nothing since: every
   evaluation of a participant anywhere writes a new token.
2. For those, load the records the message's events wrote (``last_event``), and the participant's
   keyed records (few: one per key; a late, older event merges into one without becoming its
   ``last_event``), in one query, and merge them in by record id.
3. The others are loaded whole (one query), as before.
4. Write a new token for every participant (one round trip): other processes' kept contexts and
   the cached context of ``context_get`` are stale from now on; keep ours under it.
5. Build each context with the facts (``rules.engine.nodes``: counts, aggregates, reference
   times) its kept context had derived from the entities this message left as they were: an
   event adding a session recomputes what is derived from the sessions, not from every entity.

A record written by an event still in flight may be loaded whole before its own message comes;
the merge by id makes that harmless. A transaction that rolls back after step 4 leaves a kept
context holding records of committed events only (events and their records commit together at
ingestion), so its retry finds them again and merges nothing twice. Kept contexts are reloaded
whole after ``KEPT_SECONDS`` (a record deleted by hand is forgotten then, as the shared cache
forgets it) and the least recently used are dropped beyond ``KEPT_RECORDS``; a participant whose
records are rebuilt from its events (``records_rebuild``) gets a new token at once. When the
tokens cannot be read, everything is loaded whole.
"""

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver

from journeys.models import EntityRecord, Participant
from journeys.services.records import records_rebuilt
from rules.cache import (
    CONTEXT_CACHE_SECONDS,
    CONTEXT_GEN_KEY,
    CONTEXT_GEN_SECONDS,
    CONTEXT_MAX_RECORDS,
    context_records_load,
    contexts_invalidate,
)
from rules.engine.nodes import facts_carried
from rules.engine.values import ParticipantContext, Record

logger = logging.getLogger(__name__)

KEPT_RECORDS = 200_000  # records kept per worker process across participants; ~100 MB
KEPT_SECONDS = CONTEXT_CACHE_SECONDS  # a kept context is reloaded whole after this long


@dataclass
class _Kept:
    token: str
    loaded_at: float  # time.monotonic() of the last whole load
    entities: dict[str, list[Record]]  # newest first, as ``context_records_load`` orders them
    ids: dict[str, list[int]]  # the records' ids, in the same order
    size: int
    facts: dict[int, Any] = field(default_factory=dict)  # of the last context built from it


_kept: OrderedDict[int, _Kept] = OrderedDict()
_kept_size = 0


def contexts_for_events(
    *, participants: list[Participant], event_ids: Iterable[int]
) -> dict[int, ParticipantContext]:
    """The contexts of these locked participants, with the records of these events; see above."""
    ids = [p.pk for p in participants]
    try:
        tokens = cache.get_many([CONTEXT_GEN_KEY.format(pk) for pk in ids])
    except Exception:
        logger.warning("context generations unreadable; loading every context whole", exc_info=True)
        tokens = {}
    now = time.monotonic()
    kept: dict[int, _Kept] = {}
    for pk in ids:
        entry = _kept.get(pk)
        token = tokens.get(CONTEXT_GEN_KEY.format(pk))
        if (
            entry is not None
            and token is not None
            and entry.token == token
            and now - entry.loaded_at < KEPT_SECONDS
        ):
            kept[pk] = entry
    changed: dict[int, set[str]] = {}
    if kept:
        changed = _merge(kept, _records_of(participant_ids=list(kept), event_ids=list(event_ids)))
    whole = [pk for pk in ids if pk not in kept or kept[pk].size > CONTEXT_MAX_RECORDS]
    if whole:
        loaded = _load_whole(whole)
        for pk in whole:
            kept[pk] = _Kept(token="", loaded_at=now, entities=loaded[pk][0], ids=loaded[pk][1], size=0)
            kept[pk].size = sum(map(len, kept[pk].ids.values()))
    fresh = {pk: uuid.uuid4().hex for pk in ids}
    cache.set_many({CONTEXT_GEN_KEY.format(pk): token for pk, token in fresh.items()}, CONTEXT_GEN_SECONDS)
    contexts = {}
    for p in participants:
        entry = kept[p.pk]
        entry.token = fresh[p.pk]
        # The context's memo is the entry's from now on: what this evaluation derives is there
        # for the next message.
        entry.facts = facts_carried(entry.facts, changed.get(p.pk, set()))
        _keep(p.pk, entry)
        contexts[p.pk] = ParticipantContext(
            participant_id=p.pk,
            user_id=p.user_id,
            attributes=p.attributes or {},
            tags=p.tags or [],
            entities=entry.entities,
            facts=entry.facts,
        )
    return contexts


def _load_whole(
    participant_ids: list[int],
) -> dict[int, tuple[dict[str, list[Record]], dict[str, list[int]]]]:
    rows = context_records_load(participant_ids=participant_ids, with_ids=True)
    loaded = {}
    for pk in participant_ids:
        entities: dict[str, list[Record]] = {}
        ids: dict[str, list[int]] = {}
        for entity, records in rows.get(pk, {}).items():
            ids[entity] = [row[0] for row in records]
            entities[entity] = [Record(*row[1:]) for row in records]
        loaded[pk] = (entities, ids)
    return loaded


def _records_of(*, participant_ids: list[int], event_ids: list[int]) -> list[tuple]:
    """``(participant, entity, id, occurred_at, data, event_type)`` of the records these events
    wrote and of the participants' keyed records, oldest first."""
    wrote = Q(last_event_id__in=event_ids) if event_ids else Q(pk__in=[])
    return list(
        EntityRecord.objects.filter(participant_id__in=participant_ids)
        .filter(wrote | Q(key__isnull=False))
        .order_by("occurred_at", "id")
        .values_list("participant_id", "entity", "id", "occurred_at", "data", "event_type")
    )


def _merge(kept: dict[int, _Kept], rows: list[tuple]) -> dict[int, set[str]]:
    """Put each row in its participant's kept context, replacing the record of the same id;
    returns the entities whose records changed, by participant.

    The common case, a new record newer than every kept one, goes to the front; anything else
    (a keyed record that changed, a late event) re-sorts that entity's records.
    """
    changed: dict[int, set[str]] = {}
    for participant_id, entity, record_id, occurred_at, data, event_type in rows:
        entry = kept[participant_id]
        records = entry.entities.get(entity, [])
        ids = entry.ids.get(entity, [])
        record = Record(occurred_at, data, event_type or None)
        if record_id in ids:
            at = ids.index(record_id)
            if records[at] == record:
                continue
            records = records[:at] + records[at + 1 :]
            ids = ids[:at] + ids[at + 1 :]
            entry.size -= 1
        if not records or (occurred_at, record_id) > (records[0].occurred_at, ids[0]):
            records, ids = [record, *records], [record_id, *ids]
        else:
            pairs = sorted(
                zip([record, *records], [record_id, *ids], strict=True),
                key=lambda pair: (pair[0].occurred_at, pair[1]),
                reverse=True,
            )
            records, ids = list(map(itemgetter(0), pairs)), list(map(itemgetter(1), pairs))
        entry.entities = {**entry.entities, entity: records}  # a new dict: built contexts stay as they were
        entry.ids = {**entry.ids, entity: ids}
        entry.size += 1
        changed.setdefault(participant_id, set()).add(entity)
    return changed


def _keep(participant_id: int, entry: _Kept) -> None:
    global _kept_size
    previous = _kept.pop(participant_id, None)
    if previous is not None:
        _kept_size -= previous.size
    _kept[participant_id] = entry
    _kept_size += entry.size
    while _kept_size > KEPT_RECORDS and len(_kept) > 1:
        _, dropped = _kept.popitem(last=False)
        _kept_size -= dropped.size


def contexts_forget() -> None:
    """Drop every kept context (tests; a process that wants its memory back)."""
    global _kept_size
    _kept.clear()
    _kept_size = 0


@receiver(records_rebuilt, dispatch_uid="rules.contexts.records_rebuilt")
def _records_rebuilt(*, participant_id: int, **kwargs) -> None:
    # Bookkeeping: a new generation now (under the rebuild's lock, so an evaluation waiting for
    # it loads the rebuilt records) and again after the commit.
    contexts_invalidate([participant_id])
    transaction.on_commit(lambda: contexts_invalidate([participant_id]))
