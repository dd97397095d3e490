"""Journeys side by side, benchmarks across all journeys, and recommendations for one journey."""

from datetime import date
from typing import Any

from django.db.models import Sum

from analytics.models import JourneyDayStats
from analytics.selectors.journeys import (
    Scope,
    journey_bottlenecks,
    journey_drop_off_points,
    journey_funnel,
    journey_metrics,
    journeys_metrics,
    rate,
)
from journeys.models import Journey

COMPLETION_TARGET = 0.80  # below this share of starters completing, the journey is flagged
DROP_OFF_WARNING = 0.20  # a step losing at least this share of those who reached it
FAILURE_WARNING = 0.05  # a step failing for at least this share of those who reached it
WAITING_KINDS = {"wait", "wait_for_event", "manual"}


def journeys_compare(
    *, journeys: list[Journey], since: date | None = None, until: date | None = None
) -> list[dict]:
    """The headline metrics of each journey, in the order asked."""
    return journeys_metrics(journeys=journeys, since=since, until=until)


def busiest_journey_ids(*, since: date | None = None, until: date | None = None, limit: int) -> list[int]:
    """The journeys with the most starts in the range, most first."""
    rows = JourneyDayStats.objects.all()
    if since:
        rows = rows.filter(day__gte=since)
    if until:
        rows = rows.filter(day__lte=until)
    ranked = rows.values("journey_id").annotate(n=Sum("started")).order_by("-n", "journey_id")[:limit]
    return [row["journey_id"] for row in ranked]


def _percentile_rank(value: float, values: list[float]) -> float:
    """The share of ``values`` at or below ``value``, in percent (the journey's own included)."""
    return round(100 * sum(v <= value for v in values) / len(values), 1)


def journeys_benchmarks(*, since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """Every journey with starts in the range: completion rate and average duration, each with
    its percentile among the journeys (100 = the highest completion rate, or the longest)."""
    rows = JourneyDayStats.objects.all()
    if since:
        rows = rows.filter(day__gte=since)
    if until:
        rows = rows.filter(day__lte=until)
    totals = list(
        rows.values("journey_id", "journey__name")
        .annotate(
            started=Sum("started"),
            completed=Sum("completed"),
            duration_count=Sum("duration_count"),
            duration_sum=Sum("duration_sum"),
        )
        .filter(started__gt=0)
        .order_by("journey__name")
    )
    for row in totals:
        row["completion_rate"] = rate(row["completed"], row["started"])
        row["average_duration_seconds"] = (
            round(row["duration_sum"] / row["duration_count"], 3) if row["duration_count"] else None
        )
    rates = [r["completion_rate"] for r in totals if r["completion_rate"] is not None]
    durations = [r["average_duration_seconds"] for r in totals if r["average_duration_seconds"] is not None]
    journeys = []
    for row in totals:
        c, d = row["completion_rate"], row["average_duration_seconds"]
        journeys.append(
            {
                "journey_id": row["journey_id"],
                "journey": row["journey__name"],
                "started": row["started"],
                "completed": row["completed"],
                "completion_rate": c,
                "completion_rate_percentile": _percentile_rank(c, rates) if c is not None else None,
                "average_duration_seconds": d,
                "duration_percentile": _percentile_rank(d, durations) if d is not None else None,
            }
        )
    return {
        "journeys": journeys,
        "median_completion_rate": _median(rates),
        "median_average_duration_seconds": _median(durations),
    }


def _median(values: list[float]) -> float | None:
    from statistics import median

    return round(median(values), 4) if values else None


def _days(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} days"
    if seconds >= 3_600:
        return f"{seconds / 3_600:.1f} hours"
    if seconds >= 60:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"


def journey_recommendations(*, scope: Scope) -> list[dict[str, Any]]:
    """Rule-based advice, each with the figures that triggered it (most severe first).

    1. No starts in the range: check the trigger.
    2. Completion below ``COMPLETION_TARGET``: name the biggest drop-off point.
    3. Each step losing ≥ ``DROP_OFF_WARNING`` of those who reached it: for a waiting step
       suggest a reminder, for another step a look at its content or condition.
    4. Each step failing for ≥ ``FAILURE_WARNING``: check its configuration and dead letters.
    5. Each time bottleneck not already named: shorten the wait or add a reminder.
    """
    metrics = journey_metrics(scope=scope)
    name = scope.journey.name
    if not metrics["started"]:
        return [
            {
                "code": "no_starts",
                "severity": "info",
                "step_key": None,
                "message": f"Nobody started “{name}” in this range; check its trigger "
                f"({scope.journey.trigger_type or 'manual enrolment'}) and that it is published.",
                "evidence": {"started": 0},
            }
        ]
    funnel = journey_funnel(scope=scope)
    kinds = _step_kinds(scope)
    advice = _completion_advice(metrics, name, journey_drop_off_points(scope=scope, funnel=funnel))
    named = set()
    for step in funnel:
        drop_off = _drop_off_advice(step, kinds)
        if drop_off:
            advice.append(drop_off)
            named.add(step["step_key"])
        advice += _failure_advice(step)
    for bottleneck in journey_bottlenecks(funnel=funnel):
        if "time" in bottleneck["reasons"] and bottleneck["step_key"] not in named:
            advice.append(
                {
                    "code": "slow_step",
                    "severity": "info",
                    "step_key": bottleneck["step_key"],
                    "message": f"Step `{bottleneck['step_key']}` takes {_days(bottleneck['median_seconds'])} "
                    f"(median), against {_days(bottleneck['typical_median_seconds'])} for a typical step; "
                    "consider a shorter delay or a reminder.",
                    "evidence": bottleneck,
                }
            )
    order = {"warning": 0, "info": 1}
    advice.sort(key=lambda a: order[a["severity"]])
    return advice


def _completion_advice(
    metrics: dict[str, Any], name: str, drop_points: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    completion = metrics["completion_rate"] or 0.0
    ended = metrics["completed"] + metrics["failed"] + metrics["cancelled"]
    if not ended or completion >= COMPLETION_TARGET or metrics["active"] >= metrics["started"]:
        return []
    worst = drop_points[0]["step_key"] if drop_points else None
    message = f"Only {completion:.0%} of participants complete “{name}” (target {COMPLETION_TARGET:.0%})"
    message += f"; most leave at step `{worst}`." if worst else "."
    return [
        {
            "code": "low_completion",
            "severity": "warning",
            "step_key": worst,
            "message": message,
            "evidence": {"completion_rate": metrics["completion_rate"], "started": metrics["started"]},
        }
    ]


def _drop_off_advice(step: dict[str, Any], kinds: dict[str, str]) -> dict[str, Any] | None:
    drop = step["drop_off_rate"]
    if drop is None or drop < DROP_OFF_WARNING:
        return None
    wait = step["duration"]["median_seconds"]
    if kinds.get(step["step_key"]) in WAITING_KINDS:
        hint = "consider a reminder before it times out"
    else:
        hint = "review its content, condition and timing"
    return {
        "code": "step_drop_off",
        "severity": "warning",
        "step_key": step["step_key"],
        "message": f"Step `{step['step_key']}` loses {drop:.0%} of participants; "
        f"median wait {_days(wait)}; {hint}.",
        "evidence": {"reached": step["reached"], "dropped": step["dropped"], "drop_off_rate": drop},
    }


def _failure_advice(step: dict[str, Any]) -> list[dict[str, Any]]:
    failures = rate(step["failed"], step["reached"])
    if failures is None or failures < FAILURE_WARNING:
        return []
    return [
        {
            "code": "step_failures",
            "severity": "warning",
            "step_key": step["step_key"],
            "message": f"Step `{step['step_key']}` fails for {failures:.0%} of participants "
            f"({step['dead_lettered']} dead letters); check its configuration and what it calls.",
            "evidence": {"failed": step["failed"], "reached": step["reached"]},
        }
    ]


def _step_kinds(scope: Scope) -> dict[str, str]:
    version = scope.version or scope.journey.live_version
    if version is None:
        return dict(scope.journey.steps.values_list("key", "kind"))
    return {s["key"]: s.get("kind", "") for s in (version.definition or {}).get("steps", [])}
