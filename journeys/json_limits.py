"""What JSON data may hold to be stored: finite numbers, no NUL characters, bounded nesting.

Postgres ``jsonb`` refuses ``Infinity`` and ``\\u0000``; a deep tree exhausts the interpreter's
stack in every later ``json.dumps``. Parsers (the API's JSON, rule files' YAML) check what they
read with ``json_data_problems`` and answer field-level errors instead of a crash later.
"""

import math
from typing import Any

MAX_JSON_DEPTH = 64  # objects and arrays nested in each other; real payloads stay far below


def json_data_problems(data: Any, *, max_depth: int = MAX_JSON_DEPTH) -> dict[str, list[str]]:
    """Every place in ``data`` that cannot be stored, as ``{"dot.path": [message]}``.

    1. Walk the tree iteratively (a deep tree cannot exhaust the stack), carrying each node's path.
    2. Refuse a container deeper than ``max_depth`` and stop walking below it.
    3. Refuse NUL characters in keys and strings, and numbers that are not finite.
    """
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        where = path or "non_field_errors"
        if isinstance(value, dict | list):
            if depth >= max_depth:
                problems.setdefault(where, []).append(f"Nested deeper than {max_depth} levels.")
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in items:
                child_path = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and "\x00" in key:
                    child_path = child_path.replace("\x00", "\\u0000")
                    problems.setdefault(child_path, []).append(
                        "NUL characters (\\u0000) are not allowed in keys."
                    )
                    continue
                stack.append((child, child_path, depth + 1))
        elif isinstance(value, str):
            if "\x00" in value:
                problems.setdefault(where, []).append("NUL characters (\\u0000) are not allowed.")
        elif isinstance(value, float) and not math.isfinite(value):
            problems.setdefault(where, []).append("Numbers must be finite (not NaN, Infinity or 1e999).")
    return problems
