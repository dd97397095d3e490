"""What a compiled condition is (``Node``), what it evaluates against (``EvalState``), and the
memo of derived values a context keeps (``fact_key``). See ``rules.engine.compiler``."""

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rules.engine.values import (
    ParticipantContext,
    Record,
)

NO_RECORDS: list[Record] = []


MISSING = object()  # not computed yet (a fact may well be None)
_fact_keys: dict[tuple, int] = {}
_fact_entities: dict[int, str] = {}  # the entity whose records each fact is derived from
_fact_numbers = itertools.count()


def fact_key(kind: str, entity: str, *detail: Any) -> int:
    """The memo key of one value derived from one entity's records: equal descriptions share a
    key in this process, and small ints hash and compare faster than the tuples they stand for."""
    description = (kind, entity, *detail)
    key = _fact_keys.get(description)
    if key is None:
        key = _fact_keys.setdefault(description, next(_fact_numbers))
        _fact_entities[key] = entity
    return key


def facts_carried(facts: dict[int, Any], changed: set[str]) -> dict[int, Any]:
    """The facts still true of a context whose ``changed`` entities got new records: every fact
    keyed by ``fact_key`` is derived from one entity's records alone, so those of the other
    entities carry over (anything else in the memo does not)."""
    carried = {}
    for key, value in facts.items():
        entity = _fact_entities.get(key)
        if entity is not None and entity not in changed:
            carried[key] = value
    return carried


@dataclass(slots=True)
class EvalState:
    """One evaluation: the context, the flag values conditions see, the clock, and the
    context's memo of derived values (``facts``)."""

    context: ParticipantContext
    flags: dict[str, bool]
    now: datetime
    facts: dict[int, Any] = field(init=False)
    entities: dict[str, list[Record]] = field(init=False)  # the context's, one attribute away

    def __post_init__(self) -> None:
        self.facts = self.context.facts
        self.entities = self.context.entities


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A ``time_since`` whose truth flips by itself at ``reference time + duration``."""

    key: tuple[str, str, float]  # (entity, field, seconds): identical windows are checked once
    entity: str
    read: Callable[[list[Record]], datetime | None]
    duration: timedelta
    fact: int  # the memo key of the reference time, shared with the conditions reading it

    def flips_at(self, context: ParticipantContext) -> datetime | None:
        facts = context.facts
        reference = facts.get(self.fact, MISSING)
        if reference is MISSING:
            reference = facts[self.fact] = self.read(context.entities.get(self.entity, NO_RECORDS))
        return reference + self.duration if reference is not None else None


@dataclass(frozen=True, slots=True)
class Node:
    test: Callable[[EvalState], bool]
    explain: Callable[[EvalState], dict[str, Any]]
    windows: tuple[TimeWindow, ...] = ()
    reads_flags: bool = False
    # Whether the condition may read the participant's attributes or tags. True unless a
    # condition says otherwise (a plugin's condition may read anything): evaluation then follows
    # the steps that change them, announced as ``journey.*`` events.
    reads_participant: bool = True


def show(value: Any) -> Any:
    """A JSON-safe rendering of an actual value for traces."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


def text(value: Any) -> str:
    return json.dumps(value, default=str)


def unmemoised(state: EvalState) -> EvalState:
    """The same evaluation with an empty memo: traces recompute what they show."""
    fresh = EvalState(state.context, state.flags, state.now)
    fresh.facts = {}
    return fresh
