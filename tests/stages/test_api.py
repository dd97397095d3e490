"""The staged lifecycle API as its users see it: an operator, an evaluation service, an outsider."""

import pytest

from stages.models import StagedJourney
from tests.stages.factories import criteria_pipeline, task

pytestmark = pytest.mark.django_db

BASE = "/api/v1/stages"
OPERATOR_PERMS = [
    "stages.view_stagedjourney",
    "stages.add_stagedjourney",
    "stages.promote_stagedjourney",
    "stages.rollback_stagedjourney",
    "stages.cancel_stagedjourney",
    "stages.view_unitofwork",
    "stages.change_unitofwork",
    "stages.change_worktask",
]
PASS_SANDBOX = {"connectors_syncing": 1.0, "search_quality": 0.9}


@pytest.fixture(autouse=True)
def pipeline():
    return criteria_pipeline(tasks={"sandbox": {"setup": [task("demo", intent="manual")]}})


@pytest.fixture
def operator(make_user, client_for):
    return client_for(make_user("operator", *OPERATOR_PERMS))


@pytest.fixture
def evaluator(make_user, client_for):
    """A service that reports measurements and approvals, nothing else."""
    return client_for(make_user("evaluator", "stages.add_measurement", "stages.record_approval"))


@pytest.fixture
def outsider(make_user, client_for):
    return client_for(make_user("outsider"))


def started(api, client_id="client-1", capture=None):
    if capture:
        with capture(execute=True):
            response = api.post(f"{BASE}/journeys", {"client_id": client_id})
    else:
        response = api.post(f"{BASE}/journeys", {"client_id": client_id})
    assert response.status_code == 201, response.json()
    return response.json()


def complete_sandbox_work(api, client_id="client-1", capture=None):
    [unit] = api.get(f"{BASE}/journeys/{client_id}/units-of-work").json()
    [demo] = unit["tasks"]
    with capture(execute=True):
        response = api.post(f"{BASE}/tasks/{demo['task_id']}/complete", {"result": {"attendees": 5}})
    assert response.status_code == 200, response.json()
    return response.json()


def approve_sandbox(evaluator, client_id="client-1"):
    assert (
        evaluator.post(f"{BASE}/journeys/{client_id}/measurements", {"values": PASS_SANDBOX}).status_code
        == 201
    )
    for key in ["security_scan_passed", "demo_approved"]:
        response = evaluator.post(f"{BASE}/journeys/{client_id}/approvals", {"key": key, "by": "client-lead"})
        assert response.status_code == 201, response.json()


def test_starting_a_journey_answers_its_stage_and_history(operator):
    body = started(operator)

    assert body["client_id"] == "client-1"
    assert body["stage"] == "sandbox" and body["pipeline"] == "seed"
    assert body["started_by"] == "operator"
    assert [h["kind"] for h in body["history"]] == ["started"]
    assert body["seconds_in_stage"] >= 0


def test_a_second_start_for_the_same_client_is_a_conflict_naming_the_stage(operator):
    started(operator)
    response = operator.post(f"{BASE}/journeys", {"client_id": "client-1"})
    assert response.status_code == 409
    assert response.json()["current_stage"] == "sandbox"
    assert response.json()["code"] == "journey_active"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "client_id"),
        ({"client_id": "c", "pipeline": "nope"}, "pipeline"),
        ({"client_id": "x" * 300}, "client_id"),
    ],
)
def test_bad_start_requests_name_the_field(operator, body, field):
    response = operator.post(f"{BASE}/journeys", body)
    assert response.status_code == 400
    assert field in response.json()
    assert not StagedJourney.objects.exists()


def test_journeys_are_listed_and_filtered(operator):
    started(operator, "client-1")
    started(operator, "client-2")
    operator.post(f"{BASE}/journeys/client-2/cancel", {"reason": "lost the deal"})

    everyone = operator.get(f"{BASE}/journeys").json()["results"]
    active = operator.get(f"{BASE}/journeys", {"active": "true"}).json()["results"]
    cancelled = operator.get(f"{BASE}/journeys", {"stage": "cancelled"}).json()["results"]

    assert [j["client_id"] for j in everyone] == ["client-2", "client-1"]
    assert [j["client_id"] for j in active] == ["client-1"]
    assert [j["client_id"] for j in cancelled] == ["client-2"]
    assert operator.get(f"{BASE}/journeys", {"stage": "limbo"}).status_code == 400


