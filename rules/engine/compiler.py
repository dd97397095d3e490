"""Compilation of validated conditions into closures, once per rule version.

Each condition becomes a ``Node`` with two closures over pre-parsed operands:

* ``test(state) → bool``: the fast path evaluation uses (``all_of``/``any_of`` short-circuit);
* ``explain(state) → dict``: the same decision plus the actual value seen, for traces (every
  child is explained, so a trace shows why each part held or not).

Values derived from the records alone (counts, aggregates, newest values, reference times) are
memoised in ``context.facts`` under a small integer key per distinct value (``fact_key``): a
hundred rules reading ``avg_rating`` compute it once, and a context evaluated again (a cached or
warm context; the fixpoint's second pass) computes nothing again. A context is a snapshot that
is never changed once built, so its facts stay true. ``explain`` never reads the memo: a trace
recomputes what it shows, so it can be checked against the fast path.
"""

import itertools
import json
import operator as op
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from journeys.engine.operators import canonical_operator
from rules.engine.values import (
    OPERATOR_FUNCTIONS,
    REDUCERS,
    ParticipantContext,
    Record,
    comparison,
    entity_value_reader,
    numbers_reader,
    parse_duration,
    path_getter,
    record_getter,
    record_matcher,
    split_aggregate,
    time_reader,
)

NO_RECORDS: list[Record] = []
TIME_COMPARISONS = {"gte": op.ge, "gt": op.gt, "lt": op.lt, "lte": op.le}  # by canonical_operator
COUNT_COMPARISONS = {**TIME_COMPARISONS, "eq": op.eq, "ne": op.ne}


MISSING = object()  # not computed yet (a fact may well be None)
_fact_keys: dict[tuple, int] = {}
_fact_numbers = itertools.count()


def fact_key(description: tuple) -> int:
    """The memo key of one derived value: equal descriptions share a key in this process, and
    small ints hash and compare faster than the tuples they stand for."""
    key = _fact_keys.get(description)
    if key is None:
        key = _fact_keys.setdefault(description, next(_fact_numbers))
    return key


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


def compile_conditions(conditions: list[dict[str, Any]]) -> Node:
    """The rule's condition list (all must hold) as one node."""
    if len(conditions) == 1:
        return compile_condition(conditions[0])
    return _logical("all_of", [compile_condition(c) for c in conditions])


def compile_condition(spec: dict[str, Any]) -> Node:
    return COMPILERS[spec["type"]](spec)


def _show(value: Any) -> Any:
    """A JSON-safe rendering of an actual value for traces."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


def _text(value: Any) -> str:
    return json.dumps(value, default=str)


def _record_filter(spec: dict[str, Any]) -> tuple[Callable[[Record], bool] | None, str]:
    """The optional filter of count/exists as a predicate on records, and its description."""
    if "field" not in spec:
        return None, ""
    if "value" not in spec:
        get = record_getter(spec["field"])
        return (lambda record: get(record) is not None), f" where {spec['field']} is present"
    operator = spec.get("operator", "=") or "="
    return (
        record_matcher(spec["field"], operator, spec["value"]),
        f" where {spec['field']} {spec.get('operator', '=')} {_text(spec['value'])}",
    )


def _counter(spec: dict[str, Any]) -> tuple[str, Callable[[Record], bool] | None, int, str]:
    """(entity, record filter or none, memo key, description) of a count/exists subject."""
    entity = spec["entity"]
    predicate, where = _record_filter(spec)
    key = fact_key(
        ("n", entity, spec.get("field"), spec.get("operator"), "value" in spec, _text(spec.get("value")))
    )
    return entity, predicate, key, f"{entity}{where}"


def _count_of(
    entity: str, predicate: Callable[[Record], bool] | None, key: int
) -> Callable[[EvalState], int]:
    """``count(state)``: matching records, memoised in the context's facts."""
    if predicate is None:

        def count_all(state: EvalState) -> int:
            records = state.entities.get(entity)
            return len(records) if records else 0

        return count_all

    def count(state: EvalState) -> int:
        facts = state.facts
        n = facts.get(key)
        if n is None:
            # map/sum: the fastest way CPython has to count the records a predicate accepts.
            n = facts[key] = sum(map(predicate, state.entities.get(entity, NO_RECORDS)))
        return n

    return count


