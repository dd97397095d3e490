"""Seed §3 invariants and §8 business rules, each by a test that tries to break it."""

import itertools
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from journeys.errors import Conflict, ValidationFailed
from journeys.models import Event, Participant
from stages.models import Measurement, Snapshot, StagedJourney, StageTransition, UnitOfWork
from stages.services.measurements import approval_record, measurements_record
from stages.services.rollback import staged_journey_rollback
from stages.services.staged_journeys import (
    staged_journey_cancel,
    staged_journey_promote,
    staged_journey_start,
    staged_journey_validate,
)
from tests.stages.factories import backdate_stage, criteria_pipeline, satisfy, start

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def pipeline():
    return criteria_pipeline()


def promoted_to(stage: str, client_id: str = "client-1") -> StagedJourney:
    journey = start(client_id)
    order = ["sandbox", "pilot", "production", "completed"]
    while journey.stage != stage:
        assert order.index(journey.stage) < order.index(stage)
        journey = staged_journey_promote(journey=satisfy(journey), actor="ops").journey
    return journey


# --- UC-1 -----------------------------------------------------------------------------------
def test_starting_a_journey_puts_it_in_sandbox_with_its_unit_of_work_and_announces_it(events):
    journey = start("client-7")

    assert journey.stage == "sandbox"
    assert Participant.objects.filter(user_id="client-7").exists()
    [unit] = journey.units_of_work.all()
    assert (unit.stage, unit.purpose) == ("sandbox", "setup")
    [row] = journey.transitions.all()
    assert (row.kind, row.from_stage, row.to_stage, row.actor) == ("started", "", "sandbox", "ops")
    assert events("client-7")[:2] == ["JourneyStarted", "UnitOfWorkCreated"]
    started = Event.objects.get(type="JourneyStarted")
    assert started.payload["initial_stage"] == "sandbox"
    assert started.idempotency_key == f"stages:transition:{row.pk}"


def test_a_client_cannot_have_two_active_journeys():
    start("client-1")
    with pytest.raises(Conflict) as refused:
        start("client-1")
    assert refused.value.extra["current_stage"] == "sandbox"
    assert StagedJourney.objects.filter(client_id="client-1").count() == 1


