"""OpenAPI examples of the journeys API's answers that several views share."""

from drf_spectacular.utils import OpenApiExample

JOURNEY_CONFLICT = OpenApiExample(
    "Not possible in the journey's state",
    response_only=True,
    status_codes=["409"],
    value={
        "detail": "An archived journey cannot be edited; restore it first.",
        "code": "conflict",
        "current_state": "archived",
    },
)
ENROLMENT_CONFLICT = OpenApiExample(
    "Re-entry refused",
    response_only=True,
    status_codes=["409"],
    value={
        "detail": "The re-entry policy (once) does not allow 'user-42' to enter again now.",
        "code": "re_entry_refused",
        "current_state": "completed",
        "user_journey_id": 501,
    },
)
PARTICIPANT_EXISTS = OpenApiExample(
    "Already exists",
    response_only=True,
    status_codes=["409"],
    value={"detail": "A participant with user_id 'user-42' already exists.", "code": "exists"},
)
UNKNOWN_TEMPLATE = OpenApiExample(
    "Unknown template",
    response_only=True,
    status_codes=["404"],
    value={"detail": "No journey template 'x' (known: onboarding, …).", "code": "not_found"},
)
