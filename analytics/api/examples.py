"""OpenAPI examples of the analytics API (kept apart so the views read as views)."""

from drf_spectacular.utils import OpenApiExample

DURATION = {"count": 412, "average_seconds": 190512.4, "median_seconds": 172800.0, "p90_seconds": 410000.0}
METRICS = {
    "journey_id": 3,
    "journey": "Onboarding Flow",
    "started": 520,
    "active": 61,
    "completed": 412,
    "failed": 12,
    "cancelled": 35,
    "converted": 250,
    "completion_rate": 0.7923,
    "completion_rate_of_ended": 0.8976,
    "conversion_rate": 0.4808,
    "duration": DURATION,
}
COMPLETION_RATE = {
    "journey_id": 3,
    "started": 520,
    "completed": 412,
    "failed": 12,
    "cancelled": 35,
    "active": 61,
    "completion_rate": 0.7923,
    "completion_rate_of_ended": 0.8976,
}
AVERAGE_DURATION = {
    "journey_id": 3,
    **DURATION,
    "distribution": [
        {"from_seconds": 158450.0, "to_seconds": 188426.0, "count": 201},
        {"from_seconds": 188426.0, "to_seconds": 224073.0, "count": 211},
    ],
}
STEP = {
    "step_key": "upload",
    "position": 1,
    "reached": 480,
    "runs": 495,
    "waiting": 20,
    "completed": 300,
    "skipped": 0,
    "failed": 4,
    "dropped": 163,
    "attempts": 499,
    "rolled_back": 2,
    "dead_lettered": 4,
    "retries": 15,
    "reach_rate": 0.9231,
    "drop_off_rate": 0.3396,
    "duration": {
        "count": 304,
        "average_seconds": 190000.0,
        "median_seconds": 181440.0,
        "p90_seconds": 520000.0,
    },
}
DROP_OFF = {
    "journey_id": 3,
    "drop_off_points": [
        {
            "step_key": "upload",
            "position": 1,
            "reached": 480,
            "dropped": 163,
            "drop_off_rate": 0.3396,
            "rank": 1,
        },
        {
            "step_key": "validate",
            "position": 3,
            "reached": 290,
            "dropped": 9,
            "drop_off_rate": 0.031,
            "rank": 2,
        },
    ],
}
FUNNEL = {"journey_id": 3, "started": 520, "steps": [STEP]}
PERFORMANCE = {
    "metrics": METRICS,
    "steps": [{"step_key": "upload", "reached": 480, "dropped": 163, **STEP["duration"]}],
    "bottlenecks": [
        {
            "step_key": "upload",
            "reasons": ["time", "drop_off"],
            "median_seconds": 181440.0,
            "typical_median_seconds": 3.4,
            "drop_off_rate": 0.3396,
            "average_drop_off_rate": 0.0927,
        }
    ],
    "goal_event": "first_project_created",
    "goal_conversions": 250,
    "goal_conversion_rate": 0.4808,
}
RECOMMENDATIONS = {
    "journey_id": 3,
    "recommendations": [
        {
            "code": "low_completion",
            "severity": "warning",
            "step_key": "upload",
            "message": "Only 79% of participants complete “Onboarding Flow” (target 80%); most leave at "
            "step `upload`.",
            "evidence": {"completion_rate": 0.7923, "started": 520},
        },
        {
            "code": "step_drop_off",
            "severity": "warning",
            "step_key": "upload",
            "message": "Step `upload` loses 34% of participants; median wait 2.1 days; consider a reminder "
            "before it times out.",
            "evidence": {"reached": 480, "dropped": 163, "drop_off_rate": 0.3396},
        },
    ],
}
VARIANTS = {
    "measure": "converted",
    "confidence": 0.95,
    "control": "A",
    "variants": [
        {
            "variant": "A",
            "participants": 1000,
            "conversions": 200,
            "conversion_rate": 0.2,
            "confidence_interval": [0.1764, 0.2259],
            "is_control": True,
            "z": None,
            "p_value": None,
            "significant": None,
        },
        {
            "variant": "B",
            "participants": 1000,
            "conversions": 250,
            "conversion_rate": 0.25,
            "confidence_interval": [0.2242, 0.2778],
            "is_control": False,
            "z": 2.6774,
            "p_value": 0.007419,
            "significant": True,
        },
    ],
}
TREND = {
    "journey_id": 3,
    "days": [
        {"day": "2026-01-19", "started": 74, "completed": 60, "converted": 33},
        {"day": "2026-01-20", "started": 81, "completed": 58, "converted": 40},
    ],
}
COMPARE = {"journeys": [METRICS, {**METRICS, "journey_id": 7, "journey": "Payment Failure Recovery"}]}
BENCHMARKS = {
    "journeys": [
        {
            "journey_id": 3,
            "journey": "Onboarding Flow",
            "started": 520,
            "completed": 412,
            "completion_rate": 0.7923,
            "completion_rate_percentile": 50.0,
            "average_duration_seconds": 190512.4,
            "duration_percentile": 100.0,
        }
    ],
    "median_completion_rate": 0.7923,
    "median_average_duration_seconds": 190512.4,
}
MILESTONE = {
    "journey_id": 3,
    "milestone": "upload",
    "reached": 480,
    "completed": 300,
    "in_progress": 20,
    "skipped": 0,
    "failed": 4,
    "dropped": 163,
    "retries": 15,
    "rollbacks": 2,
    "completion_rate": 0.625,
    "duration": STEP["duration"],
}
PROGRESS = {
    "user_journey_id": 812,
    "journey_id": 3,
    "state": "active",
    "current_step": "transform",
    "progress_percent": 50.0,
    "milestones_completed": 2,
    "milestones_total": 4,
    "started_at": "2026-01-19T09:12:00Z",
    "ended_at": None,
    "estimated_completion_at": "2026-01-23T15:00:00Z",
    "remaining_seconds": 280800.0,
    "remaining_steps": ["transform", "validate"],
    "steps_without_data": [],
}
STAGES = {
    "journeys": 14,
    "pipeline": {"sandbox": 4, "pilot": 3, "production": 5, "completed": 2},
    "time_to_production": {"count": 7, "average_seconds": 1728000.0, "median_seconds": 1555200.0},
    "promotions": 19,
    "promotions_refused": 6,
    "rollbacks": 2,
    "rollback_rate": 0.0952,
    "exit_criteria_checks": 75,
    "exit_criteria_pass_rate": 0.84,
    "time_in_stage": {"sandbox": {"count": 10, "average_seconds": 604800.0, "median_seconds": 518400.0}},
}
RULES = {
    "rules": [
        {
            "rule_id": "mentor_ready_001",
            "name": "Mentor ready",
            "flag": "mentor_ready",
            "active": True,
            "fires": 131,
            "fires_by_reason": {"rule": 120, "cleared": 11},
            "milestones": 118,
        }
    ],
    "flags_true": {"mentor_ready": 109, "followup_needed": 12},
}
RUN = {
    "step_run_id": 9912,
    "user_journey_id": 812,
    "journey_id": 3,
    "journey": "Onboarding Flow",
    "participant": "user-42",
    "step_key": "wait_upload",
    "status": "scheduled",
    "due_at": "2026-01-20T10:00:00Z",
    "waiting_for": "",
    "created_at": "2026-01-19T10:00:00Z",
}
OVERDUE = {
    "overdue_step_runs": [RUN],
    "stuck_user_journeys": [{**RUN, "waited_seconds": 950400.0, "norm_p90_seconds": 190000.0}],
}
BAD_RANGE = OpenApiExample(
    "Invalid range",
    value={"until": ["Must be on or after since."]},
    response_only=True,
    status_codes=["400"],
)
