"""OpenAPI parameters and examples of the rules API (kept apart so the views read as views)."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter

USER = OpenApiParameter("user_id", str, OpenApiParameter.PATH, description="The participant's user_id.")
RULE = OpenApiParameter("rule_id", str, OpenApiParameter.PATH, description="The rule's business id.")
RULE_EXAMPLE = {
    "rule_id": "custom_rule_001",
    "name": "Custom Rule",
    "description": "Five buddy matches",
    "flag": "custom_flag",
    "priority": 10,
    "active": True,
    "conditions": [{"type": "count", "entity": "buddy_matches", "count": ">=", "count_value": 5}],
    "actions": [
        {"type": "set_flag", "flag": "custom_flag", "value": True},
        {
            "type": "emit_event",
            "event": "orchestration.custom.event",
            "payload": {"message": "Custom event triggered"},
        },
    ],
}
RULE_OUT_EXAMPLE = {
    **RULE_EXAMPLE,
    "version": 1,
    "created_at": "2026-01-15T10:30:00Z",
    "updated_at": "2026-01-15T10:30:00Z",
}
RULE_ERRORS_EXAMPLE = OpenApiExample(
    "Field-level errors",
    response_only=True,
    status_codes=["400"],
    value={
        "conditions.0.count_value": ["A whole number, 0 or more."],
        "conditions.1.duration": ["A duration such as '14 days' (hours, days, weeks or months)."],
    },
)
NOT_FOUND_EXAMPLE = OpenApiExample(
    "Unknown",
    response_only=True,
    status_codes=["404"],
    value={"detail": "No rule with rule_id 'x'.", "code": "not_found"},
)

FLAGS_LIST_EXAMPLES = [
    OpenApiExample(
        "Flags",
        response_only=True,
        value={
            "user_id": "user-42",
            "flags": [
                {
                    "flag": "mentor_ready",
                    "value": True,
                    "set_by_rule": "mentor_ready_001",
                    "set_at": "2026-01-15T10:30:00Z",
                    "expires_at": None,
                }
            ],
            "count": 1,
        },
    )
]
FLAGS_EVALUATE_EXAMPLES = [
    OpenApiExample("Dry run with a trace", request_only=True, value={"dry_run": True, "trace": True}),
    OpenApiExample(
        "Evaluated",
        response_only=True,
        value={
            "user_id": "user-42",
            "evaluated_rules": [
                "mentor_ready_001",
                "followup_needed_001",
                "language_support_needed_001",
            ],
            "triggered_rules": ["mentor_ready_001"],
            "fired_rules": ["mentor_ready_001"],
            "changes": [
                {
                    "flag": "mentor_ready",
                    "previous_value": None,
                    "value": True,
                    "reason": "rule",
                    "set_by_rule": "mentor_ready_001",
                    "expires_at": None,
                }
            ],
            "milestones": ["mentor_ready"],
            "events": ["orchestration.flag.updated", "orchestration.milestone.reached"],
            "timestamp": "2026-01-15T10:30:00Z",
            "dry_run": False,
            "next_check_at": None,
            "trace": None,
        },
    ),
]
FLAGS_HISTORY_EXAMPLES = [
    OpenApiExample(
        "History",
        response_only=True,
        value={
            "user_id": "user-42",
            "history": [
                {
                    "id": 7,
                    "flag": "mentor_ready",
                    "value": True,
                    "previous_value": None,
                    "set_by_rule": "mentor_ready_001",
                    "reason": "rule",
                    "expires_at": None,
                    "changed_at": "2026-01-15T10:30:00Z",
                }
            ],
            "count": 1,
            "next_before": None,
        },
    )
]
MILESTONES_LIST_EXAMPLES = [
    OpenApiExample(
        "Milestones",
        response_only=True,
        value={
            "user_id": "user-42",
            "milestones": [
                {
                    "milestone": "mentor_ready",
                    "reached_at": "2026-01-15T10:30:00Z",
                    "triggered_by_rule": "mentor_ready_001",
                    "metadata": {"reason": "Completed 3+ language sessions"},
                }
            ],
            "count": 1,
        },
    )
]
MILESTONES_REACH_EXAMPLES = [
    OpenApiExample(
        "Manual override",
        request_only=True,
        value={"metadata": {"reason": "Manual override", "triggered_by": "admin@example.com"}},
    ),
    OpenApiExample(
        "Reached",
        response_only=True,
        status_codes=["201"],
        value={
            "success": True,
            "created": True,
            "milestone": {
                "milestone": "mentor_ready",
                "reached_at": "2026-01-15T10:30:00Z",
                "triggered_by_rule": "manual",
                "metadata": {"reason": "Manual override", "triggered_by": "admin@example.com"},
            },
        },
    ),
]
RULES_LIST_EXAMPLES = [
    OpenApiExample("Rules", response_only=True, value={"rules": [RULE_OUT_EXAMPLE], "count": 1})
]
RULES_CREATE_EXAMPLES = [
    OpenApiExample("The seed's custom rule", request_only=True, value=RULE_EXAMPLE),
    OpenApiExample("Created", response_only=True, status_codes=["201"], value=RULE_OUT_EXAMPLE),
    RULE_ERRORS_EXAMPLE,
]
RULES_RETRIEVE_EXAMPLES = [
    OpenApiExample("Rule", response_only=True, value=RULE_OUT_EXAMPLE),
    NOT_FOUND_EXAMPLE,
]
RULES_REPLACE_EXAMPLES = [
    OpenApiExample("Some fields", request_only=True, value={"priority": 30, "active": False}),
    OpenApiExample("Definition", request_only=True, value=RULE_EXAMPLE),
    RULE_ERRORS_EXAMPLE,
]
RULES_UPDATE_EXAMPLES = [
    OpenApiExample("Raise the priority", request_only=True, value={"priority": 30}),
    RULE_ERRORS_EXAMPLE,
]
RULES_ACTIVATE_EXAMPLES = [
    OpenApiExample("Active", response_only=True, value=RULE_OUT_EXAMPLE),
    NOT_FOUND_EXAMPLE,
]
RULES_DEACTIVATE_EXAMPLES = [
    OpenApiExample("Inactive", response_only=True, value={**RULE_OUT_EXAMPLE, "active": False, "version": 2}),
    NOT_FOUND_EXAMPLE,
]
RULES_PREVIEW_EXAMPLES = [
    OpenApiExample("Participant", request_only=True, value={"user_id": "user-42"}),
    OpenApiExample(
        "Trace",
        response_only=True,
        value={
            "rule_id": "custom_rule_001",
            "user_id": "user-42",
            "holds": False,
            "condition": {
                "type": "count",
                "description": "count(buddy_matches) >= 5",
                "actual": 3,
                "holds": False,
            },
            "timestamp": "2026-01-15T10:30:00Z",
        },
    ),
]
RULES_BACKTEST_EXAMPLES = [
    OpenApiExample("Everyone up to 10,000", request_only=True, value={"limit": 10000}),
    OpenApiExample(
        "Result",
        response_only=True,
        value={
            "rule_id": "custom_rule_001",
            "participants_evaluated": 2500,
            "matched": 112,
            "truncated": False,
            "sample_user_ids": ["user-42", "user-97"],
            "timestamp": "2026-01-15T10:30:00Z",
        },
    ),
]
