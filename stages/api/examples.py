"""OpenAPI examples of the staged lifecycle API (kept apart so the views read as views)."""

from drf_spectacular.utils import OpenApiExample

CHECKS_EXAMPLE = [
    {
        "key": "unit_of_work_completed",
        "label": "Stage tasks completed",
        "kind": "unit_of_work",
        "measured": "completed",
        "expected": "completed",
        "passed": True,
        "detail": "every task succeeded",
    },
    {
        "key": "search_quality",
        "label": "Search quality > 80%",
        "kind": "metric",
        "measured": 0.74,
        "expected": "search_quality > 0.8",
        "passed": False,
        "detail": "0.74 misses search_quality > 0.8",
    },
    {
        "key": "demo_approved",
        "label": "Demo approved by client",
        "kind": "approval",
        "measured": True,
        "expected": "demo_approved approved",
        "passed": True,
        "detail": "approved by client-lead",
    },
]
VALIDATION_EXAMPLE = {
    "client_id": "client-123",
    "stage": "sandbox",
    "passed": False,
    "checks": CHECKS_EXAMPLE,
    "evaluated_at": "2026-01-20T09:00:00Z",
}
JOURNEY_EXAMPLE = {
    "client_id": "client-123",
    "pipeline": "default",
    "stage": "pilot",
    "rollback_from": "",
    "started_at": "2026-01-15T10:00:00Z",
    "stage_entered_at": "2026-01-20T09:00:00Z",
    "seconds_in_stage": 691200.0,
    "ended_at": None,
    "end_reason": "",
    "started_by": "ada",
}
HISTORY_EXAMPLE = [
    {
        "kind": "started",
        "from_stage": "",
        "to_stage": "sandbox",
        "reason": "",
        "exit_criteria_results": [],
        "actor": "ada",
        "automatic": False,
        "transitioned_at": "2026-01-15T10:00:00Z",
    },
    {
        "kind": "promoted",
        "from_stage": "sandbox",
        "to_stage": "pilot",
        "reason": "all 5 exit criteria pass",
        "exit_criteria_results": CHECKS_EXAMPLE[:1],
        "actor": "system",
        "automatic": True,
        "transitioned_at": "2026-01-20T09:00:00Z",
    },
]
JOURNEY_DETAIL_EXAMPLE = {
    **JOURNEY_EXAMPLE,
    "last_validation": {},
    "last_validated_at": "2026-01-20T09:00:00Z",
    "history": HISTORY_EXAMPLE,
}
CRITERIA_CONFLICT = OpenApiExample(
    "Exit criteria not met",
    status_codes=["409"],
    response_only=True,
    value={
        "detail": "The journey stays in sandbox: 1 of 3 exit criteria fail: search_quality (0.74 misses "
        "search_quality > 0.8).",
        "code": "exit_criteria_not_met",
        "current_stage": "sandbox",
        "reason": "1 of 3 exit criteria fail: search_quality (0.74 misses search_quality > 0.8)",
        "checks": CHECKS_EXAMPLE,
    },
)


def invalid_transition(action: str, stage: str, reason: str) -> OpenApiExample:
    return OpenApiExample(
        f"Cannot {action} from {stage}",
        status_codes=["409"],
        response_only=True,
        value={
            "detail": f"Cannot {action} a journey in {stage}: {reason}",
            "code": "invalid_transition",
            "current_stage": stage,
            "reason": reason,
        },
    )


AGENT_EXAMPLE = {
    "agent_id": "dataops-agent",
    "name": "Data operations",
    "endpoint_url": "https://agents.example.com/dataops",
    "active": True,
    "description": "Provisions and tears down test datasets.",
    "secret": "whsec_••••••••Xy9A",
    "created_at": "2026-03-01T09:00:00Z",
    "updated_at": "2026-03-01T09:00:00Z",
}
AGENT_CREATED_EXAMPLE = {**AGENT_EXAMPLE, "secret": "whsec_MfKQ9r3fTz2FJ7yR3Rk1Xw6AbC0dXy9A"}
AGENT_REFUSED_EXAMPLE = OpenApiExample(
    "Internal endpoint",
    response_only=True,
    status_codes=["400"],
    value={
        "endpoint_url": [
            "'169.254.169.254' resolves to 169.254.169.254, a link-local address (cloud metadata "
            "lives there); internal addresses are refused unless allow-listed in WEBHOOK_ALLOWED_HOSTS."
        ]
    },
)


