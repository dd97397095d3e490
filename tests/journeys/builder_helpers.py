"""Helpers for the builder's admin tests: post an admin form the way a browser would."""

import json
from typing import Any

from django.forms import CheckboxInput

JSON_STEP_FIELDS = {"config", "condition", "next_steps"}


def form_data(response) -> dict[str, Any]:
    """The POST body of an admin change/add page as rendered: every field with its value, the
    inlines' management forms included (what a browser sends when nothing is touched)."""
    data: dict[str, Any] = {}

    def add(form) -> None:
        for bound in form:
            value = bound.value()
            if isinstance(bound.field.widget, CheckboxInput):
                if value:
                    data[bound.html_name] = "on"
                continue
            data[bound.html_name] = "" if value is None else value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for bound in formset.management_form:
            data[bound.html_name] = bound.value()
        for form in formset.forms:
            add(form)
    return data


def add_step(data: dict[str, Any], **step: Any) -> dict[str, Any]:
    """Append a new step form to ``data`` (as "Add another Step" does)."""
    index = int(data["steps-TOTAL_FORMS"])
    data["steps-TOTAL_FORMS"] = str(index + 1)
    defaults = {"order": index, "kind": "action", "delay_minutes": 0, "max_attempts": 3, "on_failure": "fail"}
    for name, value in {**defaults, **step}.items():
        key = f"steps-{index}-{name}"
        if name in JSON_STEP_FIELDS:
            data[key] = value if isinstance(value, str) else json.dumps(value)
        elif isinstance(value, bool):
            if value:
                data[key] = "on"
        else:
            data[key] = value
    return data


def step_index(data: dict[str, Any], key: str) -> int:
    for name, value in data.items():
        if name.startswith("steps-") and name.endswith("-key") and value == key:
            return int(name.split("-")[1])
    raise KeyError(key)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []
