"""The rollups agree with the raw rows, and the incremental refresh with a full rebuild."""

import random
from datetime import timedelta

import pytest
from django.db.models import Count, Q

from analytics.models import JourneyDayStats, RollupState, StepDayStats
from analytics.rollups import rollups_refresh
from analytics.selectors.journeys import Scope, journey_funnel, journey_metrics
from journeys.models import StepRun, UserJourney
from tests.analytics.factories import T0, Step, linear_journey, make_run

pytestmark = pytest.mark.django_db

STATES = ["active", "completed", "completed", "failed", "cancelled"]


def _random_runs(journey, rng: random.Random, n: int) -> None:
    keys = ["a", "b", "c"]
    for _ in range(n):
        state = rng.choice(STATES)
        depth = rng.randint(1, 3)
        steps = [Step(k, "succeeded", rng.randint(1, 5000)) for k in keys[: depth - 1]]
        last = {
            "active": "scheduled",
            "completed": "succeeded",
            "failed": "failed",
            "cancelled": "cancelled",
        }[state]
        steps.append(Step(keys[depth - 1], last, rng.randint(1, 5000) if last != "scheduled" else None))
        make_run(
            journey,
            state=state,
            steps=steps,
            started_at=T0 + timedelta(days=rng.randint(0, 4), minutes=rng.randint(0, 600)),
            duration=rng.randint(100, 20000) if state != "active" else None,
            variant=rng.choice(["", "A", "B"]),
        )


def _raw_step_counts(journey) -> dict[str, tuple[int, int, int, int]]:
    """Straight from the step runs: distinct user journeys that reached / completed / failed a
    step, and live ones at it now."""
    runs = StepRun.objects.filter(user_journey__journey=journey)
    result = {}
    for key in ("a", "b", "c"):
        of_step = runs.filter(step_key=key)
        result[key] = (
            of_step.aggregate(n=Count("user_journey", distinct=True))["n"],
            of_step.filter(status="succeeded").aggregate(n=Count("user_journey", distinct=True))["n"],
            of_step.filter(status="failed").aggregate(n=Count("user_journey", distinct=True))["n"],
            UserJourney.objects.filter(
                journey=journey, current_step=key, state__in=["active", "paused"]
            ).count(),
        )
    return result


def _funnel_counts(journey) -> dict[str, tuple[int, int, int, int]]:
    return {
        s["step_key"]: (s["reached"], s["completed"], s["failed"], s["waiting"])
        for s in journey_funnel(scope=Scope(journey=journey))
    }


def test_rollups_agree_with_a_recomputation_from_raw_rows():
    journey = linear_journey("a", "b", "c")
    _random_runs(journey, random.Random(7), 120)
    rollups_refresh(full=True)
    assert _funnel_counts(journey) == _raw_step_counts(journey)
    metrics = journey_metrics(scope=Scope(journey=journey))
    by_state = dict(UserJourney.objects.filter(journey=journey).values_list("state").annotate(n=Count("id")))
    assert metrics["started"] == 120
    assert metrics["completed"] == by_state.get("completed", 0)
    assert metrics["active"] == by_state.get("active", 0)
    completed = UserJourney.objects.filter(journey=journey, state="completed")
    exact_average = sum((u.ended_at - u.started_at).total_seconds() for u in completed) / completed.count()
    assert metrics["duration"]["average_seconds"] == pytest.approx(exact_average, abs=1e-3)
    # One row per version, variant and cohort day (five days by up to three variants).
    assert JourneyDayStats.objects.filter(journey=journey).count() <= 15


def test_an_incremental_refresh_picks_up_new_and_changed_runs_like_a_full_rebuild():
    journey = linear_journey("a", "b", "c")
    rng = random.Random(11)
    _random_runs(journey, rng, 40)
    rollups_refresh()  # the first refresh is a full one
    assert RollupState.objects.get().refreshed_from is not None

    # New runs, and a waiting run that completes: both must show after the next refresh.
    _random_runs(journey, rng, 10)
    waiting = UserJourney.objects.filter(journey=journey, state="active").first()
    run = StepRun.objects.filter(user_journey=waiting, status="scheduled").get()
    from django.utils import timezone

    StepRun.objects.filter(pk=run.pk).update(status="succeeded", finished_at=timezone.now())
    UserJourney.objects.filter(pk=waiting.pk).update(
        state="completed", ended_at=timezone.now(), current_step=""
    )

    result = rollups_refresh()
    assert not result.full and result.days >= 1
    incremental = _funnel_counts(journey), journey_metrics(scope=Scope(journey=journey))
    assert incremental[0] == _raw_step_counts(journey)

    rollups_refresh(full=True)
    assert (_funnel_counts(journey), journey_metrics(scope=Scope(journey=journey))) == incremental


def test_refreshing_twice_changes_nothing():
    journey = linear_journey("a", "b", "c")
    _random_runs(journey, random.Random(3), 20)
    rollups_refresh(full=True)
    before = list(StepDayStats.objects.order_by("version", "step_key", "day").values(*_fields()))
    rollups_refresh(full=False)
    rollups_refresh(full=True)
    after = list(StepDayStats.objects.order_by("version", "step_key", "day").values(*_fields()))
    assert before == after


def test_days_of_deleted_journeys_lose_their_rows():
    journey = linear_journey("a")
    make_run(journey, state="completed", steps=[Step("a", "succeeded", 5)])
    rollups_refresh(full=True)
    assert JourneyDayStats.objects.filter(journey=journey).exists()
    journey_id = journey.pk
    UserJourney.objects.filter(journey_id=journey_id).delete()
    rollups_refresh(full=True)
    assert not JourneyDayStats.objects.filter(Q(journey_id=journey_id)).exists()


def _fields() -> list[str]:
    return [
        "step_key",
        "day",
        "reached",
        "runs",
        "waiting",
        "completed",
        "failed",
        "dropped",
        "duration_buckets",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_refresh_finding_another_one_running_returns_at_once():
    import threading

    from django.db import connection, transaction

    rollups_refresh()
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        try:
            with transaction.atomic():
                RollupState.objects.select_for_update().get()
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(10)
        assert rollups_refresh().skipped
    finally:
        release.set()
        holder.join()
    assert not rollups_refresh().skipped
