"""Agents: the service directory's entries as stages' task templates name them (``agent_id`` is a
service's key). Created with a signing secret shown once, edited, their secret rotated — all
through the directory's use cases, so there is one registry.

When an agent that needed configuration (no endpoint, inactive) becomes callable, the tasks
waiting for it are queued again (``work_tasks_configured``, a directory listener).
"""

from typing import Any

from django.utils import timezone

from journeys.errors import ValidationFailed
from journeys.models import Service
from journeys.services import directory
from stages.models import Agent, WorkTask

AGENT_FIELDS = ("agent_id", "name", "kind", "handler", "endpoint_url", "active", "description")


def _as_service_data(data: dict[str, Any]) -> dict[str, Any]:
    fields = {name: data[name] for name in AGENT_FIELDS if name in data}
    if "agent_id" in fields:
        fields["key"] = fields.pop("agent_id")
    return fields


def agent_create(*, data: dict[str, Any]) -> tuple[Agent, str]:
    """A new agent (a directory service) and its signing secret in plain text, shown this once."""
    try:
        service, secret = directory.service_create(data=_as_service_data(data))
    except ValidationFailed as exc:  # the agents API names the key agent_id
        raise ValidationFailed({("agent_id" if k == "key" else k): v for k, v in exc.errors.items()}) from exc
    return Agent.objects.get(pk=service.pk), secret


def agent_update(*, agent: Agent, data: dict[str, Any]) -> Agent:
    """Change an agent's name, endpoint, activity or description (its id and secret stay)."""
    fields = _as_service_data(data)
    fields.pop("key", None)
    service = directory.service_update(service=agent, data=fields)
    return Agent.objects.get(pk=service.pk)


def agent_secret_rotate(*, agent: Agent) -> str:
    """Give the agent a new signing secret and answer it (stored encrypted; shown this once)."""
    return directory.service_secret_rotate(service=agent)


def work_tasks_configured(service: Service) -> int:
    """The agent can be called now: queue the tasks that waited for its configuration (in the
    caller's transaction; dispatched after commit). Returns how many."""
    from stages.services.work import dispatch_on_commit

    waiting = WorkTask.objects.filter(status=WorkTask.Status.NEEDS_CONFIGURATION, agent_id=service.key)
    pks = list(waiting.values_list("pk", flat=True))
    if pks:
        WorkTask.objects.filter(pk__in=pks, status=WorkTask.Status.NEEDS_CONFIGURATION).update(
            status=WorkTask.Status.QUEUED, next_attempt_at=timezone.now(), error=""
        )
        dispatch_on_commit(pks)
    return len(pks)
