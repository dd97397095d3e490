"""Pipelines and journeys for the stages tests.

``criteria_pipeline`` is the default pipeline of the seed (§8.2 criteria) without tasks, so
units of work complete at once and tests drive the gates directly; ``work_pipeline`` puts the
given task templates on a stage.
"""

import copy
from datetime import timedelta
from typing import Any

from django.utils import timezone

from stages.models import Agent, Pipeline, StagedJourney
from stages.services.measurements import approval_record, measurements_record
from stages.services.pipelines import DEFAULT_PIPELINE, pipeline_create
from stages.services.staged_journeys import staged_journey_start

PASSING_METRICS: dict[str, dict[str, float]] = {
    "sandbox": {"connectors_syncing": 1.0, "search_quality": 0.91},
    "pilot": {"search_quality": 0.9, "user_satisfaction": 4.4},
    "production": {"user_adoption": 0.8, "search_satisfaction": 4.7},
}
APPROVALS: dict[str, list[str]] = {
    "sandbox": ["security_scan_passed", "demo_approved"],
    "pilot": ["performance_sla_met"],
    "production": [],
}


def criteria_pipeline(
    *, slug: str = "seed", auto_promote: bool = False, is_default: bool = True, tasks: dict | None = None
) -> Pipeline:
    """The seed's pipeline, tasks removed (or replaced by ``tasks[stage][purpose]``)."""
    definition = copy.deepcopy(DEFAULT_PIPELINE)
    definition["slug"] = slug
    definition["name"] = f"Pipeline {slug}"
    for stage, spec in definition["stages"].items():
        spec["auto_promote"] = auto_promote
        spec["setup"] = (tasks or {}).get(stage, {}).get("setup", [])
        spec["rollback"] = (tasks or {}).get(stage, {}).get("rollback", [])
    return pipeline_create(definition=definition, is_default=is_default)


def agent(agent_id: str = "test-agent", *, url: str = "", **fields: Any) -> Agent:
    return Agent.objects.create(key=agent_id, name=agent_id, endpoint_url=url, **fields)


def task(
    key: str, *, intent: str = "agent_call", depends_on=(), agent_id: str = "test-agent", **extra
) -> dict:
    return {
        "key": key,
        "name": key.replace("_", " ").capitalize(),
        "intent": intent,
        "agent_id": agent_id if intent != "manual" else extra.pop("agent_id", ""),
        "depends_on": list(depends_on),
        "retry_backoff_seconds": extra.pop("retry_backoff_seconds", 0),
        **extra,
    }


def start(client_id: str = "client-1", **kwargs) -> StagedJourney:
    return staged_journey_start(client_id=client_id, actor="ops", **kwargs)


def backdate_stage(journey: StagedJourney, *, days: float) -> StagedJourney:
    """Pretend the journey entered its stage ``days`` ago (for time-window criteria)."""
    StagedJourney.objects.filter(pk=journey.pk).update(stage_entered_at=timezone.now() - timedelta(days=days))
    journey.refresh_from_db()
    return journey


def satisfy(journey: StagedJourney, *, skip: str = "") -> StagedJourney:
    """Record passing values for every criterion of the journey's current stage (but ``skip``)."""
    journey.refresh_from_db()
    stage = journey.stage
    if stage == "pilot" and journey.time_in_stage() < 7 * 86400:
        journey = backdate_stage(journey, days=8)  # "no critical bugs in 7 days" needs 7 days observed
    values = {k: v for k, v in PASSING_METRICS[stage].items() if k != skip}
    if values:
        journey, _ = measurements_record(journey=journey, values=values, actor="eval")
    for key in APPROVALS[stage]:
        if key != skip:
            journey, _ = approval_record(journey=journey, key=key, approved=True, actor="client-lead")
    return journey
