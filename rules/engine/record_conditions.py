"""Conditions on a participant's records: ``count``, ``exists``, ``value`` and ``time_since``.

What they derive from the records alone is memoised in the context's facts (``fact_key``).
"""

import operator as op
from collections.abc import Callable
from typing import Any

from journeys.engine.operators import canonical_operator
from rules.engine.nodes import (
    MISSING,
    NO_RECORDS,
    EvalState,
    Node,
    TimeWindow,
    fact_key,
    show,
    text,
    unmemoised,
)
from rules.engine.values import (
    REDUCERS,
    Record,
    comparison,
    entity_value_reader,
    numbers_reader,
    parse_duration,
    record_getter,
    record_matcher,
    split_aggregate,
    time_reader,
)

COUNT_COMPARISONS = {
    "gte": op.ge,
    "gt": op.gt,
    "lt": op.lt,
    "lte": op.le,
    "eq": op.eq,
    "ne": op.ne,
}  # by canonical_operator
TIME_COMPARISONS = {name: COUNT_COMPARISONS[name] for name in ("gte", "gt", "lt", "lte")}


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
        f" where {spec['field']} {spec.get('operator', '=')} {text(spec['value'])}",
    )


def _counter(spec: dict[str, Any]) -> tuple[str, Callable[[Record], bool] | None, int, str]:
    """(entity, record filter or none, memo key, description) of a count/exists subject."""
    entity = spec["entity"]
    predicate, where = _record_filter(spec)
    key = fact_key(
        "n", entity, spec.get("field"), spec.get("operator"), "value" in spec, text(spec.get("value"))
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


def count(spec: dict[str, Any]) -> Node:
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
        actual = count(unmemoised(state))
        return {
            "type": "count",
            "description": description,
            "actual": actual,
            "holds": compare(actual, expected),
        }

    return Node(test, explain, reads_participant=False)


def exists(spec: dict[str, Any]) -> Node:
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
        actual = count(unmemoised(state))
        return {
            "type": "exists",
            "description": description,
            "actual": f"{actual} matching",
            "holds": actual > 0,
        }

    return Node(test, explain, reads_participant=False)


def value(spec: dict[str, Any]) -> Node:
    entity, name = spec["entity"], spec["field"]
    read = entity_value_reader(name)
    check = comparison(spec["operator"], spec["value"])
    expected = spec["value"]
    key = fact_key("v", entity, name)
    description = f"{entity}.{name} {spec['operator']} {text(expected)}"
    aggregate = split_aggregate(name)
    if aggregate is not None:
        # avg_rating, max_rating… reduce one list of the entity's ratings, read once; a literal
        # avg_rating field of the newest record wins (see rules.engine.values).
        numbers, reduce = numbers_reader(aggregate[1]), REDUCERS[aggregate[0]]
        numbers_key = fact_key("numbers", entity, aggregate[1])
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
            "actual": show(actual),
            "holds": check(actual),
        }

    return Node(test, explain, reads_participant=False)


def time_since(spec: dict[str, Any]) -> Node:
    """Elapsed time since a record time compared with a duration. No time at all counts as
    infinitely long ago: ``>=``/``>`` hold (never active is inactive), ``<``/``<=`` do not."""
    entity, name, operator = spec["entity"], spec["field"], spec["operator"]
    duration = parse_duration(spec["duration"])
    assert duration is not None  # validated
    read = time_reader(name)
    compare = TIME_COMPARISONS[canonical_operator(operator)]
    key = fact_key("t", entity, name)
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

    return Node(test, explain, windows=(window,), reads_participant=False)