# --- pipelines ----------------------------------------------------------------------------------
CRITERION_EXAMPLE = {
    "key": "search_quality",
    "label": "Search quality > 80%",
    "kind": "metric",
    "operator": "gt",
    "threshold": 0.8,
    "event_type": "",
    "payload_filter": {},
    "window_days": 0,
    "triggers_rollback": False,
    "position": 1,
}
TASK_TEMPLATE_EXAMPLE = {
    "purpose": "setup",
    "key": "provision_dataset",
    "name": "Provision the test dataset",
    "intent": "provision_test_dataset",
    "agent_id": "dataops-agent",
    "params": {"dataset": "sandbox-sample"},
    "depends_on": [],
    "max_retries": 3,
    "retry_backoff_seconds": 5.0,
    "position": 0,
}
STAGE_IN_EXAMPLE = {
    "auto_promote": True,
    "description": "Connectors, search and a security scan on sample data.",
    "criteria": [
        {k: CRITERION_EXAMPLE[k] for k in ("key", "label", "kind", "operator", "threshold")},
        {"key": "demo_approved", "label": "Demo approved by client", "kind": "approval"},
    ],
    "setup": [
        {k: v for k, v in TASK_TEMPLATE_EXAMPLE.items() if k not in ("purpose", "position")},
        {
            "key": "client_demo",
            "name": "Demo to the client",
            "intent": "manual",
            "depends_on": ["provision_dataset"],
        },
    ],
    "rollback": [],
}
PIPELINE_IN_EXAMPLE = {
    "slug": "fast-track",
    "name": "Fast track",
    "description": "Sandbox only, for clients who buy after the demo.",
    "is_default": False,
    "stages": {"sandbox": STAGE_IN_EXAMPLE},
}
STAGE_EXAMPLE = {
    "pipeline": "fast-track",
    "stage": "sandbox",
    "auto_promote": True,
    "description": STAGE_IN_EXAMPLE["description"],
    "criteria": [
        {**CRITERION_EXAMPLE, "position": 0, "expectation": "search_quality > 0.8"},
        {
            **CRITERION_EXAMPLE,
            "key": "demo_approved",
            "label": "Demo approved by client",
            "kind": "approval",
            "operator": "",
            "threshold": None,
            "expectation": "demo_approved approved",
        },
    ],
    "setup": [
        TASK_TEMPLATE_EXAMPLE,
        {
            **TASK_TEMPLATE_EXAMPLE,
            "key": "client_demo",
            "name": "Demo to the client",
            "intent": "manual",
            "agent_id": "",
            "params": {},
            "depends_on": ["provision_dataset"],
            "position": 1,
        },
    ],
    "rollback": [],
}
PIPELINE_EXAMPLE = {
    "slug": "fast-track",
    "name": "Fast track",
    "description": PIPELINE_IN_EXAMPLE["description"],
    "is_default": False,
    "stages": {"sandbox": STAGE_EXAMPLE},
    "journeys_total": 0,
    "journeys_active": 0,
    "created_at": "2026-03-01T09:00:00Z",
    "updated_at": "2026-03-01T09:00:00Z",
}
PIPELINE_INVALID_EXAMPLE = OpenApiExample(
    "Invalid definition",
    response_only=True,
    status_codes=["400"],
    value={
        "stages.sandbox.criteria.search_quality.threshold": ["A metric criterion needs a threshold."],
        "stages.sandbox.setup.configure_search.agent_id": [
            "Unknown agent 'search-bot'; add it under Agents first."
        ],
        "stages.sandbox.tasks": ["The dependencies form a cycle: a → b → a."],
    },
)
PIPELINE_IN_USE_EXAMPLE = OpenApiExample(
    "In use",
    response_only=True,
    status_codes=["409"],
    value={
        "detail": "'default' is used by 12 staged journeys (3 active); their history names it, so it "
        "cannot be deleted.",
        "code": "pipeline_in_use",
        "reason": "A pipeline that staged journeys have used is kept with their history.",
        "journeys": 12,
        "active_journeys": 3,
    },
)
TASK_TEMPLATE_INVALID_EXAMPLE = OpenApiExample(
    "Not a DAG",
    response_only=True,
    status_codes=["400"],
    value={"depends_on": ["Task 'security_scan' depends on an unknown task 'configure_serach'."]},
)
TASK_HAS_DEPENDANTS_EXAMPLE = OpenApiExample(
    "Others depend on it",
    response_only=True,
    status_codes=["409"],
    value={
        "detail": "client_demo depend on 'provision_dataset'; change their depends_on first.",
        "code": "task_has_dependants",
        "reason": "A stage's tasks form a graph; removing this task would leave a dependency dangling.",
        "dependants": ["client_demo"],
    },
)


