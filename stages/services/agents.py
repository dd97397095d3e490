"""Agents: created with a signing secret shown once, edited, and their secret rotated.

An agent's endpoint must be a target the SSRF guard allows (the model field's validator), so a
forbidden URL is refused when saved with the field named, not only when a task calls it.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from journeys.errors import ValidationFailed
from journeys.webhooks import webhook_secret_generate
from stages.models import Agent

AGENT_FIELDS = ("agent_id", "name", "endpoint_url", "active", "description")
EDITABLE_FIELDS = ("name", "endpoint_url", "active", "description")  # agent_id names it in task templates


def _validated(agent: Agent) -> None:
    try:
        agent.full_clean()
    except ValidationError as exc:
        raise ValidationFailed(exc.message_dict) from exc


@transaction.atomic
def agent_create(*, data: dict[str, Any]) -> tuple[Agent, str]:
    """A new agent and its signing secret in plain text (stored encrypted; shown this once)."""
    agent = Agent(**{name: data[name] for name in AGENT_FIELDS if name in data})
    _validated(agent)
    agent.save()
    return agent, agent.secret


@transaction.atomic
def agent_update(*, agent: Agent, data: dict[str, Any]) -> Agent:
    """Change an agent's name, endpoint, activity or description (its id and secret stay)."""
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    changed = [name for name in EDITABLE_FIELDS if name in data and getattr(agent, name) != data[name]]
    for name in changed:
        setattr(agent, name, data[name])
    _validated(agent)
    agent.save(update_fields=[*changed, "updated_at"])
    return agent


@transaction.atomic
def agent_secret_rotate(*, agent: Agent) -> str:
    """Give the agent a new signing secret and answer it (stored encrypted; shown this once).
    Calls made from now on are signed with it; a call in flight keeps the old signature."""
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    agent.secret = webhook_secret_generate()
    agent.save(update_fields=["secret", "updated_at"])
    return agent.secret
