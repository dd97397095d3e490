"""Maintaining the rollups: find the cohort days whose runs changed, rebuild them from raw rows.

Rebuilding a (journey, day) replaces its rows in one transaction, so the refresh is idempotent
and overlapping windows are harmless; that is what lets it look back a safety margin past its
previous start (changes committed late are still seen) without ever counting anything twice.
"""

from collections import defaultdict
from dataclasses import dataclass, field
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
FINISHED = {StepRun.Status.SUCCEEDED, StepRun.Status.SKIPPED, StepRun.Status.FAILED}
RUN_OUTCOMES = {
    StepRun.Status.SUCCEEDED: "completed",
    StepRun.Status.SKIPPED: "skipped",
    StepRun.Status.FAILED: "failed",
}


@dataclass(frozen=True)
class RefreshResult:
    days: int
    full: bool
    skipped: bool = False


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


DAYS_PER_CHUNK = 14  # the widest span of cohort days rebuilt in one pass (bounded memory)
CHUNK_GAP_DAYS = 2  # days this far apart are rebuilt apart (not loading the days between)


def journey_days_rebuild(*, journey_id: int, days: set[date]) -> None:
    """Recompute one journey's rows for the given cohort days from its user journeys and runs,
    a span of nearby days at a time (a handful of queries per span, not per day)."""
    chunk: list[date] = []
    for day in sorted(days):
        if chunk and ((day - chunk[-1]).days > CHUNK_GAP_DAYS or (day - chunk[0]).days >= DAYS_PER_CHUNK):
            _rebuild_chunk(journey_id=journey_id, days=set(chunk))
            chunk = []
        chunk.append(day)
    if chunk:
        _rebuild_chunk(journey_id=journey_id, days=set(chunk))


def _rebuild_chunk(*, journey_id: int, days: set[date]) -> None:
    """Recompute the rows of some of a journey's cohort days.

    1. Load the journey's user journeys that started on those days (UTC), then their step runs
       (one query each, over the span of the days; other days in the span are dropped).
    2. Per (version, variant, day): counts by state, conversions, completed runs' durations.
    3. Per (version, step, day): distinct user journeys that reached, completed, skipped or
       failed the step; live ones at it now (waiting) and ended ones that stopped there
       (dropped); runs, attempts, rollbacks, dead letters, and finished runs' durations.
    4. Replace those days' rows in one transaction.
    """
    start, end = _day_bounds(min(days))[0], _day_bounds(max(days))[1]
    tally = _Tally()
    for row in UserJourney.objects.filter(
        journey_id=journey_id, started_at__gte=start, started_at__lt=end
    ).values_list(
        "id", "version_id", "variant", "state", "converted", "started_at", "ended_at", "current_step"
    ):
        day = row[5].astimezone(UTC).date()
        if day in days:
            tally.add_user_journey(*row, day)
    runs = StepRun.objects.filter(
        user_journey__journey_id=journey_id,
        user_journey__started_at__gte=start,
        user_journey__started_at__lt=end,
    )
    fields = ("user_journey_id", "step_key", "status", "entered", "attempts", "rolled_back")
    for values in runs.values_list(*fields, "dead_lettered_at", "created_at", "finished_at").iterator(
        chunk_size=20_000
    ):
        tally.add_step_run(*values)
    with transaction.atomic():
        JourneyDayStats.objects.filter(journey_id=journey_id, day__in=days).delete()
        StepDayStats.objects.filter(journey_id=journey_id, day__in=days).delete()
        JourneyDayStats.objects.bulk_create(tally.journey_rows(journey_id), batch_size=1000)
        StepDayStats.objects.bulk_create(tally.step_rows(journey_id), batch_size=1000)


def _counter() -> defaultdict[str, int]:
    return defaultdict(int)


def _id_sets() -> defaultdict[str, set[int]]:
    return defaultdict(set)