def test_the_database_refuses_a_second_active_journey_even_bypassing_the_service(pipeline):
    journey = start("client-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        StagedJourney.objects.create(client_id="client-1", participant=journey.participant, pipeline=pipeline)


def test_a_client_may_start_again_once_the_journey_has_ended():
    first = start("client-1")
    staged_journey_cancel(journey=first, reason="contract paused", actor="ops")
    second = start("client-1")
    assert second.pk != first.pk and second.stage == "sandbox"


def test_starting_without_a_client_id_names_the_field():
    with pytest.raises(ValidationFailed) as refused:
        staged_journey_start(client_id="  ")
    assert "client_id" in refused.value.errors


# --- §3 Journey must always be in exactly one stage; stage changes only through transitions ---
def test_the_stage_cannot_be_assigned_directly():
    journey = start()
    with pytest.raises(AttributeError):
        journey.stage = "production"


def test_the_history_is_one_unbroken_chain_ending_in_the_current_stage():
    journey = promoted_to("production")
    journey = staged_journey_rollback(journey=journey, reason="latency regression", actor="ops")
    journey = staged_journey_promote(journey=satisfy(journey), actor="ops").journey
    journey = staged_journey_cancel(journey=journey, reason="client churned", actor="ops")

    rows = [r for r in journey.transitions.order_by("id") if r.kind != "promotion_refused"]
    for previous, row in itertools.pairwise(rows):
        assert row.from_stage == previous.to_stage
    assert rows[-1].to_stage == journey.stage == "cancelled"
    assert [r.kind for r in rows] == [
        "started",
        "promoted",
        "promoted",
        "rollback_initiated",
        "rollback_completed",
        "promoted",
        "cancelled",
    ]


def test_history_rows_are_immutable():
    journey = start()
    row = journey.transitions.get()
    row.reason = "rewritten"
    with pytest.raises(ValueError, match="immutable"):
        row.save()


# --- §8.1 sequential progression, no skipping ------------------------------------------------
def test_promotion_moves_exactly_one_stage_forward(events):
    journey = satisfy(start())

    outcome = staged_journey_promote(journey=journey, actor="ops")

    assert outcome.promoted and outcome.journey.stage == "pilot"
    row = outcome.journey.transitions.get(kind="promoted")
    assert (row.from_stage, row.to_stage) == ("sandbox", "pilot")
    assert "StagePromoted" in events()
    promoted = Event.objects.get(type="StagePromoted")
    assert promoted.payload["from_stage"] == "sandbox" and promoted.payload["to_stage"] == "pilot"
    assert promoted.payload["exit_criteria_results"] == {
        "unit_of_work_completed": True,
        "connectors_syncing": True,
        "search_quality": True,
        "security_scan_passed": True,
        "demo_approved": True,
    }


def test_sandbox_cannot_go_straight_to_production():
    journey = satisfy(start())
    journey = StagedJourney.objects.select_for_update().get(pk=journey.pk)
    with pytest.raises(TransitionNotAllowed):
        journey.promote_to_production()
    with pytest.raises(TransitionNotAllowed):
        journey.complete()
    journey.refresh_from_db()
    assert journey.stage == "sandbox"


def test_a_completed_journey_has_no_next_stage():
    journey = promoted_to("completed")
    with pytest.raises(Conflict) as refused:
        staged_journey_promote(journey=journey, actor="ops")
    assert refused.value.code == "invalid_transition"
    assert refused.value.extra["current_stage"] == "completed"


# --- §8.1/§3 exit criteria gate ---------------------------------------------------------------
def test_promoting_without_passing_criteria_is_refused_recorded_and_explained(events):
    journey = start()
    measurements_record(journey=journey, values={"search_quality": 0.7}, actor="eval")

    with pytest.raises(Conflict) as refused:
        staged_journey_promote(journey=journey, actor="ops")

    body = refused.value.as_dict()
    assert body["code"] == "exit_criteria_not_met"
    assert body["current_stage"] == "sandbox"
    checks = {c["key"]: c for c in body["checks"]}
    assert checks["search_quality"]["measured"] == 0.7 and checks["search_quality"]["passed"] is False
    assert checks["demo_approved"]["measured"] is None and checks["demo_approved"]["passed"] is False
    journey.refresh_from_db()
    assert journey.stage == "sandbox"
    refusal = journey.transitions.get(kind="promotion_refused")
    assert refusal.from_stage == refusal.to_stage == "sandbox"
    assert {c["key"] for c in refusal.exit_criteria_results if not c["passed"]} >= {
        "search_quality",
        "demo_approved",
    }
    assert "StagePromoted" not in events()
    assert journey.units_of_work.count() == 1


@pytest.mark.parametrize(
    "missing", ["connectors_syncing", "search_quality", "security_scan_passed", "demo_approved"]
)
def test_sandbox_exit_needs_every_one_of_its_four_criteria(missing):
    journey = satisfy(start(), skip=missing)
    with pytest.raises(Conflict) as refused:
        staged_journey_promote(journey=journey, actor="ops")
    failed = [c["key"] for c in refused.value.extra["checks"] if not c["passed"]]
    assert failed == [missing]


@pytest.mark.parametrize(
    ("key", "value", "passes"),
    [("search_quality", 0.80, False), ("search_quality", 0.8001, True), ("connectors_syncing", 0.99, False)],
)
def test_sandbox_thresholds_are_strict_where_the_seed_says_more_than(key, value, passes):
    journey = satisfy(start())
    measurements_record(journey=journey, values={key: value}, actor="eval")
    result = staged_journey_validate(journey=journey)
    assert {c.key: c.passed for c in result.checks}[key] is passes


def test_a_rejected_approval_blocks_even_after_an_earlier_yes():
    journey = satisfy(start())
    approval_record(
        journey=journey, key="demo_approved", approved=False, actor="client", note="search is slow"
    )
    result = staged_journey_validate(journey=journey)
    check = {c.key: c for c in result.checks}["demo_approved"]
    assert check.passed is False and check.measured is False
    assert check.detail == "rejected by client: search is slow"


def test_promotion_waits_for_the_stages_unit_of_work():
    journey = satisfy(start())
    UnitOfWork.objects.filter(journey=journey).update(status="running")
    with pytest.raises(Conflict) as refused:
        staged_journey_promote(journey=journey, actor="ops")
    [failed] = [c for c in refused.value.extra["checks"] if not c["passed"]]
    assert failed["key"] == "unit_of_work_completed" and failed["measured"] == "running"


def test_pilot_exit_needs_seven_days_without_a_critical_bug():
    journey = backdate_stage(promoted_to("pilot"), days=3)
    measurements_record(journey=journey, values={"search_quality": 0.9, "user_satisfaction": 4.5}, actor="e")
    approval_record(journey=journey, key="performance_sla_met", approved=True, actor="monitoring")
    check = {c.key: c for c in staged_journey_validate(journey=journey).checks}["no_critical_bugs"]
    assert check.passed is False and "3.0 of 7 days" in check.detail

    journey = backdate_stage(journey, days=10)
    satisfy(journey)
    Event.objects.create(
        type="bug.reported",
        participant=journey.participant,
        payload={"severity": "critical"},
        occurred_at=timezone.now() - timedelta(days=2),
    )
    Event.objects.create(  # outside the window: does not count
        type="bug.reported",
        participant=journey.participant,
        payload={"severity": "critical"},
        occurred_at=timezone.now() - timedelta(days=9),
    )
    Event.objects.create(type="bug.reported", participant=journey.participant, payload={"severity": "minor"})
    check = {c.key: c for c in staged_journey_validate(journey=journey).checks}["no_critical_bugs"]
    assert check.passed is False and check.measured == 1

    Event.objects.filter(type="bug.reported", payload__severity="critical").update(
        occurred_at=timezone.now() - timedelta(days=8)
    )
    assert staged_journey_validate(journey=journey).passed


def test_production_success_completes_the_journey(events):
    journey = promoted_to("production")
    satisfy(journey)
    journey = staged_journey_promote(journey=journey, actor="ops").journey

    assert journey.stage == "completed" and journey.ended_at is not None
    assert journey.transitions.filter(kind="completed", from_stage="production").exists()
    assert events()[-1] == "JourneyCompleted"


def test_a_p0_incident_blocks_production_success():
    journey = satisfy(promoted_to("production"))
    Event.objects.create(
        type="incident.reported", participant=journey.participant, payload={"severity": "P1"}
    )
    with pytest.raises(Conflict) as refused:
        staged_journey_promote(journey=journey, actor="ops")
    assert [c["key"] for c in refused.value.extra["checks"] if not c["passed"]] == ["no_p0_p1_incidents"]


def test_measurements_and_approvals_for_unknown_keys_name_the_field():
    journey = start()
    with pytest.raises(ValidationFailed) as refused:
        measurements_record(journey=journey, values={"search_qualty": 0.9}, actor="eval")
    assert "values.search_qualty" in refused.value.errors
    assert "search_quality" in refused.value.errors["values.search_qualty"][0]
    with pytest.raises(ValidationFailed) as refused:
        approval_record(journey=journey, key="user_adoption", approved=True, actor="x")
    assert "key" in refused.value.errors
    assert Measurement.objects.count() == 0


# --- §8.1 rollback limit / §3 rollback returns to the previously completed stage ----------------
def test_sandbox_cannot_be_rolled_back():
    journey = start()
    with pytest.raises(Conflict) as refused:
        staged_journey_rollback(journey=journey, reason="oops", actor="ops")
    assert refused.value.extra == {
        "current_stage": "sandbox",
        "reason": "Sandbox is the first stage: there is no previous stage to roll back to.",
    }


def test_rollback_from_production_returns_to_pilot_not_sandbox(events):
    journey = promoted_to("production")
    journey = staged_journey_rollback(journey=journey, reason="error rate 4%", actor="ops")

    assert journey.stage == "pilot"
    kinds = list(journey.transitions.values_list("kind", "from_stage", "to_stage").order_by("id"))[-2:]
    assert kinds == [
        ("rollback_initiated", "production", "rollback"),
        ("rollback_completed", "rollback", "pilot"),
    ]
    assert events()[-4:] == [
        "RollbackInitiated",
        "UnitOfWorkCreated",
        "UnitOfWorkCompleted",
        "RollbackCompleted",
    ]
    initiated = Event.objects.get(type="RollbackInitiated")
    assert initiated.payload | {"journey_id": 0} == {
        "client_id": "client-1",
        "journey_id": 0,
        "from_stage": "production",
        "to_stage": "pilot",
        "reason": "error rate 4%",
        "initiated_by": "ops",
        "automatic": False,
    }


def test_rollback_keeps_a_snapshot_of_the_stage_it_left():
    journey = satisfy(promoted_to("pilot"))
    journey = staged_journey_rollback(journey=journey, reason="pilot users unhappy", actor="ops")

    [snapshot] = Snapshot.objects.filter(journey=journey)
    assert snapshot.stage == "pilot"
    assert snapshot.transition.kind == "rollback_initiated"
    assert snapshot.state["stage"] == "pilot"
    assert snapshot.state["exit_criteria"]["passed"] is True
    assert {m["key"] for m in snapshot.measurements} >= {
        "search_quality",
        "user_satisfaction",
        "performance_sla_met",
    }
    assert [u["stage"] for u in snapshot.units_of_work] == ["sandbox", "pilot"]


def test_a_stage_reentered_after_rollback_must_be_measured_again():
    journey = satisfy(promoted_to("pilot"))
    journey = staged_journey_rollback(journey=journey, reason="regression", actor="ops")

    result = staged_journey_validate(journey=journey)
    assert journey.stage == "sandbox" and not result.passed
    assert {c.key for c in result.failed} == {
        "connectors_syncing",
        "search_quality",
        "security_scan_passed",
        "demo_approved",
    }


def test_rollback_needs_a_reason():
    journey = promoted_to("pilot")
    with pytest.raises(ValidationFailed) as refused:
        staged_journey_rollback(journey=journey, reason=" ", actor="ops")
    assert "reason" in refused.value.errors
    journey.refresh_from_db()
    assert journey.stage == "pilot"


def test_a_rollback_cannot_start_while_one_is_in_progress(pipeline):
    journey = promoted_to("pilot")
    # A rollback unit of work that never finishes keeps the journey in ``rollback``.
    StagedJourney.objects.filter(pk=journey.pk).update(stage="rollback", rollback_from="pilot")
    with pytest.raises(Conflict) as refused:
        staged_journey_rollback(journey=journey, reason="again", actor="ops")
    assert refused.value.extra["current_stage"] == "rollback"
    with pytest.raises(Conflict):
        staged_journey_promote(journey=journey, actor="ops")


# --- cancel -----------------------------------------------------------------------------------
def test_cancelling_ends_the_journey_with_its_reason_and_cancels_open_work(events):
    journey = start()
    UnitOfWork.objects.filter(journey=journey).update(status="running")

    journey = staged_journey_cancel(journey=journey, reason="contract not renewed", actor="ops")

    assert journey.stage == "cancelled" and journey.end_reason == "contract not renewed"
    assert journey.units_of_work.get().status == "cancelled"
    assert events()[-2:] == ["UnitOfWorkCancelled", "JourneyCancelled"]
    assert Event.objects.get(type="JourneyCancelled").payload["reason"] == "contract not renewed"


@pytest.mark.parametrize("action", ["promote", "rollback", "cancel", "measure"])
def test_nothing_moves_a_cancelled_journey(action):
    journey = staged_journey_cancel(journey=start(), reason="stop", actor="ops")
    calls = {
        "promote": lambda: staged_journey_promote(journey=journey, actor="ops"),
        "rollback": lambda: staged_journey_rollback(journey=journey, reason="x", actor="ops"),
        "cancel": lambda: staged_journey_cancel(journey=journey, reason="x", actor="ops"),
        "measure": lambda: measurements_record(journey=journey, values={"search_quality": 1}, actor="x"),
    }
    with pytest.raises(Conflict) as refused:
        calls[action]()
    assert refused.value.extra["current_stage"] == "cancelled"
    assert StageTransition.objects.filter(journey=journey).count() == 2


# --- automatic rollback on a configured failing criterion ------------------------------------
def test_a_failing_rollback_criterion_measured_in_production_rolls_back_automatically(events):
    from stages.models import ExitCriterion

    ExitCriterion.objects.filter(key="user_adoption").update(triggers_rollback=True)
    journey = promoted_to("production")

    journey, _ = measurements_record(journey=journey, values={"user_adoption": 0.2}, actor="analytics")

    assert journey.stage == "pilot"
    row = journey.transitions.get(kind="rollback_initiated")
    assert row.automatic and row.actor == "system"
    assert "User adoption > 70% failed (0.2 misses user_adoption > 0.7)" in row.reason
    assert "RollbackInitiated" in events()
