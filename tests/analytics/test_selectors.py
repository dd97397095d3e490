"""Journey metrics on constructed runs, against figures computed by hand."""

from datetime import timedelta

import pytest

from analytics.selectors.comparisons import journey_recommendations, journeys_benchmarks
from analytics.selectors.journeys import (
    Scope,
    journey_ab_test,
    journey_drop_off_points,
    journey_funnel,
    journey_metrics,
    journey_trend,
)
from analytics.selectors.progress import milestone_analytics
from tests.analytics.factories import T0, Step, linear_journey, make_run, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def onboarding():
    """Five runs through a → b → c, by hand:

    * two completed (durations 300 s and 500 s), one with a retried ``b``;
    * one cancelled at ``b``, one active waiting at ``b``, one failed (dead letter) at ``a``.
    """
    journey = linear_journey("a", "b", "c", name="Onboarding")
    ok = "succeeded"
    make_run(
        journey,
        state="completed",
        duration=300,
        steps=[Step("a", ok, 60), Step("b", ok, 120), Step("c", ok, 120)],
    )
    make_run(
        journey,
        state="completed",
        duration=500,
        converted=True,
        steps=[Step("a", ok, 60), Step("b", "failed", 10), Step("b", ok, 240), Step("c", ok, 190)],
    )
    make_run(journey, state="cancelled", steps=[Step("a", ok, 60), Step("b", "cancelled")])
    make_run(journey, state="active", steps=[Step("a", ok, 60), Step("b", "scheduled")])
    make_run(journey, state="failed", steps=[Step("a", "failed", 30, attempts=3, dead_lettered=True)])
    refresh()
    return journey


def test_an_empty_journey_has_zero_counts_and_no_rates():
    journey = linear_journey("a", "b")
    refresh()
    metrics = journey_metrics(scope=Scope(journey=journey))
    assert metrics["started"] == metrics["completed"] == 0
    assert metrics["completion_rate"] is None
    assert metrics["conversion_rate"] is None
    assert metrics["duration"] == {
        "count": 0,
        "average_seconds": None,
        "median_seconds": None,
        "p90_seconds": None,
    }
    funnel = journey_funnel(scope=Scope(journey=journey))
    assert [(s["step_key"], s["reached"], s["reach_rate"], s["drop_off_rate"]) for s in funnel] == [
        ("a", 0, None, None),
        ("b", 0, None, None),
    ]
    assert journey_drop_off_points(scope=Scope(journey=journey)) == []
    assert [r["code"] for r in journey_recommendations(scope=Scope(journey=journey))] == ["no_starts"]
    assert journey_ab_test(scope=Scope(journey=journey))["variants"] == []


def test_counts_rates_and_average_duration_match_the_runs(onboarding):
    m = journey_metrics(scope=Scope(journey=onboarding))
    assert (m["started"], m["active"], m["completed"], m["failed"], m["cancelled"], m["converted"]) == (
        5,
        1,
        2,
        1,
        1,
        1,
    )
    assert m["completion_rate"] == 0.4  # 2 of 5 started
    assert m["completion_rate_of_ended"] == 0.5  # 2 of 4 ended
    assert m["conversion_rate"] == 0.2
    assert m["duration"]["count"] == 2
    assert m["duration"]["average_seconds"] == 400.0  # (300 + 500) / 2, exact
    assert m["duration"]["median_seconds"] == pytest.approx(300, rel=0.1)  # nearest rank: the 1st of 2
    assert m["duration"]["p90_seconds"] == pytest.approx(500, rel=0.1)


def test_funnel_counts_user_journeys_per_step_in_the_definition_order(onboarding):
    funnel = {s["step_key"]: s for s in journey_funnel(scope=Scope(journey=onboarding))}
    assert list(funnel) == ["a", "b", "c"]
    a, b, c = funnel["a"], funnel["b"], funnel["c"]
    assert (a["reached"], a["completed"], a["failed"], a["dropped"], a["waiting"]) == (5, 4, 1, 1, 0)
    assert (b["reached"], b["completed"], b["failed"], b["dropped"], b["waiting"]) == (4, 2, 0, 1, 1)
    assert b["runs"] == 5 and b["retries"] == 1  # the failed-then-succeeded b counts once
    assert (c["reached"], c["completed"]) == (2, 2)
    assert a["reach_rate"] == 1.0 and b["reach_rate"] == 0.8 and c["reach_rate"] == 0.4
    assert a["drop_off_rate"] == 0.2 and b["drop_off_rate"] == 0.25 and c["drop_off_rate"] == 0.0
    assert a["dead_lettered"] == 1 and a["attempts"] == 3 + 4
    # Finished runs' durations: a = 60, 60, 60, 60, 30 → average 54.
    assert a["duration"]["average_seconds"] == 54.0
    assert a["duration"]["median_seconds"] == pytest.approx(60, rel=0.1)


def test_drop_off_points_rank_most_lost_first_then_highest_rate(onboarding):
    points = journey_drop_off_points(scope=Scope(journey=onboarding))
    # a and b both lose one user journey; b loses a bigger share (1/4 > 1/5).
    assert [(p["rank"], p["step_key"], p["dropped"], p["drop_off_rate"]) for p in points] == [
        (1, "b", 1, 0.25),
        (2, "a", 1, 0.2),
    ]


def test_time_range_keeps_only_the_cohort_days_asked(onboarding):
    make_run(onboarding, state="completed", duration=100, started_at=T0 + timedelta(days=3), steps=[])
    refresh()
    day = T0.date()
    assert journey_metrics(scope=Scope(journey=onboarding, since=day, until=day))["started"] == 5
    assert journey_metrics(scope=Scope(journey=onboarding, since=day + timedelta(days=1)))["started"] == 1
    assert journey_metrics(scope=Scope(journey=onboarding, until=day - timedelta(days=1)))["started"] == 0
    assert [
        (d["day"], d["started"], d["completed"]) for d in journey_trend(scope=Scope(journey=onboarding))
    ] == [
        ("2026-01-05", 5, 2),
        ("2026-01-08", 1, 1),
    ]


