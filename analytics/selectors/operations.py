"""Stages, rules and overdue work: figures read from those apps' own (small or indexed) tables."""

from collections import defaultdict
from datetime import date, datetime, timedelta
from statistics import mean, median
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from analytics import sketch
from analytics.models import StepDayStats
from journeys.models import Event, StepRun, UserJourney
from rules.models import Flag, FlagHistory, Milestone, Rule
from stages.models import StagedJourney, StageTransition

STUCK_FACTOR = 3.0  # a run is stuck when it has waited this many times its step's p90
STUCK_MIN_SECONDS = 3_600.0  # …and at least an hour
OVERDUE_GRACE_SECONDS = 60.0  # a due run not taken within this is late
OVERDUE_LIMIT = 100  # rows per list
COUNT_CAP = 1_000  # the home page counts backlogs up to this (a LIMIT keeps it an index scan)
STUCK_CANDIDATES = 2_000  # longest-waiting open runs compared with their step's norm


def _seconds(values: list[float]) -> dict[str, float | None]:
    return {
        "count": len(values),
        "average_seconds": round(mean(values), 3) if values else None,
        "median_seconds": round(median(values), 3) if values else None,
    }


def stages_analytics(*, since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """Time to production, rollback rate, exit-criteria pass rate, time in each stage, and how
    many staged journeys are in each stage now (of those started in the range)."""
    journeys = StagedJourney.objects.all()
    if since:
        journeys = journeys.filter(started_at__date__gte=since)
    if until:
        journeys = journeys.filter(started_at__date__lte=until)
    pipeline = dict(journeys.values_list("stage").annotate(n=Count("id")))
    transitions = StageTransition.objects.filter(journey__in=journeys).order_by(
        "journey_id", "transitioned_at", "id"
    )
    started_at = dict(journeys.values_list("id", "started_at"))
    to_production: list[float] = []
    in_stage: dict[str, list[float]] = defaultdict(list)
    kinds: dict[str, int] = defaultdict(int)
    checks = passed = 0
    previous: dict[int, tuple[str, datetime]] = {}
    seen_production: set[int] = set()
    for t in transitions.values(
        "journey_id", "kind", "from_stage", "to_stage", "transitioned_at", "exit_criteria_results"
    ):
        kinds[t["kind"]] += 1
        for result in t["exit_criteria_results"] or []:
            if isinstance(result, dict) and "passed" in result:
                checks += 1
                passed += bool(result["passed"])
        before = previous.get(t["journey_id"])
        if before and t["to_stage"] != before[0] and t["kind"] != StageTransition.Kind.PROMOTION_REFUSED:
            in_stage[before[0]].append((t["transitioned_at"] - before[1]).total_seconds())
        if t["kind"] != StageTransition.Kind.PROMOTION_REFUSED:
            previous[t["journey_id"]] = (t["to_stage"], t["transitioned_at"])
        if t["to_stage"] == "production" and t["journey_id"] not in seen_production:
            seen_production.add(t["journey_id"])
            to_production.append((t["transitioned_at"] - started_at[t["journey_id"]]).total_seconds())
    promotions = kinds[StageTransition.Kind.PROMOTED]
    rollbacks = kinds[StageTransition.Kind.ROLLBACK_INITIATED]
    return {
        "journeys": sum(pipeline.values()),
        "pipeline": pipeline,
        "time_to_production": _seconds(to_production),
        "promotions": promotions,
        "promotions_refused": kinds[StageTransition.Kind.PROMOTION_REFUSED],
        "rollbacks": rollbacks,
        "rollback_rate": round(rollbacks / (promotions + rollbacks), 4) if promotions + rollbacks else None,
        "exit_criteria_checks": checks,
        "exit_criteria_pass_rate": round(passed / checks, 4) if checks else None,
        "time_in_stage": {stage: _seconds(values) for stage, values in sorted(in_stage.items())},
    }


def rules_analytics(*, since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
    """Per rule: the flag changes it made (fires), the milestones it recorded; per flag: how many
    participants have it true now. Evaluations are counted in process (``/metrics``)."""
    history = FlagHistory.objects.all()
    milestones = Milestone.objects.all()
    if since:
        history = history.filter(changed_at__gte=since)
        milestones = milestones.filter(reached_at__gte=since)
    if until:
        history = history.filter(changed_at__lt=until)
        milestones = milestones.filter(reached_at__lt=until)
    fires = defaultdict(dict)
    for rule_id, reason, n in history.values_list("set_by_rule", "reason").annotate(n=Count("id")):
        fires[rule_id][reason] = n
    reached = dict(milestones.values_list("triggered_by_rule").annotate(n=Count("id")))
    rules = []
    for rule in Rule.objects.order_by("-priority", "rule_id").values("rule_id", "name", "flag", "active"):
        by_reason = fires.get(rule["rule_id"], {})
        rules.append(
            {
                **rule,
                "fires": sum(by_reason.values()),
                "fires_by_reason": by_reason,
                "milestones": reached.get(rule["rule_id"], 0),
            }
        )
    now = timezone.now()
    live = Flag.objects.filter(value=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    flags = dict(live.values_list("flag").annotate(n=Count("id")).order_by("flag"))
    return {"rules": rules, "flags_true": flags}


def _step_norms(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], float]:
    """The p90 duration of each of these (journey, step) pairs over all days, from the rollups."""
    hists: dict[tuple[int, str], list] = defaultdict(list)
    rows = StepDayStats.objects.exclude(duration_count=0).filter(
        journey_id__in={j for j, _ in pairs}, step_key__in={k for _, k in pairs}
    )
    for journey_id, key, buckets in rows.values_list("journey_id", "step_key", "duration_buckets"):
        hists[(journey_id, key)].append(buckets)
    return {k: sketch.quantile(sketch.merge(v), 0.9) or 0.0 for k, v in hists.items()}


def overdue_step_runs(*, now: datetime | None = None, limit: int = OVERDUE_LIMIT) -> list[StepRun]:
    """Runs of active user journeys past their ``due_at`` (plus a grace), most late first."""
    now = now or timezone.now()
    return list(
        StepRun.objects.filter(
            status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED],
            due_at__lt=now - timedelta(seconds=OVERDUE_GRACE_SECONDS),
            user_journey__state=UserJourney.State.ACTIVE,
        )
        .select_related("user_journey__journey", "participant")
        .order_by("due_at")[:limit]
    )


def stuck_user_journeys(*, now: datetime | None = None, limit: int = OVERDUE_LIMIT) -> list[dict[str, Any]]:
    """Live runs waiting at a step far longer than the step's norm (``STUCK_FACTOR`` times its
    p90, at least ``STUCK_MIN_SECONDS``), longest waiting first.

    Runs already past their due time are the overdue list's, not this one's: a candidate waits
    without a timer or for a timer still to come. One query takes the ``STUCK_CANDIDATES``
    longest-waiting of them (through the index of open runs); each is compared with its step's
    norm from the rollups.
    """
    now = now or timezone.now()
    candidates = list(
        StepRun.objects.filter(
            Q(due_at__isnull=True) | Q(due_at__gte=now),
            status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED],
            created_at__lt=now - timedelta(seconds=STUCK_MIN_SECONDS),
            user_journey__state=UserJourney.State.ACTIVE,
        )
        .select_related("user_journey__journey", "participant")
        .order_by("created_at")[:STUCK_CANDIDATES]
    )
    norms = (
        _step_norms({(run.user_journey.journey_id, run.step_key) for run in candidates}) if candidates else {}
    )
    found = []
    for run in candidates:
        p90 = norms.get((run.user_journey.journey_id, run.step_key))
        if p90 is None:
            continue  # a step never finished yet has no norm
        waited = (now - run.created_at).total_seconds()
        if waited >= max(p90 * STUCK_FACTOR, STUCK_MIN_SECONDS):
            found.append({"step_run": run, "waited_seconds": round(waited, 1), "norm_p90_seconds": p90})
            if len(found) >= limit:
                break
    return found


