"""Built-in journey templates, journey types, and designing a journey from a template.

A template is a journey definition in code (settings and steps), not a journey: templates are
read through ``/api/v1/journeys/templates`` and ``journey_design`` makes a draft journey from
one, with the caller's customisations applied. Bootstrap creates no journeys from templates, so
their names stay free for the journeys staff create (the 003 create body names its journey
*Onboarding Flow*, as the onboarding template does); ``journey_template_drafts_retire`` removes
the untouched template drafts older installs were given.
"""

import copy
from typing import Any

from django.db import transaction

from journeys.errors import NotFound, ValidationFailed
from journeys.models import Journey
from journeys.models.journeys import JourneyType, TriggerType
from journeys.services.journeys import (
    apply_customizations,
    journey_create,
    journey_delete,
    journey_name_taken,
)

TEMPLATES: dict[str, dict[str, Any]] = {
    "content_migration": {
        "name": "Content Migration Journey",
        "description": "Upload, analyse, transform when needed, validate: the journey realm's milestone "
        "journey. Staff or a service advance each milestone with its result; the analysis decides "
        "whether a transformation is needed.",
        "journey_type": JourneyType.CONTENT_MIGRATION,
        "trigger_type": "",
        "re_entry": Journey.ReEntry.ALWAYS,
        "steps": [
            {
                "key": "upload",
                "name": "Upload Content",
                "kind": "manual",
                "is_milestone": True,
                "next_steps": ["analyze"],
            },
            {
                "key": "analyze",
                "name": "Analyze Content",
                "kind": "manual",
                "is_milestone": True,
                "next_steps": [
                    {
                        "step": "transform",
                        "condition": {"field": "steps.analyze.needs_transform", "op": "eq", "value": True},
                    },
                    "validate",
                ],
            },
            {
                "key": "transform",
                "name": "Transform Data",
                "kind": "manual",
                "is_milestone": True,
                "next_steps": ["validate"],
            },
            {
                "key": "validate",
                "name": "Validate Results",
                "kind": "manual",
                "is_milestone": True,
                "completion": True,
            },
        ],
    },
    "onboarding": {
        "name": "Onboarding Flow",
        "description": "Welcome new users with a multi-step onboarding: an email at once, a Telegram "
        "intro after five minutes, the onboarded tag after a day.",
        "journey_type": JourneyType.ONBOARDING,
        "trigger_type": TriggerType.SIGNUP,
        "priority": 10,
        "re_entry": Journey.ReEntry.ONCE,
        "goal_event": "first_approval",
        "steps": [
            {
                "key": "welcome_email",
                "name": "Welcome Email",
                "action_type": "send_email",
                "config": {"template": "welcome", "subject": "Welcome!"},
            },
            {
                "key": "telegram_intro",
                "name": "Telegram Intro",
                "action_type": "send_telegram",
                "config": {"message": "Welcome to our platform!"},
                "delay_minutes": 5,
                "on_failure": "continue",
            },
            {
                "key": "apply_onboarded_tag",
                "name": "Apply Onboarded Tag",
                "action_type": "apply_tag",
                "config": {"tag": "onboarded"},
                "delay_minutes": 1440,
                "is_milestone": True,
            },
        ],
    },
    "payment_recovery": {
        "name": "Payment Failure Recovery",
        "description": "Dunning: tell the customer at once, remind them after two days unless the payment "
        "went through, then flag the account for the team. Ends as converted when a payment succeeds.",
        "journey_type": JourneyType.DUNNING,
        "trigger_type": TriggerType.PAYMENT_FAIL,
        "priority": 50,
        "re_entry": Journey.ReEntry.AFTER_END,
        "goal_event": TriggerType.PAYMENT_SUCCESS,
        "steps": [
            {
                "key": "tag_past_due",
                "name": "Mark past due",
                "action_type": "apply_tag",
                "config": {"tag": "past_due"},
            },
            {
                "key": "notify",
                "name": "Payment failed email",
                "action_type": "send_email",
                "config": {"template": "payment_failed", "subject": "Your payment did not go through"},
            },
            {
                "key": "wait_for_payment",
                "name": "Wait for a successful payment",
                "kind": "wait_for_event",
                "config": {
                    "event": TriggerType.PAYMENT_SUCCESS,
                    "timeout": "2 days",
                    "timeout_step": "reminder",
                },
                "next_steps": ["recovered"],
            },
            {
                "key": "recovered",
                "name": "Recovered",
                "action_type": "remove_tag",
                "config": {"tag": "past_due"},
                "completion": True,
            },
            {
                "key": "reminder",
                "name": "Reminder email",
                "action_type": "send_email",
                "config": {
                    "template": "payment_failed",
                    "subject": "Reminder: please update your payment method",
                },
            },
            {
                "key": "final_wait",
                "name": "Wait three more days",
                "kind": "wait",
                "config": {"duration": "3 days"},
            },
            {
                "key": "escalate",
                "name": "Flag for the team",
                "action_type": "emit_event",
                "config": {"type": "dunning.escalated", "payload": {"reason": "payment not recovered"}},
                "is_milestone": True,
            },
        ],
    },
    "re_engagement": {
        "name": "Re-engagement of Idle Users",
        "description": "An idle user gets a we-miss-you email at 10:00 their time and a push two days "
        "later, unless they come back; coming back ends the journey as converted.",
        "journey_type": JourneyType.RE_ENGAGEMENT,
        "trigger_type": TriggerType.IDLE_USER,
        "re_entry": Journey.ReEntry.AFTER_END,
        "goal_event": "login",
        "steps": [
            {
                "key": "morning",
                "name": "Wait until 10:00 local",
                "kind": "wait",
                "config": {"until": "10:00"},
            },
            {
                "key": "we_miss_you",
                "name": "We miss you email",
                "action_type": "send_email",
                "config": {"template": "we_miss_you", "subject": "We miss you"},
            },
            {
                "key": "wait_login",
                "name": "Wait for a login",
                "kind": "wait_for_event",
                "config": {"event": "login", "timeout": "2 days", "timeout_step": "push"},
                "next_steps": ["welcome_back"],
            },
            {
                "key": "welcome_back",
                "name": "Welcome back",
                "action_type": "apply_tag",
                "config": {"tag": "re_engaged"},
                "completion": True,
            },
            {
                "key": "push",
                "name": "Push nudge",
                "action_type": "send_push",
                "config": {"title": "Your account misses you", "body": "Come back and see what is new."},
                "on_failure": "continue",
            },
            {
                "key": "mark_dormant",
                "name": "Mark dormant",
                "action_type": "apply_tag",
                "config": {"tag": "dormant"},
            },
        ],
    },
}

