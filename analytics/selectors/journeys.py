"""Journey metrics read from the rollups: counts, rates, durations, funnels, bottlenecks, A/B.

Every figure here sums rollup rows (one per version, variant and cohort day); nothing reads step
runs. Rates whose denominator is zero are ``None`` (no data), never 0 and never an error.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from statistics import median as median_of
from typing import Any

from django.db.models import Sum

from analytics import sketch
from analytics.models import JourneyDayStats, StepDayStats
from analytics.stats import two_proportion_z_test, wilson_interval
from journeys.models import Journey, JourneyVersion

JOURNEY_COUNTS = ("started", "active", "completed", "failed", "cancelled", "converted")
STEP_COUNTS = (
    "reached",
    "runs",
    "waiting",
    "completed",
    "skipped",
    "failed",
    "dropped",
    "attempts",
    "rolled_back",
    "dead_lettered",
)
BOTTLENECK_TIME_FACTOR = 2.0  # a step whose median is this many times the steps' typical median
BOTTLENECK_MIN_SECONDS = 60.0  # …and at least this long
BOTTLENECK_DROP_RATE = 0.10  # a step losing at least this share of those who reached it…
BOTTLENECK_DROP_FACTOR = 2.0  # …and this many times the journey's average step drop-off


@dataclass(frozen=True)
class Scope:
    """Which rollup rows a figure reads: one journey, optionally one version and a day range
    (cohort days: the day user journeys started, UTC, both ends included)."""

    journey: Journey
    version: JourneyVersion | None = None
    since: date | None = None
    until: date | None = None

    def filter(self, rows):
        rows = rows.filter(journey_id=self.journey.pk)
        if self.version is not None:
            rows = rows.filter(version_id=self.version.pk)
        if self.since is not None:
            rows = rows.filter(day__gte=self.since)
        if self.until is not None:
            rows = rows.filter(day__lte=self.until)
        return rows


def rate(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def durations_summary(count: int, total: float, buckets: dict[str, int]) -> dict[str, float | None]:
    return {
        "count": count,
        "average_seconds": round(total / count, 3) if count else None,
        "median_seconds": sketch.quantile(buckets, 0.5),
        "p90_seconds": sketch.quantile(buckets, 0.9),
    }


@dataclass
class JourneyTotals:
    counts: dict[str, int]
    duration_count: int = 0
    duration_sum: float = 0.0
    buckets: dict[str, int] = field(default_factory=dict)


def _journey_totals(rows) -> JourneyTotals:
    sums = rows.aggregate(
        **{name: Sum(name) for name in JOURNEY_COUNTS},
        duration_count=Sum("duration_count"),
        duration_sum=Sum("duration_sum"),
    )
    return JourneyTotals(
        counts={name: sums[name] or 0 for name in JOURNEY_COUNTS},
        duration_count=sums["duration_count"] or 0,
        duration_sum=sums["duration_sum"] or 0.0,
        buckets=sketch.merge(rows.values_list("duration_buckets", flat=True)),
    )


def journey_metrics(*, scope: Scope) -> dict[str, Any]:
    """Counts by state, completion and conversion rates and the duration of completed runs."""
    return _metrics(scope.journey, _journey_totals(scope.filter(JourneyDayStats.objects.all())))


def journeys_metrics(
    *, journeys: list[Journey], since: date | None = None, until: date | None = None
) -> list[dict]:
    """``journey_metrics`` of several journeys in two queries (grouped sums, then histograms)."""
    rows = JourneyDayStats.objects.filter(journey__in=journeys)
    if since is not None:
        rows = rows.filter(day__gte=since)
    if until is not None:
        rows = rows.filter(day__lte=until)
    sums = {
        row["journey_id"]: row
        for row in rows.values("journey_id").annotate(
            **{name: Sum(name) for name in JOURNEY_COUNTS},
            duration_count=Sum("duration_count"),
            duration_sum=Sum("duration_sum"),
        )
    }
    hists: dict[int, list] = defaultdict(list)
    for journey_id, buckets in rows.values_list("journey_id", "duration_buckets"):
        hists[journey_id].append(buckets)
    result = []
    for journey in journeys:
        row = sums.get(journey.pk, {})
        totals = JourneyTotals(
            counts={name: row.get(name) or 0 for name in JOURNEY_COUNTS},
            duration_count=row.get("duration_count") or 0,
            duration_sum=row.get("duration_sum") or 0.0,
            buckets=sketch.merge(hists[journey.pk]),
        )
        result.append(_metrics(journey, totals))
    return result


def _metrics(journey: Journey, totals: JourneyTotals) -> dict[str, Any]:
    counts = totals.counts
    ended = counts["completed"] + counts["failed"] + counts["cancelled"]
    return {
        "journey_id": journey.pk,
        "journey": journey.name,
        **counts,
        "completion_rate": rate(counts["completed"], counts["started"]),
        "completion_rate_of_ended": rate(counts["completed"], ended),
        "conversion_rate": rate(counts["converted"], counts["started"]),
        "duration": durations_summary(totals.duration_count, totals.duration_sum, totals.buckets),
    }


def journey_duration_distribution(*, scope: Scope) -> list[dict[str, float | int]]:
    rows = scope.filter(JourneyDayStats.objects.all())
    return sketch.distribution(sketch.merge(rows.values_list("duration_buckets", flat=True)))


def journey_trend(*, scope: Scope) -> list[dict[str, Any]]:
    """Starts, completions and conversions per cohort day, oldest first."""
    rows = (
        scope.filter(JourneyDayStats.objects.all())
        .values("day")
        .annotate(started=Sum("started"), completed=Sum("completed"), converted=Sum("converted"))
        .order_by("day")
    )
    return [{**row, "day": row["day"].isoformat()} for row in rows]


def _step_order(journey: Journey, version: JourneyVersion | None) -> list[str]:
    """Step keys in the order of the definition (the given version, else the newest ones first)."""
    versions = (
        [version] if version else list(JourneyVersion.objects.filter(journey=journey).order_by("-number"))
    )
    keys: list[str] = []
    for v in versions:
        steps = sorted((v.definition or {}).get("steps", []), key=lambda s: s.get("order", 0))
        keys.extend(s["key"] for s in steps if s.get("key") not in keys)
    if not versions:
        keys = list(journey.steps.order_by("order", "id").values_list("key", flat=True))
    return keys


def journey_funnel(*, scope: Scope) -> list[dict[str, Any]]:
    """Per step, in the definition's order: reached, completed, skipped, failed, dropped off,
    waiting now, the share of starters who reached it, its drop-off rate and its durations.

    Steps that appear only in the data (a step removed from the newest version) come last.
    """
    rows = scope.filter(StepDayStats.objects.all())
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STEP_COUNTS, 0))
    durations: dict[str, list] = defaultdict(lambda: [0, 0.0, []])
    for row in rows.values("step_key", *STEP_COUNTS, "duration_count", "duration_sum", "duration_buckets"):
        step = counts[row["step_key"]]
        for name in STEP_COUNTS:
            step[name] += row[name]
        d = durations[row["step_key"]]
        d[0] += row["duration_count"]
        d[1] += row["duration_sum"]
        d[2].append(row["duration_buckets"])
    started = _journey_totals(scope.filter(JourneyDayStats.objects.all())).counts["started"]
    order = _step_order(scope.journey, scope.version)
    keys = order + sorted(k for k in counts if k not in order)
    funnel = []
    for position, key in enumerate(keys):
        step = counts[key]
        n, total, hists = durations[key]
        funnel.append(
            {
                "step_key": key,
                "position": position,
                **step,
                "retries": max(step["runs"] - step["reached"], 0),
                "reach_rate": rate(step["reached"], started),
                "drop_off_rate": rate(step["dropped"], step["reached"]),
                "duration": durations_summary(n, total, sketch.merge(hists)),
            }
        )
    return funnel


def journey_drop_off_points(*, scope: Scope, funnel: list[dict] | None = None) -> list[dict[str, Any]]:
    """Steps where user journeys ended without completing, most first (ties: higher rate, then
    earlier step)."""
    funnel = funnel if funnel is not None else journey_funnel(scope=scope)
    points = [
        {
            "step_key": s["step_key"],
            "position": s["position"],
            "reached": s["reached"],
            "dropped": s["dropped"],
            "drop_off_rate": s["drop_off_rate"],
        }
        for s in funnel
        if s["dropped"]
    ]
    points.sort(key=lambda p: (-p["dropped"], -(p["drop_off_rate"] or 0), p["position"]))
    for rank, point in enumerate(points, start=1):
        point["rank"] = rank
    return points


def journey_bottlenecks(*, funnel: list[dict]) -> list[dict[str, Any]]:
    """Steps whose time or drop-off stands out from the journey's other steps.

    1. Typical time: the median of the steps' median durations (steps with durations only).
    2. A time bottleneck is a step whose median is ≥ ``BOTTLENECK_TIME_FACTOR`` times typical and
       ≥ ``BOTTLENECK_MIN_SECONDS``.
    3. A drop-off bottleneck is a step whose drop-off rate is ≥ ``BOTTLENECK_DROP_RATE`` and
       ≥ ``BOTTLENECK_DROP_FACTOR`` times the average drop-off rate of the steps reached.
    """
    medians = [s["duration"]["median_seconds"] for s in funnel if s["duration"]["median_seconds"] is not None]
    typical = median_of(medians) if medians else None
    rates = [s["drop_off_rate"] for s in funnel if s["drop_off_rate"] is not None]
    average_drop = sum(rates) / len(rates) if rates else 0.0
    found = []
    for step in funnel:
        reasons = []
        step_median = step["duration"]["median_seconds"]
        if (
            typical
            and step_median is not None
            and step_median >= BOTTLENECK_MIN_SECONDS
            and step_median >= BOTTLENECK_TIME_FACTOR * typical
        ):
            reasons.append("time")
        drop = step["drop_off_rate"]
        if (
            drop is not None
            and drop >= BOTTLENECK_DROP_RATE
            and drop >= BOTTLENECK_DROP_FACTOR * average_drop
        ):
            reasons.append("drop_off")
        if reasons:
            found.append(
                {
                    "step_key": step["step_key"],
                    "reasons": reasons,
                    "median_seconds": step_median,
                    "typical_median_seconds": typical,
                    "drop_off_rate": drop,
                    "average_drop_off_rate": round(average_drop, 4),
                }
            )
    return found


def journey_performance(*, scope: Scope) -> dict[str, Any]:
    """Time per step (median/p90), bottlenecks and goal conversions, with the headline metrics."""
    funnel = journey_funnel(scope=scope)
    metrics = journey_metrics(scope=scope)
    return {
        "metrics": metrics,
        "steps": [
            {"step_key": s["step_key"], "reached": s["reached"], "dropped": s["dropped"], **s["duration"]}
            for s in funnel
        ],
        "bottlenecks": journey_bottlenecks(funnel=funnel),
        "goal_event": scope.journey.goal_event,
        "goal_conversions": metrics["converted"],
        "goal_conversion_rate": metrics["conversion_rate"],
    }


def journey_ab_test(*, scope: Scope, confidence: float = 0.95) -> dict[str, Any]:
    """Per A/B variant: conversions (the goal event if the journey has one, else completion) with
    a Wilson interval, and each variant against the control by a two-proportion z-test.

    The control is the variant named ``control`` if any, else the first by name.
    """
    measure = "converted" if scope.journey.goal_event else "completed"
    rows = (
        scope.filter(JourneyDayStats.objects.exclude(variant=""))
        .values("variant")
        .annotate(started=Sum("started"), successes=Sum(measure))
        .order_by("variant")
    )
    variants = [(r["variant"], r["started"] or 0, r["successes"] or 0) for r in rows]
    names = [v[0] for v in variants]
    control = "control" if "control" in names else (names[0] if names else None)
    base = next((v for v in variants if v[0] == control), None)
    result = []
    for name, n, successes in variants:
        interval = wilson_interval(successes, n, confidence=confidence)
        test = two_proportion_z_test(base[2], base[1], successes, n) if base and name != control else None
        result.append(
            {
                "variant": name,
                "participants": n,
                "conversions": successes,
                "conversion_rate": rate(successes, n),
                "confidence_interval": [round(interval[0], 4), round(interval[1], 4)] if interval else None,
                "is_control": name == control,
                "z": round(test.z, 4) if test else None,
                "p_value": round(test.p_value, 6) if test else None,
                "significant": (test.p_value < 1 - confidence) if test else None,
            }
        )
    return {"measure": measure, "confidence": confidence, "control": control, "variants": result}
