"""OpenAPI examples of the template library's endpoints (``/api/v1/templates…``)."""

from drf_spectacular.utils import OpenApiExample

TEMPLATE_DEFINITION = {
    "trigger_type": "signup",
    "priority": 10,
    "steps": [
        {
            "key": "welcome",
            "name": "Welcome Email",
            "action_type": "send_email",
            "config": {"template": "welcome"},
        },
        {
            "key": "tag",
            "name": "Tag",
            "action_type": "apply_tag",
            "config": {"tag": "onboarded"},
            "delay_minutes": 60,
        },
    ],
}
TEMPLATE_EXAMPLE = {
    "key": "b2b-onboarding",
    "name": "B2B Onboarding",
    "journey_type": "onboarding",
    "description": "Welcome a new business account.",
    "visibility": "catalogue",
    "author": "designer",
    "definition": TEMPLATE_DEFINITION,
    "latest_version": 2,
    "average_rating": 4.5,
    "review_count": 2,
    "created_at": "2026-01-18T12:00:00Z",
    "updated_at": "2026-01-19T09:30:00Z",
}
TEMPLATE_VERSION_EXAMPLE = {
    "number": 2,
    "published_at": "2026-01-19T09:30:00Z",
    "published_by": "designer",
    "changelog": "An hour between the email and the tag.",
    "definition": {
        "name": "B2B Onboarding",
        "journey_type": "onboarding",
        "description": "Welcome a new business account.",
        **TEMPLATE_DEFINITION,
    },
}
TEMPLATE_PAGE = OpenApiExample(
    "Page", response_only=True, value={"next": None, "previous": None, "results": [TEMPLATE_EXAMPLE]}
)
TEMPLATE_SHOWN = OpenApiExample("Template", response_only=True, value=TEMPLATE_EXAMPLE)
TEMPLATE_CREATE = OpenApiExample(
    "A new template",
    request_only=True,
    value={
        "key": "b2b-onboarding",
        "name": "B2B Onboarding",
        "journey_type": "onboarding",
        "description": "Welcome a new business account.",
        "definition": TEMPLATE_DEFINITION,
    },
)
TEMPLATE_CREATED = OpenApiExample(
    "Created",
    response_only=True,
    status_codes=["201"],
    value={
        **TEMPLATE_EXAMPLE,
        "visibility": "private",
        "latest_version": None,
        "average_rating": None,
        "review_count": 0,
    },
)
TEMPLATE_INVALID = OpenApiExample(
    "Invalid definition",
    response_only=True,
    status_codes=["400"],
    value={
        "definition.steps.1.next_steps.0": ["No step with key 'nowhere'."],
        "definition.colour": ["Not a template setting; known: …"],
    },
)
TEMPLATE_UPDATE = OpenApiExample(
    "Rename", request_only=True, value={"name": "B2B Onboarding (EU)", "description": "For EU accounts."}
)
TEMPLATE_PUBLISH = OpenApiExample(
    "Publish", request_only=True, value={"changelog": "An hour between the email and the tag."}
)
TEMPLATE_VERSION = OpenApiExample("Version", response_only=True, value=TEMPLATE_VERSION_EXAMPLE)
TEMPLATE_VERSIONS = OpenApiExample("Versions", response_only=True, value=[TEMPLATE_VERSION_EXAMPLE])
TEMPLATE_UNCHANGED = OpenApiExample(
    "Nothing to publish",
    response_only=True,
    status_codes=["409"],
    value={
        "detail": "Nothing changed since version 2; edit the draft first.",
        "code": "conflict",
        "current_version": 2,
    },
)
TEMPLATE_SHARE = OpenApiExample("To the catalogue", request_only=True, value={"visibility": "catalogue"})
REVIEW_IN = OpenApiExample("Review", request_only=True, value={"rating": 5, "text": "Saved us a day."})
REVIEW_OUT_VALUE = {
    "user": "analyst",
    "rating": 5,
    "text": "Saved us a day.",
    "created_at": "2026-01-20T10:00:00Z",
    "updated_at": "2026-01-20T10:00:00Z",
}
REVIEW_OUT = OpenApiExample("Reviewed", response_only=True, status_codes=["201"], value=REVIEW_OUT_VALUE)
REVIEW_PAGE = OpenApiExample(
    "Page", response_only=True, value={"next": None, "previous": None, "results": [REVIEW_OUT_VALUE]}
)
IMPORT_INVALID = OpenApiExample(
    "Refused file",
    response_only=True,
    status_codes=["400"],
    value={
        "key": ["A template with the key 'onboarding' exists."],
        "versions.0.number": ["Versions are numbered from 1 without gaps; expected 1."],
    },
)
JOURNEY_FROM_TEMPLATE = OpenApiExample(
    "From version 2, renamed",
    request_only=True,
    value={"version": 2, "customizations": {"name": "ACME onboarding", "priority": 5}},
)