def _capped_count(queryset) -> str:
    """A count that stops at ``COUNT_CAP`` ("1000+"): a home page must not count a backlog."""
    n = queryset[: COUNT_CAP + 1].count()
    return f"{COUNT_CAP}+" if n > COUNT_CAP else str(n)


def home_summary(*, now: datetime | None = None) -> dict[str, Any]:
    """The admin home page: live journeys with 7-day starts and completions, overdue timers,
    dead letters, events waiting, staged journeys per stage."""
    from django.db.models import Sum

    from analytics.models import JourneyDayStats
    from journeys.models import Journey

    now = now or timezone.now()
    week = (now - timedelta(days=6)).date()
    recent = {
        row["journey_id"]: row
        for row in JourneyDayStats.objects.filter(day__gte=week)
        .values("journey_id")
        .annotate(started=Sum("started"), completed=Sum("completed"))
    }
    live = [
        {
            "journey": j,
            "started_7d": recent.get(j.pk, {}).get("started") or 0,
            "completed_7d": recent.get(j.pk, {}).get("completed") or 0,
        }
        for j in Journey.objects.filter(state=Journey.State.PUBLISHED).order_by("-priority", "name")
    ]
    return {
        "live_journeys": live,
        "overdue": _capped_count(
            StepRun.objects.filter(
                status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED],
                due_at__lt=now - timedelta(seconds=OVERDUE_GRACE_SECONDS),
                user_journey__state=UserJourney.State.ACTIVE,
            )
        ),
        "dead_letters": _capped_count(
            StepRun.objects.filter(dead_lettered_at__isnull=False, status=StepRun.Status.FAILED)
        ),
        "events_waiting": _capped_count(Event.objects.filter(status__in=["pending", "processing"])),
        "events_failed": _capped_count(Event.objects.filter(status="failed")),
        "stages": dict(StagedJourney.objects.values_list("stage").annotate(n=Count("id")).order_by("stage")),
    }
