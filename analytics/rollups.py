"""Maintaining the rollups: find the cohort days whose runs changed, rebuild them from raw rows.

Rebuilding a (journey, day) replaces its rows in one transaction, so the refresh is idempotent
and overlapping windows are harmless; that is what lets it look back a safety margin past its
previous start (changes committed late are still seen) without ever counting anything twice.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from analytics import sketch
from analytics.models import JourneyDayStats, RollupState, StepDayStats
from journeys.models import StepRun, UserJourney

STATE_NAME = "journeys"
LOOKBACK_MARGIN = timedelta(minutes=5)  # covers transactions committed after the previous refresh began
LIVE = {UserJourney.State.ACTIVE, UserJourney.State.PAUSED}
ENDED_NOT_COMPLETED = {UserJourney.State.FAILED, UserJourney.State.CANCELLED}
OPEN_RUN = {StepRun.Status.PENDING, StepRun.Status.SCHEDULED, StepRun.Status.RUNNING}


@dataclass(frozen=True)
class RefreshResult:
    days: int
    full: bool


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def dirty_days(*, since: datetime | None) -> set[tuple[int, date]]:
    """The (journey id, cohort day) pairs with a change since ``since`` (all of them when None)."""
    day = TruncDate("started_at", tzinfo=UTC)
    journeys = UserJourney.objects.all()
    if since is not None:
        journeys = journeys.filter(
            Q(started_at__gte=since) | Q(ended_at__gte=since) | Q(updated_at__gte=since)
        )
    pairs = set(journeys.annotate(day=day).values_list("journey_id", "day").distinct())
    if since is not None:
        runs = StepRun.objects.filter(
            Q(created_at__gte=since) | Q(executed_at__gte=since) | Q(finished_at__gte=since)
        ).annotate(day=TruncDate("user_journey__started_at", tzinfo=UTC))
        pairs |= set(runs.values_list("user_journey__journey_id", "day").distinct())
    return pairs


def journey_day_rebuild(*, journey_id: int, day: date) -> None:
    """Recompute the rows of one journey's cohort day from the user journeys and step runs.

    1. Load the user journeys of the journey that started that day (UTC) and their step runs.
    2. Per (version, variant): counts by state, conversions, and completed runs' durations.
    3. Per (version, step): distinct user journeys that reached, completed, skipped or failed
       the step; live ones at it now (waiting) and ended ones that stopped there (dropped);
       runs, attempts, rollbacks, dead letters, and finished runs' durations.
    4. Replace the day's rows in one transaction.
    """
    start, end = _day_bounds(day)
    journeys = list(
        UserJourney.objects.filter(
            journey_id=journey_id, started_at__gte=start, started_at__lt=end
        ).values_list(
            "id", "version_id", "variant", "state", "converted", "started_at", "ended_at", "current_step"
        )
    )
    by_id = {row[0]: row for row in journeys}
    runs = StepRun.objects.filter(user_journey_id__in=list(by_id)) if by_id else StepRun.objects.none()

    journey_rows: dict[tuple[int, str], dict] = defaultdict(lambda: defaultdict(int))
    journey_durations: dict[tuple[int, str], list[float]] = defaultdict(list)
    for _id, version_id, variant, state, converted, started_at, ended_at, _step in journeys:
        row = journey_rows[(version_id, variant)]
        row["started"] += 1
        row["active" if state in LIVE else state] += 1
        row["converted"] += bool(converted)
        if state == UserJourney.State.COMPLETED and ended_at:
            journey_durations[(version_id, variant)].append((ended_at - started_at).total_seconds())

    step_sets: dict[tuple[int, str], dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    step_counts: dict[tuple[int, str], dict] = defaultdict(lambda: defaultdict(int))
    step_durations: dict[tuple[int, str], list[float]] = defaultdict(list)
    fields = ("user_journey_id", "step_key", "status", "entered", "attempts", "rolled_back")
    for uj_id, key, status, entered, attempts, rolled_back, dead, created, finished in runs.values_list(
        *fields, "dead_lettered_at", "created_at", "finished_at"
    ).iterator(chunk_size=5000):
        version_id = by_id[uj_id][1]
        sets, counts = step_sets[(version_id, key)], step_counts[(version_id, key)]
        if entered or status not in OPEN_RUN:
            sets["reached"].add(uj_id)
            counts["runs"] += 1
        counts["attempts"] += attempts
        counts["rolled_back"] += bool(rolled_back)
        counts["dead_lettered"] += dead is not None
        if status == StepRun.Status.SUCCEEDED:
            sets["completed"].add(uj_id)
        elif status == StepRun.Status.SKIPPED:
            sets["skipped"].add(uj_id)
        elif status == StepRun.Status.FAILED:
            sets["failed"].add(uj_id)
        if finished and status in (StepRun.Status.SUCCEEDED, StepRun.Status.SKIPPED, StepRun.Status.FAILED):
            step_durations[(version_id, key)].append((finished - created).total_seconds())
    for _id, version_id, _variant, state, _conv, _s, _e, current_step in journeys:
        if not current_step:
            continue
        if state in LIVE:
            step_sets[(version_id, current_step)]["waiting"].add(_id)
        elif state in ENDED_NOT_COMPLETED:
            step_sets[(version_id, current_step)]["dropped"].add(_id)

    journey_objs = []
    for (version_id, variant), row in journey_rows.items():
        durations = journey_durations[(version_id, variant)]
        journey_objs.append(
            JourneyDayStats(
                journey_id=journey_id,
                version_id=version_id,
                variant=variant,
                day=day,
                **{k: row[k] for k in ("started", "active", "completed", "failed", "cancelled", "converted")},
                duration_count=len(durations),
                duration_sum=sum(durations),
                duration_buckets=sketch.histogram(durations),
            )
        )
    step_objs = []
    for version_id, key in set(step_sets) | set(step_counts):
        sets, counts = step_sets[(version_id, key)], step_counts[(version_id, key)]
        durations = step_durations[(version_id, key)]
        step_objs.append(
            StepDayStats(
                journey_id=journey_id,
                version_id=version_id,
                step_key=key,
                day=day,
                reached=len(sets["reached"]),
                waiting=len(sets["waiting"]),
                completed=len(sets["completed"]),
                skipped=len(sets["skipped"] - sets["completed"]),
                failed=len(sets["failed"] - sets["completed"] - sets["skipped"]),
                dropped=len(sets["dropped"]),
                **{k: counts[k] for k in ("runs", "attempts", "rolled_back", "dead_lettered")},
                duration_count=len(durations),
                duration_sum=sum(durations),
                duration_buckets=sketch.histogram(durations),
            )
        )
    with transaction.atomic():
        JourneyDayStats.objects.filter(journey_id=journey_id, day=day).delete()
        StepDayStats.objects.filter(journey_id=journey_id, day=day).delete()
        JourneyDayStats.objects.bulk_create(journey_objs)
        StepDayStats.objects.bulk_create(step_objs)


def rollups_refresh(*, full: bool = False) -> RefreshResult:
    """Rebuild the cohort days changed since the previous refresh (every day when ``full``).

    The first refresh is a full one. Only one refresh runs at a time: the state row is locked
    for the duration (a second beat tick meanwhile waits, then finds little left to do).
    """
    with transaction.atomic():
        state, _ = RollupState.objects.select_for_update().get_or_create(name=STATE_NAME)
        began = timezone.now()
        full = full or state.refreshed_from is None
        since = None if full else state.refreshed_from - LOOKBACK_MARGIN
        pairs = dirty_days(since=since)
        if full:
            # Days whose journeys are gone (deleted) must not keep their rows.
            JourneyDayStats.objects.all().delete()
            StepDayStats.objects.all().delete()
        for journey_id, day in sorted(pairs):
            journey_day_rebuild(journey_id=journey_id, day=day)
        state.refreshed_from = began
        state.refreshed_at = timezone.now()
        state.days_refreshed = len(pairs)
        state.save()
    return RefreshResult(days=len(pairs), full=full)
