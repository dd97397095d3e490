"""Built-in services: the journey realm's experience services answered by this project itself.

They make the documented journey definition run on a fresh install (its milestones name
``FrontendGateway``, ``UserExperience`` and ``SessionManager``). Each is a directory entry of
kind ``built-in``, clearly labelled; staff replace one by pointing it at an HTTP endpoint.

What they answer (the ``body`` each receives is a milestone call, see
``journeys.services.milestone_calls``):

* ``experience-gateway``: ``{"operation", "milestone", "handled": true, "user_id"}`` — the
  operation is acknowledged, nothing else happens;
* ``user-experience``: ``{"display_name", "locale", "first_visit"}`` from the participant's
  attributes (``name``/``first_name``, ``locale``) and the milestones seen so far;
* ``session-manager``: ``{"tracked": true, "state": {...}}``, the state it was given.
"""

from typing import Any

from journeys.models import Service
from journeys.services.directory import builtin_handlers

BUILTIN_SERVICES: list[dict[str, str]] = [
    {
        "key": "FrontendGateway",
        "name": "Frontend gateway (built-in)",
        "handler": "experience-gateway",
        "description": "Built-in local service: acknowledges a milestone's experience_api operation.",
    },
    {
        "key": "UserExperience",
        "name": "User experience (built-in)",
        "handler": "user-experience",
        "description": "Built-in local service: personalisation from the participant's attributes.",
    },
    {
        "key": "SessionManager",
        "name": "Session manager (built-in)",
        "handler": "session-manager",
        "description": "Built-in local service: records the participant's state at a milestone.",
    },
]


def experience_gateway(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "operation": operation,
        "milestone": body.get("milestone"),
        "handled": True,
        "user_id": body.get("user_id"),
    }


def user_experience(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    attributes = (body.get("participant") or {}).get("attributes") or {}
    seen = (body.get("context") or {}).get("steps") or {}
    return {
        "display_name": attributes.get("name") or attributes.get("first_name") or body.get("user_id"),
        "locale": attributes.get("locale") or "en",
        "first_visit": not seen,
    }


def session_manager(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"tracked": True, "state": body.get("state") or {}}


def register_builtin_services() -> None:
    builtin_handlers.register("experience-gateway", experience_gateway, replace=True)
    builtin_handlers.register("user-experience", user_experience, replace=True)
    builtin_handlers.register("session-manager", session_manager, replace=True)


def builtin_services_load() -> str:
    """Bootstrap: the built-in experience services, unless staff already have services by those keys."""
    created = 0
    for spec in BUILTIN_SERVICES:
        _, new = Service.objects.get_or_create(
            key=spec["key"], defaults={**spec, "kind": Service.Kind.BUILT_IN}
        )
        created += new
    return f"{created} built-in services created"