def test_version_filter_separates_runs_of_each_version(onboarding):
    from journeys.models import Journey, JourneyVersion

    first = onboarding.live_version
    second = JourneyVersion.objects.create(journey=onboarding, number=2, definition=first.definition)
    Journey.objects.filter(pk=onboarding.pk).update(live_version=second)
    onboarding.refresh_from_db()
    make_run(onboarding, state="active", steps=[Step("a", "scheduled")])
    refresh()
    assert journey_metrics(scope=Scope(journey=onboarding, version=first))["started"] == 5
    assert journey_metrics(scope=Scope(journey=onboarding, version=onboarding.live_version))["started"] == 1
    assert journey_metrics(scope=Scope(journey=onboarding))["started"] == 6


def test_milestone_analytics_counts_retries_rollbacks_and_skips():
    journey = linear_journey("upload", "review")
    make_run(
        journey,
        state="active",
        steps=[Step("upload", "succeeded", 100, rolled_back=True), Step("upload", "scheduled")],
    )
    make_run(
        journey, state="completed", steps=[Step("upload", "skipped", 5), Step("review", "succeeded", 10)]
    )
    refresh()
    upload = milestone_analytics(journey=journey, key="upload")
    assert upload["reached"] == 2
    assert upload["retries"] == 1
    assert upload["rollbacks"] == 1
    assert upload["skipped"] == 1
    assert upload["completed"] == 1
    assert upload["in_progress"] == 1
    assert upload["completion_rate"] == 0.5
    assert milestone_analytics(journey=journey, key="nope") is None


def test_recommendations_name_low_completion_and_the_step_that_loses_people(onboarding):
    advice = journey_recommendations(scope=Scope(journey=onboarding))
    codes = [(a["code"], a["step_key"]) for a in advice]
    assert ("low_completion", "b") in codes
    assert ("step_drop_off", "b") in codes and ("step_drop_off", "a") in codes
    assert ("step_failures", "a") in codes
    drop_b = next(a for a in advice if a["code"] == "step_drop_off" and a["step_key"] == "b")
    assert drop_b["message"].startswith("Step `b` loses 25% of participants; median wait")
    assert "reminder" in drop_b["message"]  # a manual step: a reminder helps
    low = next(a for a in advice if a["code"] == "low_completion")
    assert (
        low["message"]
        == "Only 40% of participants complete “Onboarding” (target 80%); most leave at step `b`."
    )


def test_a_b_statistics_match_a_known_result():
    """Control A 200/1000 against B 250/1000: pooled p = 0.225, z = 0.05 / sqrt(0.225·0.775·0.002)
    = 2.6774, two-sided p = 0.0074; Wilson 95% intervals [0.17641, 0.22589] and [0.22418, 0.27775]."""
    from analytics.models import JourneyDayStats

    journey = linear_journey("a", goal_event="purchase")
    for variant, started, converted in (("A", 1000, 200), ("B", 1000, 250)):
        JourneyDayStats.objects.create(
            journey=journey,
            version=journey.live_version,
            variant=variant,
            day=T0.date(),
            started=started,
            converted=converted,
        )
    result = journey_ab_test(scope=Scope(journey=journey))
    assert result["measure"] == "converted" and result["control"] == "A"
    a, b = result["variants"]
    assert a["conversion_rate"] == 0.2 and a["is_control"] and a["p_value"] is None
    assert a["confidence_interval"] == pytest.approx([0.17641, 0.22589], abs=1e-4)
    assert b["confidence_interval"] == pytest.approx([0.22418, 0.27775], abs=1e-4)
    assert b["z"] == pytest.approx(2.6774, abs=1e-4)
    assert b["p_value"] == pytest.approx(0.00742, abs=1e-5)
    assert b["significant"] is True


def test_a_b_variants_come_from_the_runs_and_an_empty_variant_is_not_a_variant():
    journey = linear_journey("a")
    make_run(journey, state="completed", variant="A", steps=[])
    make_run(journey, state="active", variant="A", steps=[])
    make_run(journey, state="completed", variant="B", steps=[])
    make_run(journey, state="completed", steps=[])
    refresh()
    result = journey_ab_test(scope=Scope(journey=journey))
    assert result["measure"] == "completed"
    assert [(v["variant"], v["participants"], v["conversions"]) for v in result["variants"]] == [
        ("A", 2, 1),
        ("B", 1, 1),
    ]


def test_benchmarks_rank_each_journey_among_all():
    rates = {"low": (1, 5), "mid": (2, 4), "high": (4, 5)}
    for name, (done, total) in rates.items():
        journey = linear_journey("a", name=name)
        for i in range(total):
            make_run(
                journey, state="completed" if i < done else "cancelled", duration=100 * (i + 1), steps=[]
            )
    linear_journey("a", name="never started")
    refresh()
    bench = journeys_benchmarks()
    rows = {r["journey"]: r for r in bench["journeys"]}
    assert set(rows) == {"low", "mid", "high"}
    assert rows["low"]["completion_rate"] == 0.2 and rows["low"]["completion_rate_percentile"] == 33.3
    assert rows["mid"]["completion_rate_percentile"] == 66.7
    assert rows["high"]["completion_rate_percentile"] == 100.0
    # Average durations of the completed runs: low 100, mid 150, high 250.
    assert [rows[n]["average_duration_seconds"] for n in ("low", "mid", "high")] == [100.0, 150.0, 250.0]
    assert bench["median_completion_rate"] == 0.5
