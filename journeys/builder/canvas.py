"""The canvas's side of the server: what the step-graph editor loads and how it saves.

The canvas (``journeys/builder/canvas/``, built into ``static/journeys/canvas/``) edits the whole
draft in the browser and sends it back as one list of steps. Saving goes through
``journey_update`` — the same service and validation as the form view and the API — and every
problem comes back keyed by step key and field, so the canvas can put it on the node it is about.

A webhook's signing secret never travels to the browser: it is left out of what is loaded and
kept from the stored step (same key) when the canvas saves the step without one.
"""

import json
from types import SimpleNamespace
from typing import Any

from django.contrib.messages import WARNING
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.html import format_html

from journeys.builder.describe import describe_step
from journeys.engine.conditions import OPERATORS, ROOTS
from journeys.engine.definition import step_as_dict
from journeys.engine.validation import implicit_transitions, validate_definition
from journeys.errors import Conflict, ValidationFailed
from journeys.models import Journey, Step
from journeys.registries import action_types, step_stats
from journeys.services.journeys import JOURNEY_FIELDS, STEP_ROW_FIELDS, journey_update

SECRET_KEYS = ("secret",)  # config keys that stay on the server (a webhook's signing secret)
MAX_CANVAS_STEPS = 200

KIND_LABELS = {
    "action": "Action",
    "wait": "Wait",
    "wait_for_event": "Wait for an event",
    "manual": "Manual milestone",
    "branch": "Branch",
    "split": "A/B split",
    "end": "End",
}
# What the side panel asks for each kind that is not an action (an action's form comes from its
# action type's ``config_schema``). Edges carry the rest: next steps, split variants, a timeout.
KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "wait": {
        "type": "object",
        "properties": {
            "duration": {
                "type": "string",
                "title": "Wait for",
                "description": "A duration: 30 minutes, 2 hours, 3 days. Give this or Until.",
                "examples": ["2 days"],
            },
            "until": {
                "type": "string",
                "title": "Until",
                "description": "A time of day in the participant's time zone, e.g. 09:00.",
                "examples": ["09:00"],
            },
        },
    },
    "wait_for_event": {
        "type": "object",
        "properties": {
            "event": {
                "type": "string",
                "title": "Event type",
                "description": "The event that moves the participant on.",
                "examples": ["payment.succeeded"],
            },
            "timeout": {
                "type": "string",
                "title": "Give up after",
                "description": "Then the participant takes the timeout path (an edge marked 'timeout').",
                "examples": ["3 days"],
            },
        },
        "required": ["event", "timeout"],
    },
    "manual": {"type": "object", "properties": {}},
    "branch": {"type": "object", "properties": {}},
    "split": {"type": "object", "properties": {}},
    "end": {"type": "object", "properties": {}},
}
KIND_HELP = {
    "action": "Does one thing (email, webhook, tag…) and moves on.",
    "wait": "Waits a while, or until a time of day.",
    "wait_for_event": "Waits for an event; a timeout path is taken if it does not come.",
    "manual": "Waits until someone completes it (admin or API).",
    "branch": "Takes the first outgoing path whose condition holds; the last path is the default.",
    "split": "Sends participants down weighted paths at random (A/B test).",
    "end": "Ends the journey.",
}


def _public(step: dict[str, Any]) -> dict[str, Any]:
    config = step.get("config")
    if isinstance(config, dict) and any(k in config for k in SECRET_KEYS):
        step = {**step, "config": {k: v for k, v in config.items() if k not in SECRET_KEYS}}
        step["secret_kept"] = True
    return step