def _count(spec: dict[str, Any]) -> Node:
    entity, predicate, key, subject = _counter(spec)
    count = _count_of(entity, predicate, key)
    compare = COUNT_COMPARISONS[
        canonical_operator(spec["count"])
    ]  # counts are whole numbers: plain comparisons
    expected = spec["count_value"]
    description = f"count({subject}) {spec['count']} {expected}"

    if predicate is None:

        def test(state: EvalState) -> bool:
            records = state.entities.get(entity)
            return compare(len(records) if records else 0, expected)

    else:

        def test(state: EvalState) -> bool:
            n = state.facts.get(key)
            return compare(count(state) if n is None else n, expected)

    def explain(state: EvalState) -> dict[str, Any]:
        actual = count(_unmemoised(state))
        return {
            "type": "count",
            "description": description,
            "actual": actual,
            "holds": compare(actual, expected),
        }

    return Node(test, explain)


def _exists(spec: dict[str, Any]) -> Node:
    entity, predicate, key, subject = _counter(spec)
    count = _count_of(entity, predicate, key)
    description = f"exists({subject})"

    if predicate is None:

        def test(state: EvalState) -> bool:
            return bool(state.entities.get(entity))

    else:

        def test(state: EvalState) -> bool:
            n = state.facts.get(key)
            return (count(state) if n is None else n) > 0

    def explain(state: EvalState) -> dict[str, Any]:
        actual = count(_unmemoised(state))
        return {
            "type": "exists",
            "description": description,
            "actual": f"{actual} matching",
            "holds": actual > 0,
        }

    return Node(test, explain)


def _unmemoised(state: EvalState) -> EvalState:
    """The same evaluation with an empty memo: traces recompute what they show."""
    fresh = EvalState(state.context, state.flags, state.now)
    fresh.facts = {}
    return fresh


def _value(spec: dict[str, Any]) -> Node:
    entity, name = spec["entity"], spec["field"]
    read = entity_value_reader(name)
    check = comparison(spec["operator"], spec["value"])
    expected = spec["value"]
    key = fact_key(("v", entity, name))
    description = f"{entity}.{name} {spec['operator']} {_text(expected)}"
    aggregate = split_aggregate(name)
    if aggregate is not None:
        # avg_rating, max_rating… reduce one list of the entity's ratings, read once; a literal
        # avg_rating field of the newest record wins (see rules.engine.values).
        numbers, reduce = numbers_reader(aggregate[1]), REDUCERS[aggregate[0]]
        numbers_key = fact_key(("numbers", entity, aggregate[1]))
        literal = record_getter(name)

        def compute(state: EvalState) -> Any:
            records = state.entities.get(entity, NO_RECORDS)
            if records:
                value = literal(records[0])
                if value is not None:
                    return value
            facts = state.facts
            values = facts.get(numbers_key, MISSING)
            if values is MISSING:
                values = facts[numbers_key] = numbers(state.entities.get(entity, NO_RECORDS))
            return reduce(values)

    else:

        def compute(state: EvalState) -> Any:
            return read(state.entities.get(entity, NO_RECORDS))

    def test(state: EvalState) -> bool:
        facts = state.facts
        actual = facts.get(key, MISSING)
        if actual is MISSING:
            actual = facts[key] = compute(state)
        return check(actual)

    def explain(state: EvalState) -> dict[str, Any]:
        actual = read(state.context.entities.get(entity, NO_RECORDS))
        return {
            "type": "value",
            "description": description,
            "actual": _show(actual),
            "holds": check(actual),
        }

    return Node(test, explain)


def _time_since(spec: dict[str, Any]) -> Node:
    """Elapsed time since a record time compared with a duration. No time at all counts as
    infinitely long ago: ``>=``/``>`` hold (never active is inactive), ``<``/``<=`` do not."""
    entity, name, operator = spec["entity"], spec["field"], spec["operator"]
    duration = parse_duration(spec["duration"])
    assert duration is not None  # validated
    read = time_reader(name)
    compare = TIME_COMPARISONS[canonical_operator(operator)]
    key = fact_key(("t", entity, name))
    window = TimeWindow((entity, name, duration.total_seconds()), entity, read, duration, key)
    description = f"time since {entity}.{name} {operator} {spec['duration']}"
    never = canonical_operator(operator) in ("gte", "gt")

    def test(state: EvalState) -> bool:
        facts = state.facts
        reference = facts.get(key, MISSING)
        if reference is MISSING:
            reference = facts[key] = read(state.entities.get(entity, NO_RECORDS))
        if reference is None:
            return never
        return compare(state.now - reference, duration)

    def explain(state: EvalState) -> dict[str, Any]:
        reference = read(state.context.entities.get(entity, NO_RECORDS))
        if reference is None:
            actual, holds = "no activity recorded", never
        else:
            gap = state.now - reference
            actual = f"{gap.total_seconds() / 86_400:.2f} days since {reference.isoformat()}"
            holds = compare(gap, duration)
        return {"type": "time_since", "description": description, "actual": actual, "holds": holds}

    return Node(test, explain, windows=(window,))


