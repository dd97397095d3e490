"""The one condition language of journeys: triggers, step conditions, branches, next steps.

A condition is JSON:

* a comparison ``{"field": "payload.plan", "op": "eq", "value": "premium"}`` with ``op`` one of
  ``eq ne gt gte lt lte in contains`` or ``exists`` (``"operator"`` is accepted for ``op``);
* ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``;
* a registered condition type ``{"type": "flag", ...}`` (``journeys.registries.condition_types``);
* a shorthand ``{"plan": "premium", "country": "NO"}``: every field equals its value.

Fields are dot paths. The roots are ``payload`` (the trigger event, or the waking event),
``attributes`` and ``tags`` (the participant), ``steps`` (earlier step results:
``steps.<key>.<field>``), ``context`` (the user journey's whole context), ``variant`` and
``user_id``. A path with another first segment is read from ``payload`` (as the 003 API's
``trigger_config`` does). A missing field makes a comparison false (``ne`` included).

Conditions are compiled once into closures (cached by their JSON text); evaluating one returns
the outcome and a trace with the actual values seen, kept on step runs so staff can see why.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from journeys.errors import ValidationFailed
from journeys.registries import FieldErrors, condition_types

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists")
ROOTS = ("payload", "attributes", "tags", "steps", "context", "variant", "user_id")
LOGICAL = ("all", "any", "not")
MISSING = object()


@dataclass
class EvaluationContext:
    """What conditions read. ``participant`` is passed on to registered condition types."""

    payload: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    steps: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    variant: str = ""
    user_id: str = ""
    participant: Any = None

    def root(self, name: str) -> Any:
        return getattr(self, name)


Evaluator = Callable[[EvaluationContext], tuple[bool, dict[str, Any]]]


def _resolve(ctx: EvaluationContext, path: tuple[str, ...]) -> Any:
    value: Any = ctx.root(path[0])
    for part in path[1:]:
        if isinstance(value, dict):
            if part not in value:
                return MISSING
            value = value[part]
        elif isinstance(value, list) and part.isdigit():
            index = int(part)
            if index >= len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value


def _split_path(raw: str) -> tuple[str, ...]:
    parts = tuple(raw.split("."))
    if parts[0] not in ROOTS:
        parts = ("payload", *parts)
    return parts


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ordered(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    """Two values that can be ordered, coercing numeric strings; ``None`` when they cannot."""
    if _is_number(actual) and _is_number(expected):
        return actual, expected
    if isinstance(actual, str) and isinstance(expected, str):
        return actual, expected
    try:
        return float(actual), float(expected)
    except (TypeError, ValueError):
        return None


def _equal(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    # "10" from a form and 10 from a config mean the same thing to the people writing journeys.
    if _is_number(actual) != _is_number(expected) and not isinstance(actual, bool | type(None)):
        pair = _ordered(actual, expected)
        return pair is not None and pair[0] == pair[1]
    return False


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "exists":
        return (actual is not MISSING and actual is not None) == (expected is not False)
    if actual is MISSING:
        return False
    if op == "eq":
        return _equal(actual, expected)
    if op == "ne":
        return not _equal(actual, expected)
    if op in {"gt", "gte", "lt", "lte"}:
        pair = _ordered(actual, expected)
        if pair is None:
            return False
        a, b = pair
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    if op == "in":
        return isinstance(expected, list | tuple) and any(_equal(actual, item) for item in expected)
    if op == "contains":
        if isinstance(actual, str):
            return isinstance(expected, str) and expected in actual
        if isinstance(actual, list | tuple):
            return any(_equal(item, expected) for item in actual)
        if isinstance(actual, dict):
            return expected in actual
        return False
    raise ValueError(f"unknown operator {op!r}")


def _traceable(value: Any) -> Any:
    if value is MISSING:
        return None
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    return value


def _compile(spec: Any, path: str, errors: FieldErrors) -> Evaluator | None:
    """Compile ``spec`` at ``path`` (an error path such as ``condition.all.1``); collect errors."""
    if not isinstance(spec, dict) or not spec:
        errors.setdefault(path, []).append("A condition must be a non-empty JSON object.")
        return None

    if "all" in spec or "any" in spec:
        kind = "all" if "all" in spec else "any"
        items = spec[kind]
        if not isinstance(items, list) or not items or len(spec) != 1:
            errors.setdefault(path, []).append(f'"{kind}" takes a non-empty list of conditions, alone.')
            return None
        children = [_compile(item, f"{path}.{kind}.{i}", errors) for i, item in enumerate(items)]
        if any(c is None for c in children):
            return None
        combine = all if kind == "all" else any

        def logical(ctx: EvaluationContext) -> tuple[bool, dict[str, Any]]:
            traces = []
            outcomes = []
            for child in children:
                ok, trace = child(ctx)
                outcomes.append(ok)
                traces.append(trace)
            result = combine(outcomes)
            return result, {"op": kind, "result": result, "conditions": traces}

        return logical

    if "not" in spec:
        if len(spec) != 1:
            errors.setdefault(path, []).append('"not" takes one condition, alone.')
            return None
        child = _compile(spec["not"], f"{path}.not", errors)
        if child is None:
            return None

        def negation(ctx: EvaluationContext) -> tuple[bool, dict[str, Any]]:
            ok, trace = child(ctx)
            return not ok, {"op": "not", "result": not ok, "condition": trace}

        return negation

    if "type" in spec:
        name = spec["type"]
        condition_type = condition_types.get(name) if isinstance(name, str) else None
        if condition_type is None:
            known = ", ".join(condition_types) or "none registered"
            errors.setdefault(f"{path}.type", []).append(f"Unknown condition type {name!r} (known: {known}).")
            return None
        params = {k: v for k, v in spec.items() if k != "type"}
        for sub, messages in (condition_type.validate_spec(params) or {}).items():
            errors.setdefault(f"{path}.{sub}", []).extend(messages)
        if errors:
            return None

        def registered(ctx: EvaluationContext) -> tuple[bool, dict[str, Any]]:
            try:
                ok, actual = condition_type.evaluate(
                    params, participant=ctx.participant, context=_as_dict(ctx)
                )
            except Exception as exc:  # a broken plug-in must not break the journey: false, and why
                return False, {"type": name, "spec": params, "result": False, "error": str(exc)[:500]}
            return bool(ok), {"type": name, "spec": params, "actual": _traceable(actual), "result": bool(ok)}

        return registered

    if "field" in spec:
        op = spec.get("op", spec.get("operator"))
        raw_field = spec["field"]
        before = len(errors)
        if not isinstance(raw_field, str) or not raw_field.strip():
            errors.setdefault(f"{path}.field", []).append("A dot path such as payload.plan is required.")
        if op not in OPERATORS:
            errors.setdefault(f"{path}.op", []).append(f"Use one of {', '.join(OPERATORS)} (not {op!r}).")
        elif op != "exists" and "value" not in spec:
            errors.setdefault(f"{path}.value", []).append(f'"{op}" needs a value.')
        elif op == "in" and not isinstance(spec["value"], list):
            errors.setdefault(f"{path}.value", []).append('"in" needs a list of values.')
        unknown = set(spec) - {"field", "op", "operator", "value"}
        if unknown:
            errors.setdefault(path, []).append(f"Unknown keys {sorted(unknown)}.")
        if len(errors) > before:
            return None
        parts = _split_path(raw_field.strip())
        expected = spec.get("value", True)
        shown = ".".join(parts)

        def comparison(ctx: EvaluationContext) -> tuple[bool, dict[str, Any]]:
            actual = _resolve(ctx, parts)
            ok = _compare(op, actual, expected)
            trace = {"field": shown, "op": op, "value": expected, "actual": _traceable(actual), "result": ok}
            if actual is MISSING:
                trace["missing"] = True
            return ok, trace

        return comparison

    # The shorthand: {"plan": "premium", "steps.quiz.score": 8} means every field equals its value.
    reserved = {"op", "operator", "value"} & set(spec)
    if reserved:
        errors.setdefault(path, []).append('A comparison needs a "field".')
        return None
    return _compile({"all": [{"field": k, "op": "eq", "value": v} for k, v in spec.items()]}, path, errors)


def _as_dict(ctx: EvaluationContext) -> dict[str, Any]:
    return {
        "payload": ctx.payload,
        "attributes": ctx.attributes,
        "tags": ctx.tags,
        "steps": ctx.steps,
        "variant": ctx.variant,
        "user_id": ctx.user_id,
        **({"context": ctx.context} if ctx.context else {}),
    }


@lru_cache(maxsize=4096)
def _compile_text(text: str, path: str) -> tuple[Evaluator | None, str]:
    errors: FieldErrors = {}
    evaluator = _compile(json.loads(text), path, errors)
    return evaluator, json.dumps(errors)


def condition_errors(spec: Any, *, path: str = "condition") -> FieldErrors:
    """Field-level errors of a condition (empty when it compiles)."""
    errors: FieldErrors = {}
    _compile(spec, path, errors)
    return errors


def compile_condition(spec: Any, *, path: str = "condition") -> Evaluator:
    """The compiled condition, or ``ValidationFailed`` with field-level paths.

    Compilation is cached by the condition's JSON text: a journey's conditions are compiled once
    per process, however many participants go through it.
    """
    text = json.dumps(spec, sort_keys=True, default=str)
    evaluator, errors_text = _compile_text(text, path)
    if evaluator is None:
        raise ValidationFailed(json.loads(errors_text) or {path: ["Invalid condition."]})
    return evaluator


def evaluate(spec: Any, ctx: EvaluationContext) -> tuple[bool, dict[str, Any] | None]:
    """Evaluate a condition; no condition (``None`` or ``{}``) holds, with no trace."""
    if not spec:
        return True, None
    return compile_condition(spec)(ctx)


# A compiled condition binds the condition types registered when it was compiled.
condition_types.on_change(_compile_text.cache_clear)