def _by_step(errors: dict[str, list[str]], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """``steps.2.config.url`` → ``{"step": {"<key of step 2>": {"config.url": [...]}}}``."""
    result: dict[str, Any] = {"journey": {}, "steps": {}}
    for path, messages in errors.items():
        parts = path.split(".", 2)
        if parts[0] == "steps" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(steps):
            key = str(steps[int(parts[1])].get("key") or f"#{int(parts[1]) + 1}")
            field = parts[2] if len(parts) > 2 else "key"
            result["steps"].setdefault(key, {}).setdefault(field, []).extend(messages)
        else:
            result["journey"].setdefault(path, []).extend(messages)
    return result


def _vocabulary() -> dict[str, Any]:
    """What the palette and the side panel offer: kinds, action types with their schemas."""
    return {
        "kinds": [{"kind": k, "label": label, "help": KIND_HELP[k]} for k, label in KIND_LABELS.items()],
        "kind_schemas": KIND_SCHEMAS,
        "action_types": [
            {
                "name": name,
                "description": action.description,
                "schema": action.config_schema,
                "example": action.config_example,
            }
            for name, action in action_types.items()
        ],
        "operators": list(OPERATORS),
        "roots": list(ROOTS),
        "on_failure": [choice.value for choice in Step.OnFailure],
    }


def canvas_state(journey: Journey) -> dict[str, Any]:
    """The draft as the canvas shows it: steps, what blocks publishing, implicit paths, numbers."""
    steps = [step_as_dict(s) for s in journey.steps.order_by("order", "id")]
    values = {name: getattr(journey, name) for name in JOURNEY_FIELDS}
    problems = validate_definition(steps=steps, journey=values, for_publish=True)
    stats = step_stats(journey.pk)
    return {
        "journey": {"id": journey.pk, "name": journey.name, "state": journey.state},
        "editable": journey.state != Journey.State.ARCHIVED,
        "steps": [{**_public(s), "summary": describe_step(SimpleNamespace(**s))} for s in steps],
        "problems": _by_step(problems, steps),
        "notes": _by_step(implicit_transitions(steps), steps)["steps"],
        "stats": {
            key: {"reached": s.reached, "waiting": s.waiting, "completed": s.completed, "dropped": s.dropped}
            for key, s in stats.items()
            if s.reached or s.waiting or s.completed or s.dropped
        },
        **_vocabulary(),
    }


def _incoming_steps(raw: Any) -> list[dict[str, Any]]:
    """The posted steps as Step fields, in the order given (which becomes their order number)."""
    if not isinstance(raw, list):
        raise ValidationFailed({"steps": ["A list of steps."]})
    if len(raw) > MAX_CANVAS_STEPS:
        raise ValidationFailed({"steps": [f"At most {MAX_CANVAS_STEPS} steps."]})
    steps = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValidationFailed({f"steps.{index}": ["A step object."]})
        step = {name: item[name] for name in STEP_ROW_FIELDS if name in item}
        step["order"] = index + 1  # the canvas's list order: 1, 2, 3…
        if step.get("kind") != "action":
            step["action_type"] = ""
        steps.append(step)
    return steps


def canvas_save(*, journey: Journey, steps: Any, actor: Any) -> Journey:
    """Replace the draft's steps with the canvas's, through ``journey_update``.

    Raises ``ValidationFailed`` with errors keyed by step (see ``_by_step``) when the draft is refused.
    """
    incoming = _incoming_steps(steps)
    stored = {s.key: s.config for s in journey.steps.all() if isinstance(s.config, dict)}
    for step in incoming:
        config = step.get("config")
        kept = stored.get(step.get("key")) or {}
        if isinstance(config, dict):
            step["config"] = {**{k: kept[k] for k in SECRET_KEYS if k in kept and k not in config}, **config}
    values = {name: getattr(journey, name) for name in JOURNEY_FIELDS}
    try:
        return journey_update(journey=journey, data=values, steps=incoming, actor=actor)
    except ValidationFailed as exc:
        raise ValidationFailed(_by_step(exc.errors, incoming)) from exc


def canvas_endpoint(model_admin: Any, request: HttpRequest, pk: int) -> JsonResponse:
    """GET: the draft as ``canvas_state``. POST ``{"steps": [...]}``: save it (400 with the
    problems by step and field when refused; 403 without change permission; 409 when archived)."""
    journey = get_object_or_404(Journey, pk=pk)
    if request.method == "GET":
        if not model_admin.has_view_permission(request, journey):
            raise PermissionDenied
        return JsonResponse(canvas_state(journey))
    if request.method != "POST":
        return JsonResponse({"detail": "Use GET or POST."}, status=405)
    if not model_admin.has_change_permission(request, journey):
        raise PermissionDenied
    if journey.state == Journey.State.ARCHIVED:
        return JsonResponse({"detail": "An archived journey cannot be edited; restore it first."}, status=409)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse(
            {"problems": {"journey": {"steps": ["The body is not JSON."]}, "steps": {}}}, status=400
        )
    try:
        saved = canvas_save(
            journey=journey, steps=body.get("steps") if isinstance(body, dict) else None, actor=request.user
        )
    except ValidationFailed as exc:
        errors = exc.errors if "steps" in exc.errors and "journey" in exc.errors else _by_step(exc.errors, [])
        return JsonResponse({"problems": errors}, status=400)
    except Conflict as exc:
        return JsonResponse({"detail": exc.message}, status=409)
    model_admin.log_change(request, saved, [{"changed": {"fields": ["steps (canvas)"]}}])
    for key, secret in saved.revealed_secrets.items():  # a new webhook step's secret, shown once
        model_admin.message_user(
            request,
            format_html("The signing secret of step {}, shown only this once: <code>{}</code>", key, secret),
            WARNING,
        )
    return JsonResponse(canvas_state(Journey.objects.get(pk=saved.pk)))
