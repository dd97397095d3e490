"""Caches of the rules engine: the active rule set (≤ 1 minute) and participant contexts (≤ 5 minutes).

Both live in Django's cache (Redis when ``REDIS_URL`` is set, so every worker shares them) and
are invalidated by *generation*: each cached entry carries the generation token it was loaded
under, and invalidating writes a new token. A reader that loaded data just before a change and
stores it just after stores it under the old token, so nobody ever uses it — a plain delete would
let that stale entry live for the whole timeout.

Compiled rules are additionally memoised per process by ``(pk, version, definition)``: a rule is compiled
once per version, whichever worker runs it.
"""

import json
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from journeys.models import EntityRecord, Participant
from rules import metrics
from rules.engine.ruleset import CompiledRule, Ruleset, compile_rule, ruleset_build
from rules.engine.values import ParticipantContext, Record
from rules.models import Rule

RULES_KEY = "rules:active:v1"
RULES_TOKEN_KEY = "rules:active:token:v1"  # the token alone: what a process checks on every call
RULES_GEN_KEY = "rules:active:gen"
RULES_CACHE_SECONDS = 60  # the seed's one minute; changes invalidate at once anyway
CONTEXT_KEY = "rules:context:v2:{}"  # v2: records carry their event type
CONTEXT_GEN_KEY = "rules:context:gen:{}"
CONTEXT_CACHE_SECONDS = 300  # the seed's five minutes; a new event invalidates at once
# A generation must outlive every entry stored under it, or a lost token would match old entries.
CONTEXT_GEN_SECONDS = 2 * CONTEXT_CACHE_SECONDS
CONTEXT_MAX_RECORDS = 5000  # newest records loaded per participant; aggregates cover these

COMPILED_MEMO_MAX = 5000  # compiled rule versions kept per process

_compiled: dict[tuple[int, int, str], CompiledRule] = {}
_ruleset: Ruleset | None = None


def _cached(key: str, gen_key: str) -> tuple[Any, Any]:
    """``(value or None, current generation)`` in one round trip."""
    found = cache.get_many([key, gen_key])
    generation = found.get(gen_key)
    entry = found.get(key)
    metrics.cache_looked_up(key, hit=entry is not None and entry[0] == generation)
    if entry is not None and entry[0] == generation:
        return entry[1], generation
    return None, generation


# ----------------------------------------------------------------------------------------------
# Rules
# ----------------------------------------------------------------------------------------------
def active_ruleset() -> Ruleset:
    """The active rules, compiled, in evaluation order.

    While nothing changes, one small read: the token of the cached rule set, which names the rule
    set this process has compiled already. The definitions are read (and unpickled) only when the
    token is new to this process.
    """
    global _ruleset
    token, _ = _cached(RULES_TOKEN_KEY, RULES_GEN_KEY)
    if token is not None and _ruleset is not None and _ruleset.token == token:
        return _ruleset
    entry, generation = _cached(RULES_KEY, RULES_GEN_KEY)
    if entry is None:
        rows = list(Rule.objects.filter(active=True).values_list("pk", "version", "rule_config"))
        entry = (uuid.uuid4().hex, rows)
        cache.set_many(
            {RULES_KEY: (generation, entry), RULES_TOKEN_KEY: (generation, entry[0])}, RULES_CACHE_SECONDS
        )
    token, rows = entry
    if _ruleset is not None and _ruleset.token == token:
        return _ruleset
    if len(_compiled) > COMPILED_MEMO_MAX:
        _compiled.clear()
    compiled = []
    for pk, version, config in rows:
        # The definition's text is part of the key: a pk reused after a rolled-back insert (tests,
        # SQLite) must never find another rule's closures.
        key = (pk, version, json.dumps(config, sort_keys=True))
        rule = _compiled.get(key)
        if rule is None:
            rule = _compiled[key] = compile_rule(config, version=version, pk=pk)
        compiled.append(rule)
    _ruleset = ruleset_build(compiled, token=token)
    return _ruleset


def rules_invalidate() -> None:
    """Drop the cached rule set once the current transaction commits (readers before the commit
    would otherwise reload the old rows under the new generation)."""
    transaction.on_commit(lambda: cache.set(RULES_GEN_KEY, uuid.uuid4().hex, None))


# ----------------------------------------------------------------------------------------------
# Participant contexts
# ----------------------------------------------------------------------------------------------
RecordRow = tuple[datetime, dict[str, Any], str]  # (occurred_at, data, event_type), as cached


def context_get(participant: Participant) -> ParticipantContext:
    """The participant's context: cached records, with attributes and tags from the row given
    (callers pass a freshly locked row, so attributes are never stale).

    For reads that may repeat without new events (the API's evaluate, previews, beat). The event
    path does not come here: an event has just made the cached entry stale, so it loads the
    records straight from the database (``context_records_load``) and caches nothing.
    """
    key = CONTEXT_KEY.format(participant.pk)
    entities, generation = _cached(key, CONTEXT_GEN_KEY.format(participant.pk))
    if entities is None:
        entities = context_records_load(participant_ids=[participant.pk]).get(participant.pk, {})
        cache.set(key, (generation, entities), CONTEXT_CACHE_SECONDS)
    return context_build(participant, entities)


def context_build(participant: Participant, entities: dict[str, list[RecordRow]]) -> ParticipantContext:
    return ParticipantContext(
        participant_id=participant.pk,
        user_id=participant.user_id,
        attributes=participant.attributes or {},
        tags=participant.tags or [],
        entities={name: [Record(*row) for row in rows] for name, rows in entities.items()},
    )


def context_records_load(
    *, participant_ids: list[int], with_ids: bool = False
) -> dict[int, dict[str, list[RecordRow]]]:
    """Records of these participants as ``{participant: {entity: [(occurred_at, data, event_type)…]}}``,
    newest first, at most ``CONTEXT_MAX_RECORDS`` per participant, in one query; ``with_ids``
    puts each record's id first in its tuple.

    The limit per participant is a window (``row_number() over (partition by participant)``)
    when several are loaded, so a batch sees exactly what loading each alone would.
    """
    records = EntityRecord.objects.filter(participant_id__in=participant_ids)
    if len(participant_ids) == 1:
        records = records.order_by("-occurred_at", "-id")[:CONTEXT_MAX_RECORDS]
    else:
        records = (
            records.annotate(
                rank=Window(
                    RowNumber(),
                    partition_by=[F("participant_id")],
                    order_by=[F("occurred_at").desc(), F("id").desc()],
                )
            )
            .filter(rank__lte=CONTEXT_MAX_RECORDS)
            .order_by("participant_id", "-occurred_at", "-id")
        )
    loaded: dict[int, dict[str, list[RecordRow]]] = defaultdict(lambda: defaultdict(list))
    for participant_id, entity, pk, occurred_at, data, event_type in records.values_list(
        "participant_id", "entity", "id", "occurred_at", "data", "event_type"
    ):
        row = (occurred_at, data, event_type or None)
        loaded[participant_id][entity].append((pk, *row) if with_ids else row)
    return {pid: dict(entities) for pid, entities in loaded.items()}


def context_invalidate(participant_id: int) -> None:
    """A new event arrived for this participant: its cached context is stale from now on."""
    contexts_invalidate([participant_id])


def contexts_invalidate(participant_ids: list[int]) -> None:
    """Mark these participants' cached contexts stale, in one round trip."""
    if participant_ids:
        cache.set_many(
            {CONTEXT_GEN_KEY.format(pid): uuid.uuid4().hex for pid in participant_ids}, CONTEXT_GEN_SECONDS
        )
