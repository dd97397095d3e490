"""Stages, rules and overdue analytics, and the per-step numbers handed to the builder."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.selectors.operations import (
    home_summary,
    overdue_step_runs,
    rules_analytics,
    stages_analytics,
    stuck_user_journeys,
)
from journeys.models import Participant, StepRun
from journeys.registries import StepStats, step_stats
from rules.models import Flag, FlagHistory, Rule
from stages.models import StagedJourney, StageTransition
from tests.analytics.factories import T0, Step, linear_journey, make_run, refresh
from tests.stages.factories import criteria_pipeline

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)
OK, FAIL = {"key": "k", "passed": True}, {"key": "k", "passed": False}


def _staged(client_id: str, stage: str, transitions: list[tuple]) -> None:
    pipeline = criteria_pipeline(slug=f"p-{client_id}", is_default=False)
    participant = Participant.objects.create(user_id=client_id)
    StagedJourney.objects.bulk_create(
        [
            StagedJourney(
                client_id=client_id, participant=participant, pipeline=pipeline, stage=stage, started_at=T0
            )
        ]
    )
    journey = StagedJourney.objects.get(client_id=client_id)
    StageTransition.objects.bulk_create(
        StageTransition(
            journey=journey,
            kind=kind,
            from_stage=a,
            to_stage=b,
            transitioned_at=T0 + at,
            exit_criteria_results=r,
        )
        for kind, a, b, at, r in transitions
    )


def test_stage_figures_computed_from_the_history():
    _staged(
        "c1",
        "production",
        [
            ("started", "", "sandbox", 0 * DAY, []),
            ("promoted", "sandbox", "pilot", 1 * DAY, [OK, OK]),
            ("promotion_refused", "pilot", "pilot", 2 * DAY, [FAIL, OK]),
            ("promoted", "pilot", "production", 3 * DAY, [OK, OK]),
        ],
    )
    _staged(
        "c2",
        "sandbox",
        [
            ("started", "", "sandbox", 0 * DAY, []),
            ("promoted", "sandbox", "pilot", 2 * DAY, [OK]),
            ("rollback_initiated", "pilot", "rollback", 4 * DAY, []),
            ("rollback_completed", "rollback", "sandbox", 4 * DAY, []),
        ],
    )
    figures = stages_analytics()
    assert figures["pipeline"] == {"production": 1, "sandbox": 1}
    assert figures["time_to_production"] == {
        "count": 1,
        "average_seconds": 259200.0,
        "median_seconds": 259200.0,
    }
    assert (figures["promotions"], figures["promotions_refused"], figures["rollbacks"]) == (3, 1, 1)
    assert figures["rollback_rate"] == 0.25  # 1 rollback of 4 moves
    assert figures["exit_criteria_checks"] == 7 and figures["exit_criteria_pass_rate"] == 0.8571
    # Sandbox: c1 one day, c2 two days; pilot: two days each (a refused promotion does not leave it).
    assert figures["time_in_stage"]["sandbox"]["average_seconds"] == 1.5 * 86400
    assert figures["time_in_stage"]["pilot"]["average_seconds"] == 2 * 86400


def test_no_staged_journeys_means_no_rates():
    figures = stages_analytics()
    assert (
        figures["journeys"] == 0
        and figures["rollback_rate"] is None
        and figures["exit_criteria_pass_rate"] is None
    )


def test_rule_fires_and_flags_true_now():
    Rule.objects.create(rule_id="r1", name="R1", flag="mentor_ready", rule_config={})
    Rule.objects.create(rule_id="r2", name="R2", flag="quiet", rule_config={})
    now = timezone.now()
    people = [Participant.objects.create(user_id=f"u{i}") for i in range(3)]
    for p in people:
        FlagHistory.objects.create(
            participant=p, flag="mentor_ready", value=True, set_by_rule="r1", reason="rule", changed_at=now
        )
    FlagHistory.objects.create(
        participant=people[0],
        flag="mentor_ready",
        value=False,
        set_by_rule="r1",
        reason="cleared",
        changed_at=now,
    )
    Flag.objects.create(participant=people[1], flag="mentor_ready", value=True, set_by_rule="r1", set_at=now)
    Flag.objects.create(participant=people[2], flag="mentor_ready", value=True, set_by_rule="r1", set_at=now)
    Flag.objects.create(
        participant=people[0],
        flag="mentor_ready",
        value=True,
        set_by_rule="r1",
        set_at=now,
        expires_at=now - DAY,
    )
    figures = rules_analytics()
    by_rule = {r["rule_id"]: r for r in figures["rules"]}
    assert by_rule["r1"]["fires"] == 4 and by_rule["r1"]["fires_by_reason"] == {"rule": 3, "cleared": 1}
    assert by_rule["r2"]["fires"] == 0
    assert figures["flags_true"] == {"mentor_ready": 2}  # the expired one does not count
    assert rules_analytics(since=now + DAY)["rules"][0]["fires"] == 0


def test_overdue_timers_and_runs_stuck_far_past_their_steps_norm():
    journey = linear_journey("a", "b")
    for _ in range(3):
        make_run(journey, state="completed", steps=[Step("a", "succeeded", 100), Step("b", "succeeded", 100)])
    now = timezone.now()
    late = make_run(
        journey,
        state="active",
        started_at=now - 2 * DAY,
        steps=[Step("a", "succeeded", 10), Step("b", "scheduled")],
    )
    # Waiting at b for an event (no timer) for two days, where b usually takes 100 s.
    waiting = make_run(
        journey,
        state="active",
        started_at=now - 2 * DAY,
        steps=[Step("a", "succeeded", 10), Step("b", "scheduled")],
    )
    StepRun.objects.filter(user_journey=waiting, step_key="b").update(due_at=None, waiting_for="upload.done")
    fresh = make_run(
        journey, state="active", started_at=now - timedelta(minutes=5), steps=[Step("a", "scheduled")]
    )
    StepRun.objects.filter(user_journey=fresh).update(due_at=now + DAY)
    refresh()
    assert [r.user_journey_id for r in overdue_step_runs(now=now)] == [late.pk]
    stuck = stuck_user_journeys(now=now)
    assert [s["step_run"].user_journey_id for s in stuck] == [waiting.pk]  # late is overdue already
    assert stuck[0]["norm_p90_seconds"] == pytest.approx(100, rel=0.1)
    summary = home_summary(now=now)
    assert summary["overdue"] == "1"
    assert [(row["journey"].pk, row["started_7d"]) for row in summary["live_journeys"]] == [(journey.pk, 3)]


def test_the_builder_gets_per_step_numbers_from_the_rollups():
    journey = linear_journey("a", "b")
    make_run(journey, state="completed", steps=[Step("a", "succeeded", 5), Step("b", "succeeded", 5)])
    make_run(journey, state="active", steps=[Step("a", "succeeded", 5), Step("b", "scheduled")])
    make_run(journey, state="cancelled", steps=[Step("a", "cancelled")])
    refresh()
    assert step_stats(journey.pk) == {
        "a": StepStats(reached=3, waiting=0, completed=2, dropped=1),
        "b": StepStats(reached=2, waiting=1, completed=1, dropped=0),
    }
    assert step_stats(linear_journey("z").pk) == {}
