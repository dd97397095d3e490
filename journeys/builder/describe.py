"""Short human descriptions of conditions and steps, for graph labels and tooltips."""

import json
from typing import Any

from journeys.engine.operators import canonical_operator

OP_SYMBOLS = {
    "eq": "=",
    "ne": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "in": "in",
    "contains": "contains",
    "exists": "exists",
}


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def describe_condition(spec: Any) -> str:
    """``{"field": "payload.plan", "op": "eq", "value": "pro"}`` → ``payload.plan = "pro"``."""
    if not spec:
        return ""
    if not isinstance(spec, dict):
        return _value(spec)
    if "all" in spec or "any" in spec:
        kind = "all" if "all" in spec else "any"
        items = spec[kind] if isinstance(spec[kind], list) else []
        joined = f" {'and' if kind == 'all' else 'or'} ".join(describe_condition(i) for i in items)
        return f"({joined})" if len(items) > 1 else joined
    if "not" in spec:
        return f"not {describe_condition(spec['not'])}"
    if "type" in spec:
        params = ", ".join(f"{k}={_value(v)}" for k, v in spec.items() if k != "type")
        return f"{spec['type']}({params})"
    if "field" in spec:
        op = spec.get("op", spec.get("operator"))
        if op == "exists":
            return f"{spec['field']} {'exists' if spec.get('value', True) is not False else 'is missing'}"
        symbol = OP_SYMBOLS.get(canonical_operator(op) or op, op)
        return f"{spec['field']} {symbol} {_value(spec.get('value'))}"
    return " and ".join(f"{k} = {_value(v)}" for k, v in spec.items())


def describe_step(step: Any) -> str:
    """What a step does, in a few words (``send_email``, ``wait 2 hours``, ``until 09:00``…)."""
    config = step.config if isinstance(step.config, dict) else {}
    if step.kind == "action":
        return step.action_type or "action (no type)"
    if step.kind == "wait":
        if "until" in config:
            return f"wait until {config['until']} local"
        if "duration" in config:
            return f"wait {config['duration']}"
        return f"wait {config.get('minutes', '?')} min"
    if step.kind == "wait_for_event":
        return f"wait for {config.get('event', '?')} ≤ {config.get('timeout', '?')}"
    if step.kind == "manual":
        return "manual milestone"
    if step.kind == "split":
        return f"A/B split ({len(config.get('variants') or [])} variants)"
    if step.kind == "branch":
        return "branch"
    return "end"


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
