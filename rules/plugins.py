"""What rules plugs into journeys: ``set_flag``/``clear_flag`` step actions and a ``flag`` condition.

Registered in ``RulesConfig.ready`` through ``journeys.registries``; journeys looks them up by
name and never imports this module. A flag a journey sets is an ordinary flag change (history
row, ``orchestration.flag.updated`` event), attributed to ``journey:<id>``; the event wakes rule
evaluation so rules that read the flag see it.
"""

from typing import Any

from django.utils import timezone

from journeys.registries import ActionContext, ActionType, FieldErrors, action_types, condition_types
from rules.engine.validation import NAME_RE
from rules.engine.values import parse_duration
from rules.models import Flag, FlagHistory
from rules.services.flags import flag_clear, flag_set


def _flag_errors(config: dict[str, Any]) -> FieldErrors:
    flag = config.get("flag")
    if not isinstance(flag, str) or not NAME_RE.match(flag):
        return {
            "flag": ["A flag name is required: letters, digits and _ . : - only, starting with a letter."]
        }
    return {}


def _actor(action: ActionContext) -> str:
    return f"journey:{action.journey_id}" if action.journey_id is not None else "journey"


class SetFlagAction(ActionType):
    name = "set_flag"
    description = "Set a participant flag (true by default), optionally expiring after a duration."

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        errors = _flag_errors(config)
        if not isinstance(config.get("value", True), bool):
            errors["value"] = ["Flags are true or false."]
        if config.get("expires_in") is not None and parse_duration(config["expires_in"]) is None:
            errors["expires_in"] = ["A duration such as '7 days' (hours, days, weeks or months)."]
        unknown = set(config) - {"flag", "value", "expires_in"}
        for key in sorted(unknown):
            errors[key] = ["Unknown option for set_flag."]
        return errors

    def execute(self, action: ActionContext) -> dict[str, Any]:
        """Idempotent by nature: a retried step finds the flag already set and changes nothing."""
        config = action.config
        expires = parse_duration(config["expires_in"]) if config.get("expires_in") else None
        value = config.get("value", True)
        current = Flag.objects.filter(participant=action.participant, flag=config["flag"]).first()
        if (
            expires
            and current is not None
            and current.value is value
            and current.set_by_rule == _actor(action)
        ):
            # Re-running the step must not push the expiry further out.
            live = current.expires_at is None or current.expires_at > timezone.now()
            if live:
                return {"flag": config["flag"], "value": value, "changed": False}
        changed = flag_set(
            participant=action.participant,
            flag=config["flag"],
            value=value,
            set_by=_actor(action),
            expires_at=timezone.now() + expires if expires else None,
            reason=FlagHistory.Reason.ACTION,
        )
        return {"flag": config["flag"], "value": value, "changed": changed}


class ClearFlagAction(ActionType):
    name = "clear_flag"
    description = "Remove a participant flag."

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        errors = _flag_errors(config)
        for key in sorted(set(config) - {"flag"}):
            errors[key] = ["Unknown option for clear_flag."]
        return errors

    def execute(self, action: ActionContext) -> dict[str, Any]:
        changed = flag_clear(
            participant=action.participant,
            flag=action.config["flag"],
            cleared_by=_actor(action),
            reason=FlagHistory.Reason.ACTION,
        )
        return {"flag": action.config["flag"], "changed": changed}


class FlagCondition:
    """``{"type": "flag", "flag": "mentor_ready", "value": true}``: holds when the participant's
    live flag has that value (default true); an absent or expired flag counts as false."""

    name = "flag"
    description = "A participant flag computed by the rules engine (or set by a journey)."

    def validate_spec(self, spec: dict[str, Any]) -> FieldErrors:
        errors = _flag_errors(spec)
        if not isinstance(spec.get("value", True), bool):
            errors["value"] = ["Must be true or false."]
        return errors

    def evaluate(self, spec: dict[str, Any], *, participant, context: dict[str, Any]) -> tuple[bool, Any]:
        row = Flag.objects.filter(participant=participant, flag=spec["flag"]).first()
        live = row is not None and (row.expires_at is None or row.expires_at > timezone.now())
        actual = row.value if live else None
        return (actual or False) is spec.get("value", True), actual


SET_FLAG = SetFlagAction()
CLEAR_FLAG = ClearFlagAction()
FLAG = FlagCondition()


def register() -> None:
    action_types.register(SET_FLAG.name, SET_FLAG)
    action_types.register(CLEAR_FLAG.name, CLEAR_FLAG)
    condition_types.register(FLAG.name, FLAG)
