"""OpenAPI examples of the journeys API: requests and answers the views show."""

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
    value={"detail": "No journey template 'x'.", "code": "not_found"},
)


INVALID_TRANSITION = OpenApiExample(
    "Invalid transition",
    response_only=True,
    status_codes=["409"],
    value={
        "detail": "Can't switch from state 'archived' using method 'publish'",
        "code": "invalid_transition",
        "current_state": "archived",
    },
)


USER_JOURNEY_INVALID_TRANSITION = OpenApiExample(
    "Not allowed in the current state",
    response_only=True,
    status_codes=["409"],
    value={
        "detail": "Can't switch from state 'completed' using method 'pause'",
        "code": "invalid_transition",
        "current_state": "completed",
    },
)


VALIDATION_EXAMPLE = OpenApiExample(
    "Invalid definition",
    response_only=True,
    status_codes=["400"],
    value={
        "steps.1.config.url": ["An http(s) URL with a host is required."],
        "steps.2.next_steps.0.step": ["No step with key 'nowhere' in this journey."],
    },
)


EVENT_EXAMPLE = {
    "type": "kintell.session.completed",
    "user_id": "user-42",
    "payload": {"session_type": "language", "rating": 5},
    "occurred_at": "2026-01-15T10:30:00Z",
    "source": "kintell",
    "idempotency_key": "session-9876-completed",
}


CREATE_EXAMPLE = {
    "name": "Onboarding Flow",
    "description": "Welcome new users with multi-step onboarding",
    "trigger_type": "signup",
    "trigger_config": {},
    "is_active": True,
    "priority": 10,
    "steps": [
        {
            "name": "Welcome Email",
            "order": 0,
            "action_type": "send_email",
            "action_config": {"template": "welcome", "subject": "Welcome!"},
            "delay_minutes": 0,
        },
        {
            "name": "Telegram Intro",
            "order": 1,
            "action_type": "send_telegram",
            "action_config": {"message": "Welcome to our platform!"},
            "delay_minutes": 5,
        },
        {
            "name": "Apply Onboarded Tag",
            "order": 2,
            "action_type": "apply_tag",
            "action_config": {"tag": "onboarded"},
            "delay_minutes": 1440,
        },
    ],
}


JOURNEY_EXAMPLE = {
    "id": 7,
    "name": "Onboarding Flow",
    "description": "Welcome new users with multi-step onboarding",
    "journey_type": "custom",
    "trigger_type": "signup",
    "trigger_conditions": None,
    "trigger_config": None,
    "priority": 10,
    "re_entry": "once",
    "goal_event": "",
    "exit_event": "",
    "quiet_hours_start": None,
    "quiet_hours_end": None,
    "cap_policy": "defer",
    "state": "published",
    "is_active": True,
    "version": 1,
    "has_unpublished_changes": False,
    "template_name": "",
    "step_count": 3,
    "steps": [
        {
            "key": "welcome_email",
            "name": "Welcome Email",
            "order": 0,
            "kind": "action",
            "action_type": "send_email",
            "config": {"template": "welcome", "subject": "Welcome!"},
            "condition": None,
            "next_steps": [],
            "delay_minutes": 0,
            "is_milestone": False,
            "completion": False,
            "max_attempts": 3,
            "on_failure": "fail",
        }
    ],
    "created_at": "2026-01-18T12:00:00Z",
    "updated_at": "2026-01-18T12:00:00Z",
}


USER_JOURNEY_EXAMPLE = {
    "id": 501,
    "user_id": "user-42",
    "journey_id": 7,
    "journey_name": "Onboarding Flow",
    "version": 1,
    "state": "active",
    "status": "active",
    "current_step": "telegram_intro",
    "current_step_id": "telegram_intro",
    "variant": "",
    "converted": False,
    "converted_at": None,
    "started_at": "2026-01-18T12:00:00Z",
    "paused_at": None,
    "ended_at": None,
    "completed_at": None,
    "end_reason": "",
    "failure_reason": "",
    "metadata": {"plan": "premium"},
    "context": {"payload": {"plan": "premium"}, "steps": {"welcome_email": {"to": "ada@example.com"}}},
    "progress": {
        "percent": 33.3,
        "milestones_completed": 1,
        "milestones_total": 3,
        "current_milestone": "telegram_intro",
    },
}


