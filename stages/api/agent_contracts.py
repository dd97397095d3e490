"""The contract between a task and its agent, in the OpenAPI schema.

A task whose intent calls an agent is POSTed to the agent's ``endpoint_url`` (signed per
Standard Webhooks; ``stages.intents``). The schema documents these outbound calls as OpenAPI
*callbacks* on the operations that name an intent (creating a pipeline or a task template): one
callback per HTTP intent, with the body we send (``<Intent>AgentCall``, its ``params`` as
``<Intent>Params``) and the reply the agent owes (``<Intent>ReplyRequest``: a callback's reply
is input to us, and the schema suffixes input components with ``Request``):

* **2xx** with a JSON object: the task succeeds and the object becomes its ``result`` (what the
  tasks that depend on it receive in ``dependencies``). The fields a reply must carry are
  required in its schema (``dataset_id`` for ``provision_test_dataset``); a reply without them
  fails the attempt, which is retried.
* **202 Accepted**: the agent works on it and reports later through
  ``POST /api/v1/stages/tasks/{task_id}/complete``.
* anything else, or no answer: the attempt fails and is retried with backoff up to the task's
  ``max_retries``; the ``webhook-id`` header is the same on every retry, so agents drop duplicates.

The components are built from the intents registry when the schema is generated, so an intent
another app registers is documented too.
"""

from functools import cache
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiCallback, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

from stages.intents import AgentCall, intents
from stages.models import TaskTemplate

# Params an intent accepts beyond its required ones (its validate_params checks them).
OPTIONAL_PARAMS: dict[str, dict[str, serializers.Field]] = {
    "provision_test_dataset": {
        "rows": serializers.IntegerField(min_value=1, required=False, help_text="How many rows to provision.")
    },
}
COMPLETE_PATH = "/api/v1/stages/tasks/{task_id}/complete"


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def agent_intents() -> list[tuple[str, AgentCall]]:
    """The registered intents that call an agent, by name."""
    return sorted((name, intent) for name, intent in intents.items() if isinstance(intent, AgentCall))


class OpenObjectSerializer(serializers.Serializer):
    """A JSON object whose listed fields are the contract; others are allowed (and kept)."""


class OpenObjectExtension(OpenApiSerializerExtension):
    target_class = OpenObjectSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction) -> dict[str, Any]:
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": True}


def _open_object(name: str, fields: dict[str, Any], doc: str) -> type[OpenObjectSerializer]:
    return type(name, (OpenObjectSerializer,), {**fields, "__doc__": doc})


@cache
def params_serializer_class(name: str) -> type[OpenObjectSerializer]:
    """The task template's ``params`` as the intent reads them (``<Intent>Params``)."""
    intent = intents[name]
    fields: dict[str, Any] = {
        param: serializers.CharField(help_text=f"Required by {name}.") for param in intent.required_params
    }
    fields.update(OPTIONAL_PARAMS.get(name, {}))
    return _open_object(f"{_camel(name)}Params", fields, f"The params of a {name} task.")


def call_serializer(name: str, intent: AgentCall) -> serializers.Serializer:
    """What we POST to the agent for a task of this intent."""
    return inline_serializer(
        f"{_camel(name)}AgentCall",
        {
            "intent": serializers.ChoiceField(choices=[name], help_text=intent.description),
            "task_id": serializers.UUIDField(help_text=f"Report a 202'd task at {COMPLETE_PATH}."),
            "task": serializers.CharField(help_text="The task's key in its stage."),
            "work_id": serializers.UUIDField(help_text="The unit of work."),
            "client_id": serializers.CharField(),
            "stage": serializers.CharField(help_text="The stage the work belongs to."),
            "purpose": serializers.ChoiceField(choices=TaskTemplate.Purpose.choices),
            "params": params_serializer_class(name)(),
            "attempt": serializers.IntegerField(min_value=1, help_text="1, then 2… on retries."),
            "dependencies": serializers.DictField(
                help_text="Each dependency's key → its result (the reply its agent gave)."
            ),
        },
    )


@cache
def reply_serializer_class(name: str) -> type[OpenObjectSerializer]:
    """What the agent answers with 2xx (``<Intent>Reply``); required fields are its contract."""
    fields: dict[str, Any] = {
        field: serializers.JSONField(help_text=f"Required: without it the {name} attempt fails.")
        for field in intents[name].required_result
    }
    return _open_object(
        f"{_camel(name)}Reply", fields, f"The {name} agent's reply: a JSON object, kept as the task's result."
    )


def intent_callback(name: str, intent: AgentCall) -> OpenApiCallback:
    reply = reply_serializer_class(name)
    return OpenApiCallback(
        name=name,
        path="{agent.endpoint_url}",
        decorator=extend_schema(
            summary=f"{name}: the task's call to its agent",
            description=f"{intent.description} Signed per Standard Webhooks with the agent's secret. "
            "Any other fields of the reply are kept in the task's result.",
            request=call_serializer(name, intent),
            responses={
                200: OpenApiResponse(reply, description="Done: the reply is the task's result."),
                202: OpenApiResponse(
                    reply, description=f"Working on it: complete the task later at {COMPLETE_PATH}."
                ),
                500: OpenApiResponse(description="Any other status fails the attempt; it is retried."),
            },
        ),
    )


@cache
def agent_callbacks() -> tuple[OpenApiCallback, ...]:
    """One callback per HTTP intent, for ``extend_schema(callbacks=...)``."""
    return tuple(intent_callback(name, intent) for name, intent in agent_intents())
