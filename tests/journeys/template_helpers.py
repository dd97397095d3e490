"""The template library's cast and a small template to work with."""

from typing import Any

from django.contrib.auth.models import Group

from journeys.services.roles import staff_roles_load

WELCOME = {
    "trigger_type": "signup",
    "priority": 7,
    "steps": [
        {"key": "hello", "name": "Hello", "action_type": "apply_tag", "config": {"tag": "hello"}},
        {"key": "check", "name": "Check in", "kind": "manual", "is_milestone": True, "completion": True},
    ],
}


def template_body(key: str = "welcome", **changes: Any) -> dict[str, Any]:
    return {
        "key": key,
        "name": f"{key.title()} journey",
        "journey_type": "onboarding",
        "description": "Say hello, then check in.",
        "definition": WELCOME,
        **changes,
    }


def staff_member(make_user, role: str, username: str, *, staff: bool = True):
    """A user in a staff role (``is_staff`` unless told otherwise)."""
    staff_roles_load()
    user = make_user(username)
    user.is_staff = staff
    user.save()
    user.groups.add(Group.objects.get(name=role))
    return user
