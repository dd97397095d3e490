"""A user journey's progress and its estimated completion from observed step durations."""

from datetime import timedelta

import pytest

from analytics.selectors.progress import expected_path, user_journey_estimate, user_journey_progress_report
from journeys.engine.definition import definition_for
from tests.analytics.factories import T0, Step, linear_journey, make_run, refresh
from tests.journeys.factories import make_journey

pytestmark = pytest.mark.django_db


def test_estimated_completion_adds_the_median_of_each_remaining_step():
    journey = linear_journey("a", "b", "c")
    # History: a takes 100 s, b 2,000 s, c 40,000 s (each observed on three runs).
    for _ in range(3):
        make_run(
            journey,
            state="completed",
            steps=[Step("a", "succeeded", 100), Step("b", "succeeded", 2000), Step("c", "succeeded", 40000)],
        )
    uj = make_run(journey, state="active", steps=[Step("a", "succeeded", 100), Step("b", "scheduled")])
    refresh()
    entered_b = T0 + timedelta(seconds=100)
    now = entered_b + timedelta(seconds=500)  # 500 s into b
    estimate = user_journey_estimate(user_journey=uj, now=now)
    assert estimate["remaining_steps"] == ["b", "c"]
    # (2,000 - 500) + 40,000 = 41,500 s, within the medians' ~9% estimate error.
    assert estimate["remaining_seconds"] == pytest.approx(41_500, rel=0.1)
    assert estimate["estimated_completion_at"] == now + timedelta(seconds=estimate["remaining_seconds"])
    assert estimate["steps_without_data"] == []


def test_a_step_never_observed_is_named_and_a_finished_run_has_no_estimate():
    journey = linear_journey("a", "b")
    uj = make_run(journey, state="active", steps=[Step("a", "scheduled")])
    done = make_run(journey, state="completed", steps=[Step("a", "succeeded", 10)], current_step="")
    refresh()
    estimate = user_journey_estimate(user_journey=uj, now=T0)
    assert estimate["remaining_seconds"] == pytest.approx(10, rel=0.1)  # a's one observation: 10 s
    assert estimate["steps_without_data"] == ["b"]
    assert user_journey_estimate(user_journey=done)["estimated_completion_at"] is None
    report = user_journey_progress_report(user_journey=uj, now=T0)
    assert report["milestones_total"] == 2 and report["progress_percent"] == 0.0


def test_expected_path_takes_the_default_branch_and_stops_at_the_end():
    journey = make_journey(
        [
            {"key": "start", "name": "Start", "kind": "manual"},
            {
                "key": "route",
                "name": "Route",
                "kind": "branch",
                "next_steps": [
                    {"step": "vip", "condition": {"field": "attributes.vip", "op": "eq", "value": True}},
                    {"step": "standard"},
                ],
            },
            {"key": "vip", "name": "Vip", "kind": "manual", "next_steps": ["finish"]},
            {"key": "standard", "name": "Standard", "kind": "manual", "next_steps": ["finish"]},
            {"key": "finish", "name": "Finish", "kind": "end"},
        ]
    )
    definition = definition_for(journey.live_version)
    assert expected_path(definition, "start") == ["start", "route", "standard", "finish"]
