"""The participant context and what a name in a condition means. Defined here, once.

**Entities.** A participant's context holds, per entity (``kintell_sessions``, ``buddy_events``…),
the records projected from its events (``journeys.EntityRecord``), newest first by
``occurred_at``. Conditions also see the participant's ``attributes``, ``tags`` and current flags.

**Fields of an entity** (``value`` conditions, ``time_since``, filters):

* ``<field>`` or a dot path ``<a>.<b>``: the value in the **newest** record (missing: none).
* ``avg_<field>``, ``sum_<field>``, ``min_<field>``, ``max_<field>``: when the **newest**
  record has a field of that very name (a source that sends ``avg_rating`` itself), its value;
  otherwise the aggregate of ``<field>`` over **all** records of the entity, counting only
  numbers (booleans, strings and missing values are skipped). ``sum_`` of nothing is 0;
  ``avg_``/``min_``/``max_`` of nothing is none. A literal field set to null counts as absent.
* ``count``: how many records the entity has.
* ``last_activity``: the newest record's ``occurred_at``; ``first_activity``: the oldest's.
* ``event_type``: the type of the newest event behind a record (``kintell.session.completed``),
  a field of the record itself like ``occurred_at``, not of its data: a payload key of that name
  is shadowed. So ``count`` with ``field: event_type, value: kintell.session.completed`` counts
  the records of completed sessions, and a ``value`` on ``event_type`` reads the newest record's.
  Records projected before event types were kept have none.

**Missing values.** A none (missing field, empty aggregate, unknown entity) satisfies no
comparison, not even ``!=``: a rule never fires on data it has not seen.

**Operators** are journeys' (``journeys.engine.operators``), in either spelling (``>=`` or
``gte``): ``=``/``!=`` compare like JSON (``1 == 1.0``; a boolean equals only a boolean);
``>``, ``>=``, ``<``, ``<=`` compare two numbers, two strings or two times, anything else is
false (a number and a text do not compare); ``in`` holds when the actual value equals one of a
list; ``contains`` holds when a string contains a substring, a list contains an element equal to
the value, or an object has the key.

**Durations** (``time_since``, flag expiry): ``'14 days'``, ``'36 hours'``, ``'2 weeks'``,
``'1 month'`` (a month is 30 days; singular too, decimals allowed, parts may add up:
``'1 day 6 hours'``), never a bare number.
"""

import math
import operator as op
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from journeys.engine.operators import (
    Comparison,
    canonical_operator,
    duration_seconds,
    is_number,
    operator_table,
    parse_time,
)

AGGREGATES = ("avg", "sum", "min", "max")
RECORD_FIELDS = ("event_type",)  # read from the record, not its data
SPECIAL_FIELDS = ("count", "last_activity", "first_activity")
FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class Record(NamedTuple):
    """One entity record as conditions see it (a tuple: thousands are built per batch)."""

    occurred_at: datetime
    data: dict[str, Any]
    event_type: str | None = None  # the type of the newest event behind the record


@dataclass(slots=True)
class ParticipantContext:
    """What rules read. ``entities`` maps an entity name to its records, newest first.

    A snapshot: never changed once built. ``facts`` memoises what conditions derive from it
    (counts, aggregates, reference times; see ``rules.engine.compiler``), for as long as the
    context object lives; a worker's next context of the participant starts with those of the
    entities that got no new records (``rules.services.contexts``).
    """

    participant_id: int
    user_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    entities: dict[str, list[Record]] = field(default_factory=dict)
    facts: dict[int, Any] = field(default_factory=dict, repr=False, compare=False)


# ----------------------------------------------------------------------------------------------
# Durations
# ----------------------------------------------------------------------------------------------
def parse_duration(text: Any) -> timedelta | None:
    """``'14 days'`` → 14 days; ``None`` when the text is not a positive duration.

    The grammar is journeys' (``journeys.engine.operators.duration_seconds``); a bare number
    is not a duration here (a rule must say its unit).
    """
    if not isinstance(text, str):
        return None
    try:
        seconds = duration_seconds(text)
    except ValueError:
        return None
    return timedelta(seconds=seconds) if seconds > 0 else None


# ----------------------------------------------------------------------------------------------
# Operators: journeys' vocabulary (journeys.engine.operators), where a none satisfies nothing
# ----------------------------------------------------------------------------------------------
def _present(compare: Comparison) -> Comparison:
    return lambda actual, expected: actual is not None and compare(actual, expected)


OPERATOR_FUNCTIONS: dict[str, Comparison] = {  # by the operators' own names (canonical_operator)
    name: _present(compare) for name, compare in operator_table(numeric_text=False).items()
}
_NUMERIC = {"eq": op.eq, "gt": op.gt, "gte": op.ge, "lt": op.lt, "lte": op.le}


