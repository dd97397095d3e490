"""Validation of a rule definition as a whole: its shape and its meaning.

``rule_definition_validate`` returns the normalised definition and every problem found, keyed by
the dot path of the offending field (``conditions.0.conditions.2.count_value``), so the API can
answer a field-level 400 and the admin can show the messages next to the editor. The seed's
``id`` key is accepted as an alias of ``rule_id``.
"""

import re
from collections.abc import Callable
from typing import Any

from journeys.engine.operators import accepted_operators, canonical_operator
from rules.engine.values import FIELD_RE, parse_duration, split_aggregate

MAX_DEPTH = 8  # levels of nested all_of/any_of/not; deeper is a sign of a generated mistake
MAX_CONDITIONS = 200  # condition nodes per rule
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:\-]{0,99}$")
EVENT_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")
MILESTONE_EVENT = "orchestration.milestone.reached"
ENTITY_RE = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
TIME_OPERATORS = ("gte", "gt", "lt", "lte")  # by canonical_operator; either spelling is accepted
COUNT_OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte")

CONDITION_KEYS: dict[str, tuple[set[str], set[str]]] = {  # type → (required keys, optional keys)
    "count": ({"entity", "count", "count_value"}, {"field", "operator", "value"}),
    "exists": ({"entity"}, {"field", "operator", "value"}),
    "value": ({"entity", "field", "operator", "value"}, set()),
    "time_since": ({"entity", "duration"}, {"field", "operator"}),
    "all_of": ({"conditions"}, set()),
    "any_of": ({"conditions"}, set()),
    "not": ({"condition"}, set()),
    "flag": ({"flag"}, {"value"}),
    "attribute": ({"field", "operator", "value"}, set()),
}
ACTION_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "set_flag": ({"flag"}, {"value", "expires_in"}),
    "clear_flag": ({"flag"}, set()),
    "emit_event": ({"event"}, {"payload"}),
}
RULE_KEYS = {
    "rule_id",
    "name",
    "description",
    "flag",
    "priority",
    "active",
    "conditions",
    "actions",
    "otherwise",
    "milestone",
}

Errors = dict[str, list[str]]


def rule_definition_validate(
    raw: Any, *, known_entities: set[str] | None = None
) -> tuple[dict[str, Any], Errors]:
    """Check a whole definition. Returns ``(normalised, errors)``; valid when ``errors`` is empty.

    ``known_entities`` (the entities some mapping feeds) makes an unknown entity an error; pass
    ``None`` to skip that check.
    """
    if not isinstance(raw, dict):
        return {}, {"non_field_errors": ["A rule definition must be an object (a YAML/JSON mapping)."]}
    errors: Errors = {}
    raw = _without_id_alias(raw, errors)
    for key in sorted(set(raw) - RULE_KEYS):
        errors.setdefault(key, []).append(f"Unknown key; a rule has {', '.join(sorted(RULE_KEYS))}.")
    out = _scalars(raw, errors)
    out["conditions"] = _conditions(raw.get("conditions"), errors, known_entities)
    actions = raw.get("actions")
    if not isinstance(actions, list) or not actions:
        errors.setdefault("actions", []).append("Give at least one action.")
        out["actions"] = []
    else:
        out["actions"] = _actions(actions, "actions", errors)
    if raw.get("otherwise") is not None:
        otherwise = raw["otherwise"]
        if not isinstance(otherwise, list):
            errors.setdefault("otherwise", []).append("Must be a list of actions.")
        elif otherwise:
            out["otherwise"] = _actions(otherwise, "otherwise", errors)
    if raw.get("milestone") is not None:
        out["milestone"] = _milestone(raw["milestone"], errors)
    return out, errors


