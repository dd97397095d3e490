"""The comparison vocabulary every condition language of the platform speaks, written once.

Journey conditions (``journeys.engine.conditions``) and rules (``rules.engine``) compare an
actual value with a constant through the same operators, and both accept both spellings:

==============  ==========================
operator        also spelled
==============  ==========================
``eq``          ``=``, ``==``
``ne``          ``!=``
``gt``          ``>``
``gte``         ``>=``
``lt``          ``<``
``lte``         ``<=``
``in``          (a list of values)
``contains``    (a substring, an element, a key)
==============  ==========================

Meaning, for both languages:

* equality is JSON's (``1 == 1.0``), and a boolean equals only a boolean;
* ``gt gte lt lte`` order two numbers, two texts or two times (a time against an ISO text);
  anything else is false, never an error;
* ``in`` holds when the actual value equals one of a list; ``contains`` when a text contains a
  substring, a list an element equal to the value, or an object the key.

One difference is deliberate and explicit (``numeric_text``): journey conditions read event
payloads and form input, where ``"10"`` means 10, so numeric text meets numbers; rules read
projected records, where a number and a text do not compare. What counts as *missing* is the
caller's: journeys have an absent path, rules a ``None``.

Durations are written the same way everywhere too (``duration_seconds``).
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

SPELLINGS: dict[str, tuple[str, ...]] = {  # operator → every spelling accepted, its own first
    "eq": ("eq", "=", "=="),
    "ne": ("ne", "!="),
    "gt": ("gt", ">"),
    "gte": ("gte", ">="),
    "lt": ("lt", "<"),
    "lte": ("lte", "<="),
    "in": ("in",),
    "contains": ("contains",),
}
CANONICAL: dict[str, str] = {
    spelling: name for name, spellings in SPELLINGS.items() for spelling in spellings
}

Comparison = Callable[[Any, Any], bool]


def canonical_operator(spelling: Any) -> str | None:
    """``">="`` or ``"gte"`` → ``"gte"``; ``None`` for what is not an operator."""
    return CANONICAL.get(spelling) if isinstance(spelling, str) else None


def accepted_operators(names: tuple[str, ...] = tuple(SPELLINGS)) -> str:
    """The spellings of ``names`` for an error message: ``eq (=, ==), ne (!=), …``."""
    parts = []
    for name in names:
        spellings = SPELLINGS.get(name, (name,))
        parts.append(f"{name} ({', '.join(spellings[1:])})" if len(spellings) > 1 else name)
    return ", ".join(parts)


def is_number(value: Any) -> bool:
    """An int or a float; a boolean is not a number."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_time(value: Any) -> datetime | None:
    """An aware date-time from a date-time or an ISO text (naive means UTC); else none."""
    if isinstance(value, str):
        try:
            value = parse_datetime(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def ordered(actual: Any, expected: Any, *, numeric_text: bool = False) -> tuple[Any, Any] | None:
    """Two values that can be ordered (numbers, texts, times); ``None`` when they cannot."""
    if is_number(actual) and is_number(expected):
        return actual, expected
    if isinstance(actual, datetime):
        when = parse_time(expected)
        return (parse_time(actual), when) if when is not None else None
    if isinstance(actual, str) and isinstance(expected, str):
        return actual, expected
    if numeric_text:
        a, b = _as_float(actual), _as_float(expected)
        if a is not None and b is not None:
            return a, b
    return None


def equal(actual: Any, expected: Any, *, numeric_text: bool = False) -> bool:
    """JSON equality, a boolean equal only to a boolean; with ``numeric_text``, ``"10" == 10``."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
    if actual == expected:
        return True
    if numeric_text and is_number(actual) != is_number(expected):
        pair = ordered(actual, expected, numeric_text=True)
        return pair is not None and pair[0] == pair[1]
    return False


def contains(actual: Any, expected: Any, *, numeric_text: bool = False) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, list | tuple):
        return any(equal(item, expected, numeric_text=numeric_text) for item in actual)
    if isinstance(actual, dict):
        return isinstance(expected, str) and expected in actual
    return False


def one_of(actual: Any, expected: Any, *, numeric_text: bool = False) -> bool:
    return isinstance(expected, list | tuple) and any(
        equal(actual, item, numeric_text=numeric_text) for item in expected
    )


def _ordering(test: Comparison, numeric_text: bool) -> Comparison:
    def compare(actual: Any, expected: Any) -> bool:
        pair = ordered(actual, expected, numeric_text=numeric_text)
        return pair is not None and test(*pair)

    return compare


def operator_table(*, numeric_text: bool) -> dict[str, Comparison]:
    """``operator → (actual, expected) → bool`` for every operator, by its own name."""
    return {
        "eq": lambda a, e: equal(a, e, numeric_text=numeric_text),
        "ne": lambda a, e: not equal(a, e, numeric_text=numeric_text),
        "gt": _ordering(lambda a, b: a > b, numeric_text),
        "gte": _ordering(lambda a, b: a >= b, numeric_text),
        "lt": _ordering(lambda a, b: a < b, numeric_text),
        "lte": _ordering(lambda a, b: a <= b, numeric_text),
        "in": lambda a, e: one_of(a, e, numeric_text=numeric_text),
        "contains": lambda a, e: contains(a, e, numeric_text=numeric_text),
    }


# ----------------------------------------------------------------------------------------------
# Durations
# ----------------------------------------------------------------------------------------------
_MINUTE, _HOUR, _DAY = 60, 3600, 86_400
DURATION_UNITS: dict[str, int] = {  # seconds
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), _MINUTE),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), _HOUR),
    **dict.fromkeys(("d", "day", "days"), _DAY),
    **dict.fromkeys(("w", "week", "weeks"), 7 * _DAY),
    **dict.fromkeys(("month", "months"), 30 * _DAY),  # a month is 30 days
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def duration_seconds(text: str) -> float:
    """``"2 hours"``, ``"1 day 6h"``, ``"90s"``, ``"1.5 days"``, ``"1 month"`` → seconds.

    Every part needs a unit (a bare number means different things to different callers).
    Raises ``ValueError`` with a message staff can act on.
    """
    cleaned = text.strip().lower().replace(",", " ").replace(" and ", " ")
    matches = list(_DURATION_PART.finditer(cleaned))
    if not matches or _DURATION_PART.sub("", cleaned).strip():
        raise ValueError(f"{text!r} is not a duration such as '30 minutes', '2 hours' or '1 day'.")
    seconds = 0.0
    for match in matches:
        unit = DURATION_UNITS.get(match.group(2))
        if unit is None:
            raise ValueError(f"Unknown unit {match.group(2)!r} in {text!r}.")
        seconds += float(match.group(1)) * unit
    return seconds