def test_an_unknown_client_is_404(operator):
    assert operator.get(f"{BASE}/journeys/nobody").status_code == 404
    assert operator.post(f"{BASE}/journeys/nobody/promote").status_code == 404


def test_validate_reports_each_check_with_its_measured_value(operator, evaluator):
    started(operator)
    evaluator.post(f"{BASE}/journeys/client-1/measurements", {"values": {"search_quality": 0.74}})

    response = operator.post(f"{BASE}/journeys/client-1/validate")

    assert response.status_code == 200
    body = response.json()
    assert body["passed"] is False and body["stage"] == "sandbox"
    checks = {c["key"]: c for c in body["checks"]}
    assert list(checks) == [
        "unit_of_work_completed",
        "connectors_syncing",
        "search_quality",
        "security_scan_passed",
        "demo_approved",
    ]
    assert checks["search_quality"] | {"label": ""} == {
        "key": "search_quality",
        "label": "",
        "kind": "metric",
        "measured": 0.74,
        "expected": "search_quality > 0.8",
        "passed": False,
        "detail": "0.74 misses search_quality > 0.8",
    }
    assert checks["unit_of_work_completed"]["measured"] == "running"
    assert checks["demo_approved"]["measured"] is None


def test_promoting_before_the_gate_opens_is_409_with_every_check(operator):
    started(operator)

    response = operator.post(f"{BASE}/journeys/client-1/promote")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "exit_criteria_not_met" and body["current_stage"] == "sandbox"
    assert "exit criteria fail" in body["reason"]
    assert len(body["checks"]) == 5 and not any(c["passed"] for c in body["checks"])
    history = operator.get(f"{BASE}/journeys/client-1").json()["history"]
    assert [h["kind"] for h in history] == ["started", "promotion_refused"]


def test_the_whole_sandbox_gate_through_the_api(operator, evaluator, django_capture_on_commit_callbacks):
    started(operator, capture=django_capture_on_commit_callbacks)
    completed = complete_sandbox_work(operator, capture=django_capture_on_commit_callbacks)
    assert completed["status"] == "succeeded" and completed["result"]["attendees"] == 5
    approve_sandbox(evaluator)

    response = operator.post(f"{BASE}/journeys/client-1/promote")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["journey"]["stage"] == "pilot"
    assert body["validation"]["passed"] is True
    assert [h["kind"] for h in body["journey"]["history"]] == ["started", "promoted"]
    units = operator.get(f"{BASE}/journeys/client-1/units-of-work").json()
    assert [(u["stage"], u["status"]) for u in units] == [("pilot", "completed"), ("sandbox", "completed")]
    events = operator.get(f"{BASE}/journeys/client-1/events").json()["results"]
    promoted = next(e for e in events if e["type"] == "StagePromoted")
    assert promoted["payload"]["from_stage"] == "sandbox" and promoted["payload"]["to_stage"] == "pilot"
    assert promoted["source"] == "stages"