def _without_id_alias(raw: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """The definition with the seed's ``id`` read as ``rule_id``."""
    raw = dict(raw)
    if "id" in raw:
        if "rule_id" in raw and raw["rule_id"] != raw["id"]:
            errors.setdefault("id", []).append("Give rule_id or id, not two different values.")
        raw.setdefault("rule_id", raw.pop("id"))
        raw.pop("id", None)
    return raw


def _scalars(raw: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """The plain fields of a rule: identifiers, name, description, priority, active."""
    out: dict[str, Any] = {}
    for key in ("rule_id", "flag"):
        value = raw.get(key)
        if not _is_name(value):
            errors.setdefault(key, []).append(
                "Required: letters, digits and _ . : - only, starting with a letter, at most 100."
            )
        out[key] = value
    name = raw.get("name", raw.get("rule_id"))
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.setdefault("name", []).append("A name of 1 to 200 characters is required.")
    out["name"] = name
    description = raw.get("description", "")
    if not isinstance(description, str):
        errors.setdefault("description", []).append("Must be text.")
    out["description"] = description or ""
    priority = raw.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not -1_000_000 <= priority <= 1_000_000:
        errors.setdefault("priority", []).append("Must be a whole number between -1000000 and 1000000.")
    out["priority"] = priority
    active = raw.get("active", True)
    if not isinstance(active, bool):
        errors.setdefault("active", []).append("Must be true or false.")
    out["active"] = active
    return out


def _conditions(conditions: Any, errors: Errors, known_entities: set[str] | None) -> list[Any]:
    """The rule's condition list (all must hold), each condition checked and normalised."""
    if not isinstance(conditions, list) or not conditions:
        errors.setdefault("conditions", []).append("Give at least one condition (all must hold).")
        return []
    walk = _ConditionWalk(errors, known_entities)
    out = [walk.condition(c, f"conditions.{i}", 1) for i, c in enumerate(conditions)]
    if walk.count > MAX_CONDITIONS:
        errors.setdefault("conditions", []).append(f"At most {MAX_CONDITIONS} conditions per rule.")
    return out


Report = Callable[[str | None, str], None]


class _ConditionWalk:
    """One pass over a condition tree: the errors found, the known entities, the nodes seen."""

    def __init__(self, errors: Errors, known_entities: set[str] | None) -> None:
        self.errors = errors
        self.known_entities = known_entities
        self.count = 0

    def condition(self, spec: Any, path: str, depth: int) -> Any:
        """Check one condition at ``path``; its normalised copy (or ``spec`` when it is no object)."""
        self.count += 1

        def error(key: str | None, message: str) -> None:
            self.errors.setdefault(f"{path}.{key}" if key else path, []).append(message)

        if not isinstance(spec, dict):
            error(None, "A condition must be an object with a type.")
            return spec
        kind = spec.get("type")
        if kind not in CONDITION_KEYS:
            error("type", f"Unknown condition type {kind!r}; use one of {', '.join(CONDITION_KEYS)}.")
            return spec
        if depth > MAX_DEPTH:
            error(None, f"Conditions nest at most {MAX_DEPTH} levels deep.")
            return spec
        required = _keys(spec, CONDITION_KEYS[kind], f"a {kind} condition", error)
        spec = dict(spec)
        if kind in ("all_of", "any_of", "not"):
            return self._logical(kind, spec, path, depth, error)
        if "entity" in spec and "entity" in required:
            self._entity(spec["entity"], error)
        LEAF_CHECKS[kind](spec, error)
        return spec

    def _logical(self, kind: str, spec: dict[str, Any], path: str, depth: int, error: Report) -> Any:
        if kind == "not":
            if "condition" in spec:
                spec["condition"] = self.condition(spec["condition"], f"{path}.condition", depth + 1)
            return spec
        children = spec.get("conditions")
        if not isinstance(children, list) or not children:
            if "conditions" in spec:
                error("conditions", f"{kind} needs at least one condition.")
            return spec
        spec["conditions"] = [
            self.condition(c, f"{path}.conditions.{i}", depth + 1) for i, c in enumerate(children)
        ]
        return spec

    def _entity(self, entity: Any, error: Report) -> None:
        if not isinstance(entity, str) or not ENTITY_RE.match(entity):
            error("entity", "An entity name such as kintell_sessions.")
        elif self.known_entities is not None and entity not in self.known_entities:
            known = ", ".join(sorted(self.known_entities)) or "none yet"
            error("entity", f"Unknown entity {entity!r}: no event mapping feeds it (known: {known}).")


def _flag_condition(spec: dict[str, Any], error: Report) -> None:
    _flag_name(spec, error)
    if not isinstance(spec.get("value", True), bool):
        error("value", "Must be true or false.")


def _compared_field(spec: dict[str, Any], error: Report) -> None:
    """``value`` and ``attribute``: a field, an operator and a value."""
    _field(spec, "field", error)
    _operator_and_value(spec, "operator", "value", error)


def _count_condition(spec: dict[str, Any], error: Report) -> None:
    if "count" in spec and canonical_operator(spec["count"]) not in COUNT_OPERATORS:
        error("count", f"A comparison: one of {accepted_operators(COUNT_OPERATORS)}.")
    value = spec.get("count_value")
    if "count_value" in spec and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        error("count_value", "A whole number, 0 or more.")
    _filter(spec, error)


def _time_since_condition(spec: dict[str, Any], error: Report) -> None:
    if "duration" in spec and parse_duration(spec["duration"]) is None:
        error("duration", "A duration such as '14 days' (hours, days, weeks or months).")
    spec.setdefault("field", "last_activity")
    spec.setdefault("operator", ">=")
    _field(spec, "field", error)
    if canonical_operator(spec["operator"]) not in TIME_OPERATORS:
        error(
            "operator",
            f"One of {accepted_operators(TIME_OPERATORS)} (elapsed time compared with the duration).",
        )
    if isinstance(spec.get("field"), str) and (split_aggregate(spec["field"]) or spec["field"] == "count"):
        error("field", "Name a time: last_activity, first_activity or a record field with a date-time.")


LEAF_CHECKS: dict[str, Callable[[dict[str, Any], Report], None]] = {
    "flag": _flag_condition,
    "attribute": _compared_field,
    "value": _compared_field,
    "count": _count_condition,
    "exists": lambda spec, error: _filter(spec, error),
    "time_since": _time_since_condition,
}


def _keys(spec: dict, keys: tuple[set[str], set[str]], what: str, error: Report) -> set[str]:
    """Report missing required keys and unknown ones; the required keys."""
    required, optional = keys
    for key in sorted(required - set(spec)):
        error(key, "This field is required.")
    for key in sorted(set(spec) - required - optional - {"type"}):
        error(key, f"Unknown key for {what}.")
    return required


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and NAME_RE.match(value) is not None


def _flag_name(spec: dict, error: Report) -> None:
    if "flag" in spec and not _is_name(spec["flag"]):
        error("flag", "A flag name: letters, digits and _ . : - only.")


def _field(spec: dict, key: str, error: Report) -> None:
    value = spec.get(key)
    if key in spec and (not isinstance(value, str) or not FIELD_RE.match(value)):
        error(key, "A field name or dot path such as rating or enrollment.status.")


def _filter(spec: dict, error: Report) -> None:
    """The optional record filter of count/exists: ``field``, ``operator`` (default ``=``), ``value``."""
    if "field" not in spec:
        for key in ("operator", "value"):
            if key in spec:
                error(key, "Only meaningful with a field to filter on.")
        return
    _field(spec, "field", error)
    if "value" in spec or "operator" in spec:
        spec.setdefault("operator", "=")
        _operator_and_value(spec, "operator", "value", error)


def _operator_and_value(spec: dict, op_key: str, value_key: str, error: Report) -> None:
    operator = spec.get(op_key)
    name = canonical_operator(operator)
    if op_key in spec and name is None:
        error(op_key, f"Unknown operator {operator!r}; use one of {accepted_operators()}.")
        return
    if value_key not in spec:
        error(value_key, "This field is required.")
        return
    value = spec[value_key]
    if name == "in" and not isinstance(value, list):
        error(value_key, "'in' needs a list of values.")
    elif name in TIME_OPERATORS and (isinstance(value, bool) or not isinstance(value, int | float | str)):
        error(value_key, f"'{operator}' compares with a number, a text or a date-time.")
    elif isinstance(value, dict):
        error(value_key, "Compare with a number, a text, a boolean or (for 'in') a list.")


def _actions(actions: list, path: str, errors: Errors) -> list:
    out = []
    for index, spec in enumerate(actions):
        here = f"{path}.{index}"

        def error(key: str | None, message: str, here: str = here) -> None:
            errors.setdefault(f"{here}.{key}" if key else here, []).append(message)

        out.append(_action(spec, error))
    changes_flags = any(isinstance(a, dict) and a.get("type") in ("set_flag", "clear_flag") for a in actions)
    if not changes_flags and any(isinstance(a, dict) and a.get("type") == "emit_event" for a in actions):
        errors.setdefault(path, []).append(
            "emit_event fires when the rule changes a flag: add a set_flag or clear_flag action."
        )
    return out


def _action(spec: Any, error: Report) -> Any:
    if not isinstance(spec, dict) or spec.get("type") not in ACTION_KEYS:
        kind = spec.get("type") if isinstance(spec, dict) else None
        error("type", f"Unknown action type {kind!r}; use one of {', '.join(ACTION_KEYS)}.")
        return spec
    kind = spec["type"]
    _keys(spec, ACTION_KEYS[kind], f"a {kind} action", error)
    spec = dict(spec)
    if kind in ("set_flag", "clear_flag"):
        _flag_name(spec, error)
    if kind == "set_flag":
        if not isinstance(spec.get("value", True), bool):
            error("value", "Flags are true or false.")
        if spec.get("expires_in") is not None and parse_duration(spec["expires_in"]) is None:
            error("expires_in", "A duration such as '7 days' (hours, days, weeks or months).")
    if kind == "emit_event":
        _emit_event(spec, error)
    return spec


def _emit_event(spec: dict[str, Any], error: Report) -> None:
    if "event" in spec and (not isinstance(spec["event"], str) or not EVENT_RE.match(spec["event"])):
        error("event", "An event type: letters, digits and . _ - : only.")
    if not isinstance(spec.get("payload", {}), dict):
        error("payload", "Must be an object.")
    elif spec.get("event") == MILESTONE_EVENT:
        milestone = (spec.get("payload") or {}).get("milestone")
        if not _is_name(milestone):
            error("payload.milestone", f"{MILESTONE_EVENT} needs payload.milestone (a name).")


def _milestone(value: Any, errors: Errors) -> Any:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or not _is_name(value.get("name")):
        errors.setdefault("milestone", []).append("A milestone name, or {name, metadata}.")
        return value
    if set(value) - {"name", "metadata"}:
        errors.setdefault("milestone", []).append("A milestone has only name and metadata.")
    if not isinstance(value.get("metadata", {}), dict):
        errors.setdefault("milestone.metadata", []).append("Must be an object.")
    return value