# --- staged journeys, units of work and tasks: the examples of each operation ----------------
STAGES_JOURNEYS_LIST_EXAMPLES = [
    OpenApiExample(
        "A page",
        value={"next": None, "previous": None, "results": [JOURNEY_EXAMPLE]},
        response_only=True,
    )
]
STAGES_JOURNEYS_START_EXAMPLES = [
    OpenApiExample("Start", value={"client_id": "client-123"}, request_only=True),
    OpenApiExample(
        "Start on a pipeline",
        value={"client_id": "client-123", "pipeline": "default"},
        request_only=True,
    ),
    OpenApiExample(
        "Started",
        status_codes=["201"],
        response_only=True,
        value={**JOURNEY_DETAIL_EXAMPLE, "stage": "sandbox", "history": HISTORY_EXAMPLE[:1]},
    ),
    OpenApiExample(
        "Already active",
        status_codes=["409"],
        response_only=True,
        value={
            "detail": "Client 'client-123' already has an active journey (in pilot).",
            "code": "journey_active",
            "current_stage": "pilot",
            "reason": "Each client has exactly one active journey at a time.",
        },
    ),
]
STAGES_JOURNEYS_RETRIEVE_EXAMPLES = [
    OpenApiExample("Journey", value=JOURNEY_DETAIL_EXAMPLE, response_only=True)
]
STAGES_JOURNEYS_VALIDATE_EXAMPLES = [
    OpenApiExample("Validation result", value=VALIDATION_EXAMPLE, response_only=True),
    invalid_transition(
        "validate", "completed", "Only a journey in sandbox, pilot or production has exit criteria."
    ),
]
STAGES_JOURNEYS_PROMOTE_EXAMPLES = [
    OpenApiExample(
        "Promoted",
        response_only=True,
        value={
            "journey": JOURNEY_DETAIL_EXAMPLE,
            "validation": {**VALIDATION_EXAMPLE, "passed": True},
        },
    ),
    CRITERIA_CONFLICT,
    invalid_transition(
        "promote",
        "rollback",
        "The journey is rolling back; promote it once the rollback has completed.",
    ),
]
STAGES_JOURNEYS_ROLLBACK_EXAMPLES = [
    OpenApiExample("Roll back", value={"reason": "Error rate above 2% since the release"}, request_only=True),
    OpenApiExample("Rolling back", value={**JOURNEY_DETAIL_EXAMPLE, "stage": "rollback"}, response_only=True),
    invalid_transition(
        "roll back",
        "sandbox",
        "Sandbox is the first stage: there is no previous stage to roll back to.",
    ),
]
STAGES_JOURNEYS_CANCEL_EXAMPLES = [
    OpenApiExample("Cancel", value={"reason": "Contract not renewed"}, request_only=True),
    OpenApiExample(
        "Cancelled",
        value={**JOURNEY_DETAIL_EXAMPLE, "stage": "cancelled", "end_reason": "Contract not renewed"},
        response_only=True,
    ),
    invalid_transition("cancel", "completed", "The journey is already completed."),
]
STAGES_JOURNEYS_MEASUREMENTS_EXAMPLES = [
    OpenApiExample(
        "Measurements",
        value={"values": {"search_quality": 0.86, "connectors_syncing": 1.0}},
        request_only=True,
    ),
    OpenApiExample(
        "Unknown key",
        status_codes=["400"],
        response_only=True,
        value={
            "values.search_qualty": [
                "'search_qualty' is not a metric criterion of sandbox (expected one of: "
                "connectors_syncing, search_quality)."
            ]
        },
    ),
]
STAGES_JOURNEYS_APPROVALS_EXAMPLES = [
    OpenApiExample(
        "Demo approved",
        value={"key": "demo_approved", "approved": True, "by": "client-lead", "note": "Great demo"},
        request_only=True,
    ),
    OpenApiExample(
        "Scan failed",
        value={"key": "security_scan_passed", "approved": False, "note": "2 high CVEs"},
        request_only=True,
    ),
]
STAGES_TASKS_COMPLETE_EXAMPLES = [
    OpenApiExample("Done", value={"result": {"notes": "Client signed off"}}, request_only=True),
    OpenApiExample("Failed", value={"succeeded": False, "error": "Client did not attend"}, request_only=True),
]