@dataclass
class _Tally:
    """What one chunk of cohort days adds up to, per (version, variant, day) and (version, step, day)."""

    by_id: dict[int, tuple] = field(default_factory=dict)  # user journey → (version, day)
    journeys: defaultdict[tuple, defaultdict[str, int]] = field(default_factory=lambda: defaultdict(_counter))
    journey_durations: defaultdict[tuple, list[float]] = field(default_factory=lambda: defaultdict(list))
    step_sets: defaultdict[tuple, defaultdict[str, set[int]]] = field(
        default_factory=lambda: defaultdict(_id_sets)
    )
    step_counts: defaultdict[tuple, defaultdict[str, int]] = field(
        default_factory=lambda: defaultdict(_counter)
    )
    step_durations: defaultdict[tuple, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add_user_journey(
        self,
        uj_id: int,
        version_id: int,
        variant: str,
        state: str,
        converted: bool,
        started_at: datetime,
        ended_at: datetime | None,
        current_step: str,
        day: date,
    ) -> None:
        self.by_id[uj_id] = (version_id, day)
        row = self.journeys[(version_id, variant, day)]
        row["started"] += 1
        row["active" if state in LIVE else state] += 1
        row["converted"] += bool(converted)
        if state == UserJourney.State.COMPLETED and ended_at:
            self.journey_durations[(version_id, variant, day)].append((ended_at - started_at).total_seconds())
        if current_step and state in LIVE:
            self.step_sets[(version_id, current_step, day)]["waiting"].add(uj_id)
        elif current_step and state in ENDED_NOT_COMPLETED:
            self.step_sets[(version_id, current_step, day)]["dropped"].add(uj_id)

    def add_step_run(
        self,
        uj_id: int,
        key: str,
        status: str,
        entered: bool,
        attempts: int,
        rolled_back: bool,
        dead: datetime | None,
        created: datetime,
        finished: datetime | None,
    ) -> None:
        uj = self.by_id.get(uj_id)
        if uj is None:  # a run of a user journey of another day in the span
            return
        group = (uj[0], key, uj[1])
        sets, counts = self.step_sets[group], self.step_counts[group]
        if entered or status not in OPEN_RUN:
            sets["reached"].add(uj_id)
            counts["runs"] += 1
        counts["attempts"] += attempts
        counts["rolled_back"] += bool(rolled_back)
        counts["dead_lettered"] += dead is not None
        outcome = RUN_OUTCOMES.get(status)
        if outcome:
            sets[outcome].add(uj_id)
        if finished and status in FINISHED:
            self.step_durations[group].append((finished - created).total_seconds())

    def journey_rows(self, journey_id: int) -> list[JourneyDayStats]:
        rows = []
        for (version_id, variant, day), row in self.journeys.items():
            durations = self.journey_durations[(version_id, variant, day)]
            rows.append(
                JourneyDayStats(
                    journey_id=journey_id,
                    version_id=version_id,
                    variant=variant,
                    day=day,
                    **{
                        k: row[k]
                        for k in ("started", "active", "completed", "failed", "cancelled", "converted")
                    },
                    **_durations(durations),
                )
            )
        return rows

    def step_rows(self, journey_id: int) -> list[StepDayStats]:
        rows = []
        for group in set(self.step_sets) | set(self.step_counts):
            version_id, key, day = group
            sets, counts = self.step_sets[group], self.step_counts[group]
            rows.append(
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
                    **_durations(self.step_durations[group]),
                )
            )
        return rows


def _durations(durations: list[float]) -> dict:
    return {
        "duration_count": len(durations),
        "duration_sum": sum(durations),
        "duration_buckets": sketch.histogram(durations),
    }


def rollups_refresh(*, full: bool = False) -> RefreshResult:
    """Rebuild the cohort days changed since the previous refresh (every day when ``full``).

    The first refresh is a full one. Only one refresh runs at a time: the state row is locked
    for the duration, and a beat tick that finds it locked returns at once (``skipped``) rather
    than hold a worker waiting; the next tick picks up whatever changed meanwhile.
    """
    RollupState.objects.get_or_create(name=STATE_NAME)
    with transaction.atomic():
        state = RollupState.objects.select_for_update(skip_locked=True).filter(name=STATE_NAME).first()
        if state is None:
            return RefreshResult(days=0, full=False, skipped=True)
        began = timezone.now()
        full = full or state.refreshed_from is None
        since = None if full else state.refreshed_from - LOOKBACK_MARGIN
        pairs = dirty_days(since=since)
        if full:
            # Days whose journeys are gone (deleted) must not keep their rows.
            JourneyDayStats.objects.all().delete()
            StepDayStats.objects.all().delete()
        by_journey: dict[int, set[date]] = defaultdict(set)
        for journey_id, day in pairs:
            by_journey[journey_id].add(day)
        for journey_id, days in sorted(by_journey.items()):
            journey_days_rebuild(journey_id=journey_id, days=days)
        state.refreshed_from = began
        state.refreshed_at = timezone.now()
        state.days_refreshed = len(pairs)
        state.save()
    return RefreshResult(days=len(pairs), full=full)
