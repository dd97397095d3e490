"""Compilation of validated conditions into closures, once per rule version.

Each condition becomes a ``Node`` with two closures over pre-parsed operands:

* ``test(state) → bool``: the fast path evaluation uses (``all_of``/``any_of`` short-circuit);
* ``explain(state) → dict``: the same decision plus the actual value seen, for traces (every
  child is explained, so a trace shows why each part held or not).

Values read from the context (counts, aggregates) are memoised per evaluation in
``state.memo``, so a hundred rules reading ``avg_rating`` compute it once.
"""

import json
import operator as op
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rules.engine.values import (
    OPERATOR_FUNCTIONS,
    ParticipantContext,
    Record,
    comparison,
    entity_value_reader,
    parse_duration,
    path_getter,
    time_reader,
)

NO_RECORDS: list[Record] = []
TIME_COMPARISONS = {">=": op.ge, ">": op.gt, "<": op.lt, "<=": op.le}
COUNT_COMPARISONS = {**TIME_COMPARISONS, "=": op.eq, "!=": op.ne}


@dataclass(slots=True)
class EvalState:
    """One evaluation: the context, the flag values conditions see, the clock, a memo."""

    context: ParticipantContext
    flags: dict[str, bool]
    now: datetime
    memo: dict[Any, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A ``time_since`` whose truth flips by itself at ``reference time + duration``."""

    key: tuple[str, str, float]  # (entity, field, seconds): identical windows are checked once
    entity: str
    read: Callable[[list[Record]], datetime | None]
    duration: timedelta

    def flips_at(self, context: ParticipantContext) -> datetime | None:
        reference = self.read(context.entities.get(self.entity, NO_RECORDS))
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


def _record_filter(spec: dict[str, Any]) -> tuple[Callable[[dict], bool] | None, str]:
    """The optional filter of count/exists as a predicate on record data, and its description."""
    if "field" not in spec:
        return None, ""
    get = path_getter(spec["field"])
    if "value" not in spec:
        return (lambda data: get(data) is not None), f" where {spec['field']} is present"
    compare = comparison(spec.get("operator", "=") or "=", spec["value"])
    expected = spec["value"]
    return (
        lambda data: compare(get(data)),
        f" where {spec['field']} {spec.get('operator', '=')} {_text(expected)}",
    )


def _matching_count(spec: dict[str, Any]) -> tuple[Callable[[EvalState], int], str]:
    entity = spec["entity"]
    predicate, where = _record_filter(spec)
    memo_key = ("n", entity, spec.get("field"), spec.get("operator"), _text(spec.get("value")))

    def count(state: EvalState) -> int:
        memo = state.memo
        if memo_key in memo:
            return memo[memo_key]
        records = state.context.entities.get(entity, NO_RECORDS)
        n = len(records) if predicate is None else sum(1 for r in records if predicate(r.data))
        memo[memo_key] = n
        return n

    return count, f"{entity}{where}"


def _count(spec: dict[str, Any]) -> Node:
    count, subject = _matching_count(spec)
    compare = COUNT_COMPARISONS[spec["count"]]  # counts are whole numbers: plain comparisons
    expected = spec["count_value"]
    description = f"count({subject}) {spec['count']} {expected}"

    def test(state: EvalState) -> bool:
        return compare(count(state), expected)

    def explain(state: EvalState) -> dict[str, Any]:
        actual = count(state)
        return {
            "type": "count",
            "description": description,
            "actual": actual,
            "holds": compare(actual, expected),
        }

    return Node(test, explain)


def _exists(spec: dict[str, Any]) -> Node:
    count, subject = _matching_count(spec)
    description = f"exists({subject})"

    def test(state: EvalState) -> bool:
        return count(state) > 0

    def explain(state: EvalState) -> dict[str, Any]:
        actual = count(state)
        return {
            "type": "exists",
            "description": description,
            "actual": f"{actual} matching",
            "holds": actual > 0,
        }

    return Node(test, explain)


def _value(spec: dict[str, Any]) -> Node:
    entity, name = spec["entity"], spec["field"]
    read = entity_value_reader(name)
    check = comparison(spec["operator"], spec["value"])
    expected = spec["value"]
    memo_key = ("v", entity, name)
    description = f"{entity}.{name} {spec['operator']} {_text(expected)}"

    def actual_of(state: EvalState) -> Any:
        memo = state.memo
        if memo_key in memo:
            return memo[memo_key]
        value = read(state.context.entities.get(entity, NO_RECORDS))
        memo[memo_key] = value
        return value

    def test(state: EvalState) -> bool:
        return check(actual_of(state))

    def explain(state: EvalState) -> dict[str, Any]:
        actual = actual_of(state)
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
    compare = TIME_COMPARISONS[operator]
    window = TimeWindow((entity, name, duration.total_seconds()), entity, read, duration)
    description = f"time since {entity}.{name} {operator} {spec['duration']}"

    def elapsed(state: EvalState) -> tuple[datetime | None, timedelta | None]:
        reference = read(state.context.entities.get(entity, NO_RECORDS))
        return reference, (state.now - reference if reference is not None else None)

    def decide(gap: timedelta | None) -> bool:
        if gap is None:
            return operator in (">=", ">")
        return compare(gap, duration)

    def test(state: EvalState) -> bool:
        return decide(elapsed(state)[1])

    def explain(state: EvalState) -> dict[str, Any]:
        reference, gap = elapsed(state)
        if gap is None:
            actual = "no activity recorded"
        else:
            actual = f"{gap.total_seconds() / 86_400:.2f} days since {reference.isoformat()}"
        return {"type": "time_since", "description": description, "actual": actual, "holds": decide(gap)}

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
    compare = OPERATOR_FUNCTIONS[spec["operator"]]
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

    # Plain loops: the fast path runs millions of times, and a generator per call costs.
    if kind == "all_of":

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
