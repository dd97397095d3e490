"""Actions on the participant record: tags and rewards. Database-only, so transactional.

The tag actions also have ``execute_locked``: a batch that holds the participant's row changes
the tags in memory and writes them once for the batch (``journeys.engine.writes``).
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from journeys.actions import schemas
from journeys.actions.base import unknown_keys
from journeys.models import RewardLedger
from journeys.registries import ActionContext, ActionType, FieldErrors
from journeys.services.participants import participant_tag

TAG_MAX_LENGTH = 100


def _tags(config: dict[str, Any]) -> list[str]:
    if config.get("tags"):
        return list(config["tags"])
    return [config["tag"]]


def _validate_tags(config: dict[str, Any]) -> FieldErrors:
    errors: FieldErrors = {}
    unknown_keys(config, {"tag", "tags"}, errors)
    if "tags" in config:
        tags = config["tags"]
        if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and t.strip() for t in tags):
            errors.setdefault("tags", []).append("A non-empty list of tag names.")
        elif any(len(t) > TAG_MAX_LENGTH for t in tags):
            errors.setdefault("tags", []).append(f"Tags are at most {TAG_MAX_LENGTH} characters.")
    else:
        tag = config.get("tag")
        if not isinstance(tag, str) or not tag.strip():
            errors.setdefault("tag", []).append("This field is required.")
        elif len(tag) > TAG_MAX_LENGTH:
            errors.setdefault("tag", []).append(f"At most {TAG_MAX_LENGTH} characters.")
    return errors


def _mirror(action: ActionContext, *, add: list[str] = (), remove: list[str] = ()) -> bool:
    """Apply the change to the participant the journey holds too, so the next steps' conditions
    see the tags as they now are (``participant_tag`` works on its own locked copy). Returns
    whether the tags changed, as ``participant_tag`` does."""
    kept = [t for t in action.participant.tags if t not in set(remove)]
    tags = list(dict.fromkeys([*kept, *add]))
    changed = tags != action.participant.tags
    action.participant.tags = tags
    return changed


class _TagChange(ActionType):
    """Adding or removing the configured tags: on the participant's row, and on the copy the
    journey holds."""

    adds: bool  # add the tags (else remove them)
    transactional = True
    runs_in_memory = True
    config_schema = schemas.TAGS

    def _change(self, tags: list[str]) -> dict[str, list[str]]:
        return {"add": tags} if self.adds else {"remove": tags}

    def _result(self, tags: list[str], changed: bool) -> dict[str, Any]:
        return {"applied" if self.adds else "removed": tags, "changed": changed}

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        return _validate_tags(config)

    def execute(self, action: ActionContext) -> dict[str, Any]:
        tags = _tags(action.config)
        changed = participant_tag(participant=action.participant, **self._change(tags))
        _mirror(action, **self._change(tags))
        return self._result(tags, changed)

    def execute_locked(self, action: ActionContext) -> dict[str, Any]:
        tags = _tags(action.config)
        return self._result(tags, _mirror(action, **self._change(tags)))

    def predict(self, action: ActionContext) -> dict[str, Any]:
        return self.execute_locked(action)


class ApplyTag(_TagChange):
    """Add a tag (``tag``) or tags (``tags``) to the participant."""

    name = "apply_tag"
    description = "Add tags to the participant."
    config_example = {"tag": "onboarded"}
    adds = True


class RemoveTag(_TagChange):
    """Remove a tag (``tag``) or tags (``tags``) from the participant."""

    name = "remove_tag"
    description = "Remove tags from the participant."
    config_example = {"tag": "trial"}
    adds = False


class GrantReward(ActionType):
    """Write a reward ledger row: one per step run, so a retried step never grants twice."""

    name = "grant_reward"
    description = "Grant a reward (points, credits…) recorded in the reward ledger."
    transactional = True
    config_schema = schemas.GRANT_REWARD
    config_example = {"reward": "welcome_bonus", "amount": 100, "unit": "points"}

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        errors: FieldErrors = {}
        unknown_keys(config, {"reward", "amount", "unit", "metadata"}, errors)
        reward = config.get("reward")
        if not isinstance(reward, str) or not reward.strip() or len(reward) > 100:
            errors.setdefault("reward", []).append("A reward name of 1 to 100 characters is required.")
        try:
            amount = Decimal(str(config.get("amount", 0)))
            if amount < 0 or amount >= Decimal("1e10"):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors.setdefault("amount", []).append("A non-negative number below 10,000,000,000.")
        if not isinstance(config.get("unit", ""), str) or len(config.get("unit", "")) > 20:
            errors.setdefault("unit", []).append("At most 20 characters.")
        if not isinstance(config.get("metadata", {}), dict):
            errors.setdefault("metadata", []).append("Must be a JSON object.")
        return errors

    def execute(self, action: ActionContext) -> dict[str, Any]:
        config = action.config
        row, created = RewardLedger.objects.get_or_create(
            step_run_id=action.step_run_id,
            defaults={
                "participant": action.participant,
                "reward": config["reward"],
                "amount": Decimal(str(config.get("amount", 0))),
                "unit": config.get("unit", ""),
                "metadata": config.get("metadata", {}),
            },
        )
        return {"ledger_id": row.pk, "reward": row.reward, "amount": str(row.amount), "created": created}
