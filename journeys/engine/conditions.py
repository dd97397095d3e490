"""The one condition language of journeys: triggers, step conditions, branches, next steps.

A condition is JSON:

* a comparison ``{"field": "payload.plan", "op": "eq", "value": "premium"}`` with ``op`` one of
  ``eq ne gt gte lt lte in contains`` (or their other spellings ``= != > >= < <=``, as rules
  write them; see ``journeys.engine.operators``) or ``exists`` (``"operator"`` is accepted for
  ``op``);
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

from journeys.engine.operators import SPELLINGS, accepted_operators, canonical_operator, operator_table
from journeys.errors import ValidationFailed
from journeys.registries import FieldErrors, condition_types

OPERATORS = (*SPELLINGS, "exists")  # by their own names; every spelling in SPELLINGS is accepted too
COMPARISONS = operator_table(numeric_text=True)  # "10" from a form means 10
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

    @classmethod
    def of_trigger(cls, participant: Any, payload: dict[str, Any]) -> "EvaluationContext":
        """What a trigger condition reads: the event's payload and the participant it is about."""
        return cls(
            payload=payload,
            attributes=participant.attributes,
            tags=participant.tags,
            user_id=participant.user_id,
            participant=participant,
        )

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


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "exists":
        return (actual is not MISSING and actual is not None) == (expected is not False)
    if actual is MISSING:
        return False
    return COMPARISONS[op](actual, expected)


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
        return _compile_logical(spec, path, errors)
    if "not" in spec:
        return _compile_not(spec, path, errors)
    if "type" in spec:
        return _compile_registered(spec, path, errors)
    if "field" in spec:
        return _compile_comparison(spec, path, errors)
    # The shorthand: {"plan": "premium", "steps.quiz.score": 8} means every field equals its value.
    if {"op", "operator", "value"} & set(spec):
        errors.setdefault(path, []).append('A comparison needs a "field".')
        return None
    return _compile({"all": [{"field": k, "op": "eq", "value": v} for k, v in spec.items()]}, path, errors)


def _compile_logical(spec: dict[str, Any], path: str, errors: FieldErrors) -> Evaluator | None:
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


def _compile_not(spec: dict[str, Any], path: str, errors: FieldErrors) -> Evaluator | None:
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


def _compile_registered(spec: dict[str, Any], path: str, errors: FieldErrors) -> Evaluator | None:
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
            ok, actual = condition_type.evaluate(params, participant=ctx.participant, context=_as_dict(ctx))
        except Exception as exc:  # a broken plug-in must not break the journey: false, and why
            return False, {"type": name, "spec": params, "result": False, "error": str(exc)[:500]}
        return bool(ok), {"type": name, "spec": params, "actual": _traceable(actual), "result": bool(ok)}

    return registered


def _comparison_errors(spec: dict[str, Any], path: str, errors: FieldErrors) -> str | None:
    """Record what is wrong with a comparison; its operator by its own name when it is right."""
    before = len(errors)
    raw_field = spec["field"]
    written = spec.get("op", spec.get("operator"))
    op = "exists" if written == "exists" else canonical_operator(written)
    if not isinstance(raw_field, str) or not raw_field.strip():
        errors.setdefault(f"{path}.field", []).append("A dot path such as payload.plan is required.")
    if op is None:
        errors.setdefault(f"{path}.op", []).append(
            f"Use one of {accepted_operators()}, exists (not {written!r})."
        )
    elif op != "exists" and "value" not in spec:
        errors.setdefault(f"{path}.value", []).append(f'"{written}" needs a value.')
    elif op == "in" and not isinstance(spec["value"], list):
        errors.setdefault(f"{path}.value", []).append('"in" needs a list of values.')
    unknown = set(spec) - {"field", "op", "operator", "value"}
    if unknown:
        errors.setdefault(path, []).append(f"Unknown keys {sorted(unknown)}.")
    return op if len(errors) == before else None


def _compile_comparison(spec: dict[str, Any], path: str, errors: FieldErrors) -> Evaluator | None:
    op = _comparison_errors(spec, path, errors)
    if op is None:
        return None
    written = spec.get("op", spec.get("operator"))
    parts = _split_path(spec["field"].strip())
    expected = spec.get("value", True)
    shown = ".".join(parts)

    def comparison(ctx: EvaluationContext) -> tuple[bool, dict[str, Any]]:
        actual = _resolve(ctx, parts)
        ok = _compare(op, actual, expected)
        trace = {"field": shown, "op": written, "value": expected, "actual": _traceable(actual), "result": ok}
        if actual is MISSING:
            trace["missing"] = True
        return ok, trace

    return comparison


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