def _flag(spec: dict[str, Any]) -> Node:
    """Another flag's current value; an absent (or expired) flag counts as false."""
    name, expected = spec["flag"], spec.get("value", True)
    description = f"flag {name} is {str(expected).lower()}"

    def test(state: EvalState) -> bool:
        return state.flags.get(name, False) is expected

    def explain(state: EvalState) -> dict[str, Any]:
        actual = state.flags.get(name)
        return {
            "type": "flag",
            "description": description,
            "actual": actual,
            "holds": (actual or False) is expected,
        }

    return Node(test, explain, reads_flags=True)


def _attribute(spec: dict[str, Any]) -> Node:
    """A participant attribute (dot path into ``attributes``); ``tags`` is the tag list."""
    name = spec["field"]
    get = path_getter(name)
    compare = OPERATOR_FUNCTIONS[canonical_operator(spec["operator"])]
    expected = spec["value"]
    description = f"attribute {name} {spec['operator']} {_text(expected)}"

    def actual_of(state: EvalState) -> Any:
        context = state.context
        if name == "tags" and "tags" not in context.attributes:
            return context.tags
        return get(context.attributes)

    def test(state: EvalState) -> bool:
        return compare(actual_of(state), expected)

    def explain(state: EvalState) -> dict[str, Any]:
        actual = actual_of(state)
        return {
            "type": "attribute",
            "description": description,
            "actual": _show(actual),
            "holds": compare(actual, expected),
        }

    return Node(test, explain)


def _logical(kind: str, children: list[Node]) -> Node:
    tests = tuple(child.test for child in children)
    windows = tuple(w for child in children for w in child.windows)
    reads_flags = any(child.reads_flags for child in children)
    combine = all if kind == "all_of" else any

    # Plain loops: the fast path runs millions of times, and a generator per call costs. Two
    # children (the usual pair) need no loop at all.
    if len(tests) == 2:
        first, second = tests
        if kind == "all_of":

            def test(state: EvalState) -> bool:
                return first(state) and second(state)

        else:

            def test(state: EvalState) -> bool:
                return first(state) or second(state)

    elif kind == "all_of":

        def test(state: EvalState) -> bool:
            for child_test in tests:  # noqa: SIM110
                if not child_test(state):
                    return False
            return True

    else:

        def test(state: EvalState) -> bool:
            for child_test in tests:  # noqa: SIM110
                if child_test(state):
                    return True
            return False

    def explain(state: EvalState) -> dict[str, Any]:
        parts = [child.explain(state) for child in children]
        return {
            "type": kind,
            "description": f"{'all' if kind == 'all_of' else 'any'} of {len(parts)}",
            "holds": combine(p["holds"] for p in parts),
            "conditions": parts,
        }

    return Node(test, explain, windows, reads_flags)


def _all_of(spec: dict[str, Any]) -> Node:
    return _logical("all_of", [compile_condition(c) for c in spec["conditions"]])


def _any_of(spec: dict[str, Any]) -> Node:
    return _logical("any_of", [compile_condition(c) for c in spec["conditions"]])


def _not(spec: dict[str, Any]) -> Node:
    child = compile_condition(spec["condition"])
    inner = child.test

    def test(state: EvalState) -> bool:
        return not inner(state)

    def explain(state: EvalState) -> dict[str, Any]:
        part = child.explain(state)
        return {"type": "not", "description": "not", "holds": not part["holds"], "conditions": [part]}

    return Node(test, explain, child.windows, child.reads_flags)


COMPILERS: dict[str, Callable[[dict[str, Any]], Node]] = {
    "count": _count,
    "exists": _exists,
    "value": _value,
    "time_since": _time_since,
    "flag": _flag,
    "attribute": _attribute,
    "all_of": _all_of,
    "any_of": _any_of,
    "not": _not,
}
