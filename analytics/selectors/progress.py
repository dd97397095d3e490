"""Progress of one user journey (with its estimated completion) and milestone analytics."""

from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone

from analytics.selectors.journeys import Scope, journey_funnel
from journeys.engine.definition import Definition, definition_for
from journeys.models import Journey, StepRun, UserJourney
from journeys.selectors.milestones import user_journey_milestones
from journeys.selectors.user_journeys import user_journey_progress


def expected_path(definition: Definition, start: str) -> list[str]:
    """The steps a run at ``start`` is expected to go through, ``start`` included.

    At each step the default way on is taken: the ``next_steps`` entry without a condition (a
    branch's default), else the first one; a split's first variant; otherwise the next step by
    order. The walk stops at an end or completion step, or where it would loop.
    """
    path: list[str] = []
    key: str | None = start
    while key and key in definition.steps and key not in path:
        path.append(key)
        step = definition[key]
        if step.kind == "end" or step.completion:
            break
        entries = [e for e in step.next_steps if isinstance(e, dict) and e.get("step")]
        if entries:
            default = next((e for e in entries if e.get("condition") is None), entries[0])
            key = default["step"]
        elif step.kind == "split":
            variants = [v for v in step.config.get("variants", []) if isinstance(v, dict) and v.get("step")]
            key = variants[0]["step"] if variants else None
        else:
            key = step.default_next
    return path


def user_journey_estimate(*, user_journey: UserJourney, now: datetime | None = None) -> dict[str, Any]:
    """When the run is expected to complete, from the journey's observed median step durations.

    1. Walk the expected path from the current step (``expected_path``).
    2. The current step still needs its median duration less the time already spent in it
       (never below zero); each later step needs its median duration.
    3. The estimate is now + the sum. Steps never observed count as instantaneous and are listed
       in ``steps_without_data``; a run that ended has no estimate (its ``ended_at`` stands).
    """
    now = now or timezone.now()
    if not user_journey.is_live:
        return {
            "estimated_completion_at": None,
            "remaining_seconds": 0.0,
            "remaining_steps": [],
            "steps_without_data": [],
        }
    definition = definition_for(user_journey.version)
    current = user_journey.current_step or definition.entry
    if not current:
        return {
            "estimated_completion_at": now,
            "remaining_seconds": 0.0,
            "remaining_steps": [],
            "steps_without_data": [],
        }
    medians = {
        s["step_key"]: s["duration"]["median_seconds"]
        for s in journey_funnel(scope=Scope(journey=user_journey.journey))
    }
    path = expected_path(definition, current)
    open_run = (
        StepRun.objects.filter(user_journey=user_journey, step_key=current)
        .order_by("-seq")
        .values("created_at")
        .first()
    )
    remaining = 0.0
    missing = []
    for key in path:
        median = medians.get(key)
        if median is None:
            if definition[key].kind not in {"branch", "split", "end"}:
                missing.append(key)
            continue
        if key == current and open_run:
            median = max(median - (now - open_run["created_at"]).total_seconds(), 0.0)
        remaining += median
    return {
        "estimated_completion_at": now + timedelta(seconds=remaining),
        "remaining_seconds": round(remaining, 3),
        "remaining_steps": path,
        "steps_without_data": missing,
    }


def user_journey_progress_report(*, user_journey: UserJourney, now: datetime | None = None) -> dict[str, Any]:
    milestones = user_journey_milestones(user_journey=user_journey)
    progress = user_journey_progress(user_journey=user_journey, milestones=milestones)
    estimate = user_journey_estimate(user_journey=user_journey, now=now)
    return {
        "user_journey_id": user_journey.pk,
        "journey_id": user_journey.journey_id,
        "state": user_journey.state,
        "current_step": user_journey.current_step or None,
        "progress_percent": progress.percent,
        "milestones_completed": progress.milestones_completed,
        "milestones_total": progress.milestones_total,
        "started_at": user_journey.started_at,
        "ended_at": user_journey.ended_at,
        **estimate,
    }


def milestone_analytics(
    *, journey: Journey, key: str, since: date | None = None, until: date | None = None, version=None
) -> dict[str, Any] | None:
    """Seed 000's ``get_milestone_analytics``: reach and completion of one step of a journey,
    its retries, rollbacks, skips, failures and durations; ``None`` for a key it never had."""
    funnel = journey_funnel(scope=Scope(journey=journey, version=version, since=since, until=until))
    step = next((s for s in funnel if s["step_key"] == key), None)
    if step is None:
        return None
    return {
        "journey_id": journey.pk,
        "milestone": key,
        "reached": step["reached"],
        "completed": step["completed"],
        "in_progress": step["waiting"],
        "skipped": step["skipped"],
        "failed": step["failed"],
        "dropped": step["dropped"],
        "retries": step["retries"],
        "rollbacks": step["rolled_back"],
        "completion_rate": step["completed"] / step["reached"] if step["reached"] else None,
        "duration": step["duration"],
    }
