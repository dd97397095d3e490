"""The built-in action types, registered into ``journeys.registries.action_types`` at start-up."""

from journeys.actions.flow import EmitEvent, ScheduleNext
from journeys.actions.messaging import SendEmail, SendPush, SendTelegram
from journeys.actions.participant import ApplyTag, GrantReward, RemoveTag
from journeys.actions.webhook import TriggerWebhook
from journeys.registries import action_types

BUILTIN_ACTIONS = (
    SendEmail(),
    SendTelegram(),
    SendPush(),
    ApplyTag(),
    RemoveTag(),
    ScheduleNext(),
    GrantReward(),
    TriggerWebhook(),
    EmitEvent(),
)


def register_builtin_actions() -> None:
    for action in BUILTIN_ACTIONS:
        action_types.register(action.name, action)
