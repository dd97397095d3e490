"""Compilation of validated conditions into closures, once per rule version.

Each condition becomes a ``Node`` with two closures over pre-parsed operands:

* ``test(state) → bool``: the fast path evaluation uses (``all_of``/``any_of`` short-circuit);
* ``explain(state) → dict``: the same decision plus the actual value seen, for traces (every
  child is explained, so a trace shows why each part held or not).

Values derived from the records alone (counts, aggregates, newest values, reference times) are
memoised in ``context.facts`` under a small integer key per distinct value (``fact_key``): a
hundred rules reading ``avg_rating`` compute it once, and a context evaluated again (a cached or
warm context; the fixpoint's second pass) computes nothing again. A context is a snapshot that
is never changed once built, so its facts stay true; each fact is derived from one entity's
records, so a worker's next context of the participant keeps those of the entities its events
left alone. ``explain`` never reads the memo: a trace recomputes what it shows, so it can be
checked against the fast path.

Here: the dispatch by type, flags, attributes and the logical combinations. The conditions on
records are in ``rules.engine.record_conditions``; ``Node`` and ``EvalState`` in
``rules.engine.nodes``.
"""

from collections.abc import Callable
from typing import Any

from journeys.engine.operators import canonical_operator
from rules.engine.nodes import EvalState, Node, show, text
from rules.engine.record_conditions import count, exists, time_since, value
from rules.engine.values import (
    OPERATOR_FUNCTIONS,
    path_getter,
)


def compile_conditions(conditions: list[dict[str, Any]]) -> Node:
    """The rule's condition list (all must hold) as one node."""
    if len(conditions) == 1:
        return compile_condition(conditions[0])
    return _logical("all_of", [compile_condition(c) for c in conditions])


def compile_condition(spec: dict[str, Any]) -> Node:
    return COMPILERS[spec["type"]](spec)


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

    return Node(test, explain, reads_flags=True, reads_participant=False)


def _attribute(spec: dict[str, Any]) -> Node:
    """A participant attribute (dot path into ``attributes``); ``tags`` is the tag list."""
    name = spec["field"]
    get = path_getter(name)
    compare = OPERATOR_FUNCTIONS[canonical_operator(spec["operator"])]
    expected = spec["value"]
    description = f"attribute {name} {spec['operator']} {text(expected)}"

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
            "actual": show(actual),
            "holds": compare(actual, expected),
        }

    return Node(test, explain)


def _logical(kind: str, children: list[Node]) -> Node:
    tests = tuple(child.test for child in children)
    windows = tuple(w for child in children for w in child.windows)
    reads_flags = any(child.reads_flags for child in children)
    reads_participant = any(child.reads_participant for child in children)
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

    return Node(test, explain, windows, reads_flags, reads_participant)


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

    return Node(test, explain, child.windows, child.reads_flags, child.reads_participant)


COMPILERS: dict[str, Callable[[dict[str, Any]], Node]] = {
    "count": count,
    "exists": exists,
    "value": value,
    "time_since": time_since,
    "flag": _flag,
    "attribute": _attribute,
    "all_of": _all_of,
    "any_of": _any_of,
    "not": _not,
}