STEP_RUN_EXAMPLE = {
    "id": 9001,
    "user_journey_id": 501,
    "seq": 2,
    "step_key": "notify_crm",
    "step_kind": "action",
    "action_type": "trigger_webhook",
    "channel": "",
    "status": "failed",
    "due_at": "2026-01-18T12:05:00Z",
    "waiting_for": "",
    "executed_at": "2026-01-18T12:09:01Z",
    "finished_at": "2026-01-18T12:09:02Z",
    "attempts": 3,
    "max_attempts": 3,
    "result": {},
    "error": "DeliveryFailed: https://crm.example.com/hook answered 503",
    "trace": {
        "condition": {
            "field": "payload.plan",
            "op": "eq",
            "value": "premium",
            "actual": "premium",
            "result": True,
        }
    },
    "dead_lettered_at": "2026-01-18T12:09:02Z",
    "rolled_back": False,
    "lag_seconds": 0.4,
    "idempotency_key": "step-run-9001",
    "created_at": "2026-01-18T12:00:00Z",
}


MILESTONES_EXAMPLE = {
    "user_journey_id": 501,
    "progress": {
        "percent": 50.0,
        "milestones_completed": 2,
        "milestones_total": 4,
        "current_milestone": "transform",
    },
    "milestones": [
        {
            "key": "upload",
            "name": "Upload Content",
            "kind": "manual",
            "is_milestone": True,
            "status": "completed",
            "step_run_id": 1,
            "attempts": 0,
            "started_at": "2026-01-18T12:00:00Z",
            "completed_at": "2026-01-18T12:10:00Z",
            "duration_seconds": 600.0,
            "on_path": True,
            "result": {"files": 3},
            "error": "",
        },
        {
            "key": "transform",
            "name": "Transform Data",
            "kind": "manual",
            "is_milestone": True,
            "status": "in_progress",
            "step_run_id": 3,
            "attempts": 0,
            "started_at": "2026-01-18T12:20:00Z",
            "completed_at": None,
            "duration_seconds": None,
            "on_path": True,
            "result": {},
            "error": "",
        },
    ],
}


SUBSCRIPTION_EXAMPLE = {
    "id": 3,
    "name": "CRM milestones",
    "url": "https://crm.example.com/hooks/journeys",
    "event_types": ["journey.milestone.*", "journey.completed"],
    "active": True,
    "consecutive_failures": 0,
    "disabled_at": None,
    "disabled_reason": "",
    "created_at": "2026-01-18T12:00:00Z",
}


# --- the service directory ---------------------------------------------------------------------
SERVICE_EXAMPLE = {
    "key": "FrontendGateway",
    "name": "Frontend gateway",
    "kind": "http",
    "handler": "",
    "endpoint_url": "https://gateway.example.com/journeys",
    "health_check_url": "https://gateway.example.com/healthz",
    "health_status": "healthy",
    "health_checked_at": "2026-01-18T12:00:00Z",
    "health_detail": "200: ok",
    "active": True,
    "needs_configuration": False,
    "description": "Routes a milestone's experience_api operation.",
    "secret": "whsec_••••••••Ab3=",
    "created_at": "2026-01-18T12:00:00Z",
    "updated_at": "2026-01-18T12:00:00Z",
}
SERVICE_CREATED_EXAMPLE = {**SERVICE_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
SERVICE_CREATE_REQUEST = OpenApiExample(
    "An HTTP service",
    request_only=True,
    value={
        "key": "FrontendGateway",
        "name": "Frontend gateway",
        "endpoint_url": "https://gateway.example.com/journeys",
        "health_check_url": "https://gateway.example.com/healthz",
    },
)
SERVICE_REFUSED = OpenApiExample(
    "Internal address refused",
    response_only=True,
    status_codes=["400"],
    value={
        "endpoint_url": [
            "'10.0.0.7' resolves to 10.0.0.7, a private address; internal addresses are refused "
            "unless allow-listed in WEBHOOK_ALLOWED_HOSTS."
        ]
    },
)
SERVICE_CALL_EXAMPLE = {
    "id": 71,
    "user_journey": 501,
    "step_key": "analyze",
    "role": "experience_api",
    "reference": "FrontendGateway.handle_insights_request",
    "service": "FrontendGateway",
    "operation": "handle_insights_request",
    "status": "succeeded",
    "attempts": 2,
    "request": {"operation": "handle_insights_request", "milestone": "analyze", "user_id": "user-42"},
    "response": {"insights": 3, "needs_transform": True},
    "error": "",
    "created_at": "2026-01-18T12:00:00Z",
    "finished_at": "2026-01-18T12:00:31Z",
    "attempt_log": [
        {"at": "2026-01-18T12:00:00Z", "status_code": 503, "duration_ms": 12.5, "error": "answered 503"},
        {"at": "2026-01-18T12:00:31Z", "status_code": 200, "duration_ms": 9.1, "error": ""},
    ],
}
