"""OpenAPI examples of the workspace API (kept apart so the views read as views)."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from journeys.api.schema import ErrorSerializer

REFUSED = OpenApiResponse(ErrorSerializer, description="Refused in the current state.")

MY_JOURNEYS = [
    OpenApiExample(
        "Owned and shared journeys",
        value={
            "next": None,
            "previous": None,
            "results": [
                {
                    "id": 41,
                    "journey": "Kitchen renovation",
                    "state": "active",
                    "current_step": "quotes",
                    "role": "owner",
                    "started_at": "2026-03-02T09:00:00Z",
                },
                {
                    "id": 57,
                    "journey": "Bathroom upgrade",
                    "state": "active",
                    "current_step": "demolition",
                    "role": "commenter",
                    "started_at": "2026-04-11T08:30:00Z",
                },
            ],
        },
        response_only=True,
    )
]
RESEARCH = [
    OpenApiExample(
        "A contractor found on the web",
        value={
            "step_key": "quotes",
            "query": "kitchen fitters Oslo",
            "title": "Nordic Kitchens AS",
            "url": "https://example.com/nordic-kitchens",
            "snippet": "Kitchen fitting since 1998",
            "note": "Ask for a quote",
        },
        request_only=True,
    )
]
DECISION = [
    OpenApiExample(
        "Choosing a countertop",
        value={
            "step_key": "design",
            "question": "Countertop material",
            "chosen": "Quartz",
            "alternatives": [
                {"option": "Granite", "pros": ["heat resistant"], "cons": ["needs sealing"]},
                {"option": "Laminate", "pros": ["cheap"], "cons": ["scratches"]},
            ],
            "reasoning": "Durable and within budget.",
        },
        request_only=True,
    )
]
BUDGET_REPORT = [
    OpenApiExample(
        "Over budget on cabinets",
        value={
            "currency": "EUR",
            "total_budget": "25000.00",
            "total_spent": "14200.00",
            "remaining": "10800.00",
            "over_budget": False,
            "categories": [
                {
                    "category": "cabinets",
                    "budget": "8000.00",
                    "spent": "9200.00",
                    "quoted_low": "8700.00",
                    "remaining": "-1200.00",
                    "over_budget": True,
                },
                {
                    "category": "countertop",
                    "budget": "4000.00",
                    "spent": "5000.00",
                    "quoted_low": "4800.00",
                    "remaining": "-1000.00",
                    "over_budget": True,
                },
            ],
        },
        response_only=True,
    )
]
QUOTE = [
    OpenApiExample(
        "A contractor's quote",
        value={
            "category": "cabinets",
            "vendor": "Nordic Kitchens AS",
            "amount": "8700.00",
            "currency": "EUR",
            "valid_until": "2026-05-01",
            "step_key": "quotes",
        },
        request_only=True,
    )
]
INVITATION = [
    OpenApiExample(
        "Invite a contractor to comment",
        value={"email": "builder@example.com", "role": "commenter"},
        request_only=True,
    )
]
COMMENT = [
    OpenApiExample(
        "Asking a collaborator",
        value={"body": "@builder can you start on Monday?", "step_key": "demolition"},
        request_only=True,
    )
]
TASK = [
    OpenApiExample(
        "A task for the contractor",
        value={
            "title": "Remove old tiles",
            "assignee": "builder",
            "due_on": "2026-04-20",
            "step_key": "demolition",
        },
        request_only=True,
    )
]
CONVERSATION = [
    OpenApiExample("Link a chat", value={"conversation_id": "chat-7f3a", "channel": "web"}, request_only=True)
]
MESSAGE = [
    OpenApiExample(
        "A participant's message",
        value={"sender": "participant", "body": "The tiles arrived today.", "message_id": "m-1001"},
        request_only=True,
    )
]