def test_rolling_back_from_sandbox_is_409_with_the_stage_and_why(operator):
    started(operator)
    response = operator.post(f"{BASE}/journeys/client-1/rollback", {"reason": "bad data"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Cannot roll back a journey in sandbox: Sandbox is the first stage: there is no previous "
        "stage to roll back to.",
        "code": "invalid_transition",
        "current_stage": "sandbox",
        "reason": "Sandbox is the first stage: there is no previous stage to roll back to.",
    }


def test_rollback_and_cancel_need_a_reason(operator):
    started(operator)
    assert "reason" in operator.post(f"{BASE}/journeys/client-1/rollback", {}).json()
    assert "reason" in operator.post(f"{BASE}/journeys/client-1/cancel", {"reason": ""}).json()


def test_a_rollback_from_pilot_returns_to_sandbox(operator, evaluator, django_capture_on_commit_callbacks):
    started(operator, capture=django_capture_on_commit_callbacks)
    complete_sandbox_work(operator, capture=django_capture_on_commit_callbacks)
    approve_sandbox(evaluator)
    operator.post(f"{BASE}/journeys/client-1/promote")

    response = operator.post(f"{BASE}/journeys/client-1/rollback", {"reason": "pilot users cannot log in"})

    assert response.status_code == 200
    body = response.json()
    assert body["stage"] == "sandbox"
    assert [h["kind"] for h in body["history"]][-2:] == ["rollback_initiated", "rollback_completed"]
    assert body["history"][-2]["reason"] == "pilot users cannot log in"


def test_a_cancelled_journey_answers_409_to_every_move(operator):
    started(operator)
    response = operator.post(f"{BASE}/journeys/client-1/cancel", {"reason": "client churned"})
    assert response.status_code == 200 and response.json()["stage"] == "cancelled"
    assert response.json()["end_reason"] == "client churned"

    for action, body in [("promote", {}), ("rollback", {"reason": "x"}), ("cancel", {"reason": "x"})]:
        refused = operator.post(f"{BASE}/journeys/client-1/{action}", body)
        assert refused.status_code == 409, action
        assert refused.json()["current_stage"] == "cancelled"
    assert operator.post(f"{BASE}/journeys/client-1/validate").status_code == 409


def test_measurements_with_unknown_keys_are_refused_per_field(operator, evaluator):
    started(operator)
    response = evaluator.post(f"{BASE}/journeys/client-1/measurements", {"values": {"search_qualty": 0.9}})
    assert response.status_code == 400
    assert "values.search_qualty" in response.json()
    response = evaluator.post(
        f"{BASE}/journeys/client-1/measurements", {"values": {"search_quality": "high"}}
    )
    assert response.status_code == 400 and "values" in response.json()
    response = evaluator.post(f"{BASE}/journeys/client-1/approvals", {"key": "search_quality"})
    assert response.status_code == 400 and "key" in response.json()


def test_a_rejection_is_recorded_with_its_note(operator, evaluator):
    started(operator)
    response = evaluator.post(
        f"{BASE}/journeys/client-1/approvals",
        {"key": "security_scan_passed", "approved": False, "note": "2 high CVEs"},
    )
    assert response.status_code == 201
    [row] = response.json()["measurements"]
    assert (row["key"], row["value"], row["actor"], row["note"]) == (
        "security_scan_passed",
        0.0,
        "evaluator",
        "2 high CVEs",
    )


def test_units_of_work_can_be_cancelled_and_failed_ones_retried(operator):
    started(operator)
    [unit] = operator.get(f"{BASE}/journeys/client-1/units-of-work").json()

    retry = operator.post(f"{BASE}/units-of-work/{unit['work_id']}/retry")
    assert retry.status_code == 409 and retry.json()["current_status"] == "running"

    cancel = operator.post(f"{BASE}/units-of-work/{unit['work_id']}/cancel")
    assert cancel.status_code == 200
    assert cancel.json()["status"] == "cancelled"
    assert {t["status"] for t in cancel.json()["tasks"]} == {"cancelled"}
    assert operator.post(f"{BASE}/units-of-work/{unit['work_id']}/cancel").status_code == 409
    assert (
        operator.post(f"{BASE}/units-of-work/00000000-0000-0000-0000-000000000000/cancel").status_code == 404
    )


def test_completing_a_task_that_is_not_waiting_is_409(operator):
    started(operator)  # on-commit dispatch not run: the manual task is still queued
    [unit] = operator.get(f"{BASE}/journeys/client-1/units-of-work").json()
    [demo] = unit["tasks"]
    response = operator.post(f"{BASE}/tasks/{demo['task_id']}/complete", {})
    assert response.status_code == 409 and response.json()["current_status"] == "queued"
    response = operator.post(f"{BASE}/tasks/{demo['task_id']}/complete", {"succeeded": False})
    assert response.status_code == 400 and "error" in response.json()


def test_who_may_do_what(operator, evaluator, outsider, api_client):
    started(operator)
    assert outsider.get(f"{BASE}/journeys").status_code == 403
    assert outsider.get(f"{BASE}/journeys/client-1").status_code == 403
    assert outsider.post(f"{BASE}/journeys", {"client_id": "c-9"}).status_code == 403
    assert (
        outsider.post(f"{BASE}/journeys/client-1/measurements", {"values": PASS_SANDBOX}).status_code == 403
    )
    assert evaluator.post(f"{BASE}/journeys/client-1/promote").status_code == 403
    assert evaluator.post(f"{BASE}/journeys/client-1/cancel", {"reason": "x"}).status_code == 403
    assert (
        evaluator.post(f"{BASE}/journeys/client-1/measurements", {"values": PASS_SANDBOX}).status_code == 201
    )
    assert api_client.get(f"{BASE}/journeys").status_code == 401