def comparison(operator: str, expected: Any) -> Callable[[Any], bool]:
    """``actual → bool`` for one operator (either spelling) and a constant, with the same meaning
    as ``OPERATOR_FUNCTIONS`` but specialised when the constant is a number or a string (the
    common cases)."""
    name = canonical_operator(operator)
    assert name is not None  # validated
    numeric = _NUMERIC.get(name) if is_number(expected) else None
    if numeric is not None:

        def compare_number(actual: Any) -> bool:
            kind = type(actual)
            return (kind is int or kind is float) and numeric(actual, expected)

        return compare_number
    if isinstance(expected, str) and name in ("eq", "ne"):
        # Only an equal string equals a string: plain ``==`` has the JSON meaning here.
        if name == "eq":
            return lambda actual: actual == expected
        return lambda actual: actual is not None and actual != expected
    general = OPERATOR_FUNCTIONS[name]
    return lambda actual: general(actual, expected)


# ----------------------------------------------------------------------------------------------
# Fields
# ----------------------------------------------------------------------------------------------
def path_getter(path: str) -> Callable[[dict[str, Any]], Any]:
    """A function reading ``path`` (``a`` or ``a.b.c``) from a dict; none when absent."""
    parts = path.split(".")
    if len(parts) == 1:
        name = parts[0]
        return lambda data: data.get(name) if isinstance(data, dict) else None

    def dig(data: Any) -> Any:
        for part in parts:
            if not isinstance(data, dict):
                return None
            data = data.get(part)
        return data

    return dig


def split_aggregate(name: str) -> tuple[str, str] | None:
    """``'avg_rating'`` → ``('avg', 'rating')``; ``None`` for a plain field."""
    prefix, sep, rest = name.partition("_")
    if sep and prefix in AGGREGATES and rest:
        return prefix, rest
    return None


def record_getter(path: str) -> Callable[[Record], Any]:
    """A function reading a record field: ``event_type`` (the record's own), else ``a`` or a dot
    path ``a.b.c`` into its data."""
    head, _, rest = path.partition(".")
    if head in RECORD_FIELDS:
        if rest:  # event_type is text: nothing lies below it
            return lambda record: None
        return lambda record: record.event_type
    if "." not in path:

        def get(record: Record) -> Any:
            data = record.data
            return data.get(path) if type(data) is dict else None

        return get
    dig = path_getter(path)
    return lambda record: dig(record.data)


def record_matcher(path: str, operator: str, expected: Any) -> Callable[[Record], bool]:
    """``record → bool``: does the record's field compare so with the constant."""
    if (
        canonical_operator(operator) == "eq"
        and isinstance(expected, str)
        and "." not in path
        and path not in RECORD_FIELDS
    ):
        # The common filter (``session_type = language``) in one call per record.
        def equals(record: Record) -> bool:
            data = record.data
            return type(data) is dict and data.get(path) == expected

        return equals
    get = record_getter(path)
    compare = comparison(operator, expected)
    return lambda record: compare(get(record))


def numbers_reader(source: str) -> Callable[[list[Record]], list[float] | None]:
    """The numbers of a field over all records (booleans, strings and missing values skipped);
    ``None`` when there are no records at all. What every aggregate of that field reduces."""
    if "." not in source and source not in RECORD_FIELDS:

        def numbers_of_field(records: list[Record]) -> list[float] | None:
            # The common case (avg_rating), with the field read inline: one pass, no calls.
            if not records:
                return None
            values = []
            for record in records:
                data = record.data
                value = data.get(source) if type(data) is dict else None
                kind = type(value)
                if kind is int or kind is float:
                    values.append(value)
            return values

        return numbers_of_field

    get = record_getter(source)

    def numbers(records: list[Record]) -> list[float] | None:
        if not records:
            return None
        values = []
        for record in records:
            value = get(record)
            kind = type(value)
            if kind is int or kind is float:
                values.append(value)
        return values

    return numbers


def _sum(values: list[float] | None) -> float:
    return 0 if values is None else math.fsum(values)


def _avg(values: list[float] | None) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _min(values: list[float] | None) -> float | None:
    return min(values) if values else None


def _max(values: list[float] | None) -> float | None:
    return max(values) if values else None


REDUCERS: dict[str, Callable[[list[float] | None], Any]] = {
    "sum": _sum,
    "avg": _avg,
    "min": _min,
    "max": _max,
}


def entity_value_reader(name: str) -> Callable[[list[Record]], Any]:
    """Compile an entity field name (see the module docstring) into ``records → value``."""
    if name == "count":
        return len
    if name == "last_activity":
        return lambda records: records[0].occurred_at if records else None
    if name == "first_activity":
        return lambda records: records[-1].occurred_at if records else None
    aggregate = split_aggregate(name)
    if aggregate is None:
        get = record_getter(name)
        return lambda records: get(records[0]) if records else None
    kind, source = aggregate
    literal, numbers, reduce = record_getter(name), numbers_reader(source), REDUCERS[kind]

    def literal_or_aggregate(records: list[Record]) -> Any:
        if records:
            value = literal(records[0])
            if value is not None:
                return value
        return reduce(numbers(records))

    return literal_or_aggregate


def time_reader(name: str) -> Callable[[list[Record]], datetime | None]:
    """``last_activity``/``first_activity``, or a record field holding an ISO date-time."""
    read = entity_value_reader(name)
    if name in ("last_activity", "first_activity"):
        return read

    return lambda records: parse_time(read(records))