JOURNEY_TYPE_DESCRIPTIONS = {
    JourneyType.ONBOARDING: "Welcome and activate new participants.",
    JourneyType.ACTIVATION: "Lead participants to their first value moment.",
    JourneyType.RETENTION: "Keep active participants engaged.",
    JourneyType.RE_ENGAGEMENT: "Bring idle participants back.",
    JourneyType.DUNNING: "Recover failed payments.",
    JourneyType.CONTENT_MIGRATION: "Move content through upload, analysis, transformation, validation.",
    JourneyType.LIFECYCLE: "Follow a participant through lifecycle stages.",
    JourneyType.CUSTOM: "Anything else.",
}


def _with_order(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"order": index, "kind": "action", **step} for index, step in enumerate(copy.deepcopy(steps))]


def journey_template_get(*, name: str) -> dict[str, Any]:
    """A template by its key (``onboarding``) or its journey name (``Onboarding Flow``)."""
    for key, template in TEMPLATES.items():
        if name in {key, template["name"]}:
            return {"template": key, **copy.deepcopy(template), "steps": _with_order(template["steps"])}
    raise NotFound(f"No journey template {name!r} (known: {', '.join(TEMPLATES)}).")


def journey_types() -> list[dict[str, Any]]:
    """Journey types with their description and the templates of each (the 000 operation)."""
    return [
        {
            "journey_type": value,
            "label": label,
            "description": JOURNEY_TYPE_DESCRIPTIONS.get(value, ""),
            "templates": [k for k, t in TEMPLATES.items() if t["journey_type"] == value],
        }
        for value, label in JourneyType.choices
    ]


def template_for_type(journey_type: str) -> str:
    """The template a journey type is designed from (the first of its kind)."""
    for key, template in TEMPLATES.items():
        if template["journey_type"] == journey_type:
            return key
    offered = sorted({str(t["journey_type"]) for t in TEMPLATES.values()})
    raise ValidationFailed(
        {"journey_type": [f"No template for {journey_type!r} yet; types with one: {', '.join(offered)}."]}
    )


def _free_name(name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)``… when journeys have taken it."""
    candidate, n = name, 1
    while journey_name_taken(candidate):
        n += 1
        candidate = f"{name} ({n})"
    return candidate


@transaction.atomic
def journey_design(
    *,
    template: str | None = None,
    journey_type: str | None = None,
    customizations: dict[str, Any] | None = None,
    actor=None,
    publish: bool = False,
) -> Journey:
    """A new journey from a template, with customisations (the 000 ``design_journey``).

    Give the template, or the ``journey_type`` whose template to use. A name given in the
    customisations must be free; without one, the template's name is numbered if taken.
    """
    source = journey_template_get(name=template or template_for_type(journey_type or ""))
    values = {k: v for k, v in source.items() if k not in {"steps", "template"}}
    values, steps = apply_customizations(values, source["steps"], customizations or {})
    if "name" in (customizations or {}):
        if journey_name_taken(values["name"]):
            raise ValidationFailed(
                {"name": [f"A journey named {values['name']!r} exists; give the new one another name."]}
            )
    else:
        values["name"] = _free_name(values["name"])
    return journey_create(
        data={**values, "template_name": source["template"]}, steps=steps, actor=actor, publish=publish
    )


def journey_template_drafts_retire() -> str:
    """Bootstrap: delete (softly) the template drafts older installs loaded as journeys.

    Only drafts nobody touched: made by bootstrap (no author) from a template under its name,
    never published, never entered. Anything staff worked on stays; all of it is restorable.
    """
    retired = 0
    for key, template in TEMPLATES.items():
        drafts = Journey.objects.filter(
            name=template["name"],
            template_name=key,
            created_by__isnull=True,
            state=Journey.State.DRAFT,
            deleted_at__isnull=True,
            versions__isnull=True,
            user_journeys__isnull=True,
        )
        for journey in drafts:
            journey_delete(journey=journey)
            retired += 1
    return f"{retired} template drafts retired; templates are served from /api/v1/journeys/templates"
