"""Traces as HTML: the conditions the engine evaluated, with the actual values it saw.

A condition trace (``journeys.engine.conditions``) is a tree: a comparison
``{"field", "op", "value", "actual", "result", "missing"?}``, a logical node
``{"op": "all"|"any"|"not", "result", "conditions"|"condition"}`` or a registered condition
type ``{"type", "spec", "actual", "result", "error"?}``. A step run's trace gathers such trees
under ``condition`` (why it ran or was skipped) and ``next`` (why this branch), plus ``split``,
``wait``, ``ignored`` events, ``deferred`` (quiet hours, caps) and ``skipped``.
"""

import json
from collections.abc import Callable
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from journeys.builder.describe import OP_SYMBOLS


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _verdict(result: Any) -> SafeString:
    if result:
        return mark_safe('<span class="verdict verdict-true" title="holds">✔ true</span>')
    return mark_safe('<span class="verdict verdict-false" title="does not hold">✘ false</span>')


def condition_html(trace: Any) -> SafeString:
    """One condition trace as a nested list."""
    if not isinstance(trace, dict):
        return format_html("<code>{}</code>", _json(trace))
    op = trace.get("op")
    if op in {"all", "any"}:
        children = format_html_join(
            "", "<li>{}</li>", ((condition_html(c),) for c in trace.get("conditions", []))
        )
        label = "all of" if op == "all" else "any of"
        return format_html(
            '<span class="cond-logic">{}</span> {}<ul class="cond-tree">{}</ul>',
            label,
            _verdict(trace.get("result")),
            children,
        )
    if op == "not":
        return format_html(
            '<span class="cond-logic">not</span> {}<ul class="cond-tree"><li>{}</li></ul>',
            _verdict(trace.get("result")),
            condition_html(trace.get("condition")),
        )
    if "type" in trace:
        spec = ", ".join(f"{k}={_json(v)}" for k, v in (trace.get("spec") or {}).items())
        if "error" in trace:
            return format_html(
                '<code>{}({})</code> {} <span class="cond-error">error: {}</span>',
                trace["type"],
                spec,
                _verdict(False),
                trace["error"],
            )
        return format_html(
            '<code>{}({})</code> — actual <code class="actual">{}</code> {}',
            trace["type"],
            spec,
            _json(trace.get("actual")),
            _verdict(trace.get("result")),
        )
    if "field" in trace:
        actual = (
            format_html('<em class="missing">missing</em>')
            if trace.get("missing")
            else format_html('<code class="actual">{}</code>', _json(trace.get("actual")))
        )
        expected = "" if op == "exists" else _json(trace.get("value"))
        return format_html(
            "<code>{} {} {}</code> — actual {} {}",
            trace["field"],
            OP_SYMBOLS.get(op, op),
            expected,
            actual,
            _verdict(trace.get("result")),
        )
    return format_html("<code>{}</code>", _json(trace))


def _next_html(section: dict[str, Any]) -> SafeString:
    chosen = section.get("chosen")
    by = section.get("by")
    head = (
        format_html("went to <strong>{}</strong>", chosen)
        if chosen
        else format_html("<strong>no next step matched</strong> (the journey ends)")
    )
    if by == "step_result":
        head = format_html("{} — chosen by the step result", head)
    elif by == "timeout":
        head = format_html("{} — the wait timed out", head)
    considered = section.get("considered") or []
    rows = []
    for entry in considered:
        condition = entry.get("condition")
        rows.append(
            format_html(
                "<li><strong>{}</strong>: {}</li>",
                entry.get("step"),
                condition_html(condition) if condition else format_html("no condition {}", _verdict(True)),
            )
        )
    if not rows:
        return head
    return format_html('{}<ul class="cond-tree">{}</ul>', head, mark_safe("".join(rows)))


def trace_html(trace: Any) -> SafeString:
    """A step run's whole trace, section by section, for the timeline and the dry run."""
    if not isinstance(trace, dict) or not trace:
        return mark_safe("")
    items = [html for key, section in SECTIONS.items() if key in trace for html in section(trace[key])]
    for key in sorted(set(trace) - set(SECTIONS)):
        items.append(
            format_html('<li><span class="trace-key">{}</span> <code>{}</code></li>', key, _json(trace[key]))
        )
    return format_html('<ul class="trace">{}</ul>', mark_safe("".join(items)))


def _condition_items(condition: Any) -> list[SafeString]:
    return [
        format_html('<li><span class="trace-key">step condition</span> {}</li>', condition_html(condition))
    ]


def _split_items(split: dict[str, Any]) -> list[SafeString]:
    weights = ", ".join(f"{k}: {v}" for k, v in (split.get("weights") or {}).items())
    return [
        format_html(
            '<li><span class="trace-key">split</span> variant <strong>{}</strong> '
            "(weights {}; the same for this participant every time)</li>",
            split.get("variant"),
            weights,
        )
    ]


def _wait_items(wait: dict[str, Any]) -> list[SafeString]:
    return [
        format_html(
            '<li><span class="trace-key">waiting</span> for <code>{}</code> since {}</li>',
            wait.get("event"),
            wait.get("since"),
        )
    ]


def _ignored_items(ignored: list[dict[str, Any]] | None) -> list[SafeString]:
    return [
        format_html(
            '<li><span class="trace-key">ignored event #{}</span> {}</li>',
            entry.get("event"),
            condition_html(entry.get("condition")),
        )
        for entry in ignored or []
    ]


def _deferred_items(deferred: list[dict[str, Any]] | None) -> list[SafeString]:
    items = []
    for entry in deferred or []:
        detail = ", ".join(f"{k}: {v}" for k, v in entry.items() if k != "reason")
        items.append(
            format_html(
                '<li><span class="trace-key">deferred</span> {} ({})</li>', entry.get("reason"), detail
            )
        )
    return items


def _skipped_items(skipped: Any) -> list[SafeString]:
    detail = ", ".join(f"{k}: {v}" for k, v in skipped.items()) if isinstance(skipped, dict) else skipped
    return [format_html('<li><span class="trace-key">skipped</span> {}</li>', detail)]


def _next_items(next_: Any) -> list[SafeString]:
    return [format_html('<li><span class="trace-key">next</span> {}</li>', _next_html(next_))]


# The sections of a trace, in the order they are shown; any other key is shown as JSON.
SECTIONS: dict[str, Callable[[Any], list[SafeString]]] = {
    "condition": _condition_items,
    "split": _split_items,
    "wait": _wait_items,
    "ignored": _ignored_items,
    "deferred": _deferred_items,
    "skipped": _skipped_items,
    "next": _next_items,
}
