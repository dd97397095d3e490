"""Actions that steer the journey or the product: ``schedule_next`` and ``emit_event``."""

from datetime import timedelta
from typing import Any

from journeys.actions import schemas
from journeys.actions.base import check_templates_in, render_value, unknown_keys
from journeys.engine.timing import parse_duration
from journeys.registries import ActionContext, ActionType, Detour, FieldErrors
from journeys.services.events import event_emit

EVENT_TYPE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")


def _delay_seconds(config: dict[str, Any]) -> float:
    if config.get("delay") not in (None, ""):
        return parse_duration(config["delay"]).total_seconds()
    return parse_duration(config.get("delay_minutes") or 0).total_seconds()


class ScheduleNext(ActionType):
    """Continue with ``step`` (default: the step that would follow anyway) after ``delay``
    (``"2 hours"``) or ``delay_minutes``: its result (``jump_to``, ``delay_seconds``) is the
    walk's ``detour``; graph validation checks that ``step`` exists."""

    name = "schedule_next"
    description = "Jump to a named step after a delay."
    transactional = True
    config_schema = schemas.SCHEDULE_NEXT
    config_example = {"step": "reminder", "delay": "2 days"}

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        errors: FieldErrors = {}
        unknown_keys(config, {"step", "delay", "delay_minutes"}, errors)
        if "step" in config and (not isinstance(config["step"], str) or not config["step"]):
            errors.setdefault("step", []).append("The key of a step of this journey.")
        try:
            _delay_seconds(config)
        except ValueError as exc:
            errors.setdefault("delay" if "delay" in config else "delay_minutes", []).append(str(exc))
        return errors

    def execute(self, action: ActionContext) -> dict[str, Any]:
        return {"jump_to": action.config.get("step"), "delay_seconds": _delay_seconds(action.config)}

    def predict(self, action: ActionContext) -> dict[str, Any]:
        return self.execute(action)

    def detour(self, config: dict[str, Any], result: dict[str, Any]) -> Detour:
        delay = timedelta(seconds=result.get("delay_seconds") or 0)
        return Detour(step=result.get("jump_to") or None, delay=delay or None)

    def leads_to(self, config: dict[str, Any]) -> list[str]:
        return [config["step"]] if config.get("step") else []

    def takes_time(self, config: dict[str, Any]) -> bool:
        return bool(config.get("delay") or config.get("delay_minutes"))


class EmitEvent(ActionType):
    """Put an event on the bus for the participant (``type``, templated ``payload``); its
    idempotency key is the step run's, so a retried step never emits twice."""

    name = "emit_event"
    description = "Emit an event on the bus (other journeys and rules may react to it)."
    transactional = True
    config_schema = schemas.EMIT_EVENT
    config_example = {"type": "onboarding.completed", "payload": {"plan": "{{ payload.plan }}"}}

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        errors: FieldErrors = {}
        unknown_keys(config, {"type", "payload"}, errors)
        event_type = config.get("type")
        if (
            not isinstance(event_type, str)
            or not 0 < len(event_type) <= 200
            or set(event_type) - EVENT_TYPE_CHARS
        ):
            errors.setdefault("type", []).append("An event type: letters, digits and . _ - : only.")
        if "payload" in config:
            if not isinstance(config["payload"], dict):
                errors.setdefault("payload", []).append("Must be a JSON object.")
            else:
                check_templates_in(config["payload"], "payload", errors)
        return errors

    def execute(self, action: ActionContext) -> dict[str, Any]:
        result = event_emit(
            type=action.config["type"],
            user_id=action.participant.user_id,
            payload=render_value(action.config.get("payload") or {}, action),
            source="journeys",
            idempotency_key=action.idempotency_key,
        )
        return {"event_id": result.id, "duplicate": result.duplicate}
