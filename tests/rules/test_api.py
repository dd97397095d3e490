"""The rules API: every endpoint, its permissions, field-level 400s and 404s.

The cast: an operator (reads flags, evaluates), a rule designer (manages rules), an outsider
(authenticated, no permissions), and nobody (anonymous).
"""

from pathlib import Path

import pytest

from journeys.models import Event, Participant
from rules.models import Flag, FlagHistory, Milestone, Rule
from rules.services.flags import flag_set
from tests.rules.factories import definition

pytestmark = pytest.mark.django_db

BASE = "/api/v1/journey"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def operator(make_user, client_for):
    return client_for(
        make_user(
            "operator",
            "rules.view_flag",
            "rules.view_flaghistory",
            "rules.view_milestone",
            "rules.add_milestone",
            "rules.evaluate_rule",
        )
    )


@pytest.fixture
def designer(make_user, client_for):
    return client_for(
        make_user("designer", "rules.view_rule", "rules.add_rule", "rules.change_rule", "rules.delete_rule")
    )


@pytest.fixture
def outsider(make_user, client_for):
    return client_for(make_user("outsider"))


@pytest.fixture
def ready(mappings, participant, record):
    """ada has three language sessions rated 5; the test rule would set mentor_ready."""
    from rules.services.rules import rule_create

    rule_create(definition=definition())
    for _ in range(3):
        record("kintell_sessions", session_type="language", rating=5)
    return participant


# ----------------------------------------------------------------------------------------------
# Flags, evaluation, history
# ----------------------------------------------------------------------------------------------
def test_get_flags_shows_live_flags_in_the_seed_shape(operator, participant):
    flag_set(participant=participant, flag="mentor_ready")
    response = operator.get(f"{BASE}/flags/ada")
    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == "ada" and body["count"] == 1
    assert set(body["flags"][0]) == {"flag", "value", "set_by_rule", "set_at", "expires_at"}
    assert body["flags"][0]["set_by_rule"] == "manual"


def test_unknown_participants_are_404(operator):
    for path in ("flags/nobody", "flags/nobody/history", "milestones/nobody"):
        assert operator.get(f"{BASE}/{path}").status_code == 404
    assert operator.post(f"{BASE}/flags/nobody/evaluate", {}).status_code == 404
    assert operator.post(f"{BASE}/milestones/nobody/kickoff", {}).status_code == 404


def test_evaluate_writes_and_answers_what_changed(operator, ready):
    response = operator.post(f"{BASE}/flags/ada/evaluate", {})
    assert response.status_code == 200
    body = response.json()
    assert body["evaluated_rules"] == ["test_rule_001"]
    assert body["triggered_rules"] == ["test_rule_001"]
    assert body["changes"][0]["flag"] == "mentor_ready" and body["changes"][0]["value"] is True
    assert body["events"] == ["orchestration.flag.updated"]
    assert body["dry_run"] is False and body["trace"] is None and "timestamp" in body
    assert Flag.objects.get().value is True

    again = operator.post(f"{BASE}/flags/ada/evaluate", {}).json()
    assert again["changes"] == [] and again["events"] == []
    assert FlagHistory.objects.count() == 1


def test_evaluate_dry_run_with_trace_writes_nothing(operator, ready):
    body = operator.post(f"{BASE}/flags/ada/evaluate", {"dry_run": True, "trace": True}).json()
    assert body["dry_run"] is True and len(body["changes"]) == 1
    [rule_trace] = body["trace"]
    assert rule_trace["rule_id"] == "test_rule_001" and rule_trace["holds"] is True
    assert rule_trace["condition"]["actual"] == 3
    assert not Flag.objects.exists() and not Event.objects.exists()


def test_evaluate_refuses_bad_options_field_by_field(operator, ready):
    response = operator.post(f"{BASE}/flags/ada/evaluate", {"dry_run": "perhaps"})
    assert response.status_code == 400 and "dry_run" in response.json()


def test_history_pages_newest_first(operator, participant):
    for n in range(5):
        flag_set(participant=participant, flag="vip", value=n % 2 == 0)
    first = operator.get(f"{BASE}/flags/ada/history", {"limit": 2}).json()
    assert first["count"] == 5 and len(first["history"]) == 2
    assert first["history"][0]["id"] > first["history"][1]["id"]
    rest = operator.get(f"{BASE}/flags/ada/history", {"limit": 10, "before": first["next_before"]}).json()
    assert len(rest["history"]) == 3 and rest["next_before"] is None
    assert operator.get(f"{BASE}/flags/ada/history", {"limit": 0}).status_code == 400


# ----------------------------------------------------------------------------------------------
# Milestones
# ----------------------------------------------------------------------------------------------
def test_manual_milestone_is_recorded_once(operator, participant):
    body = {"metadata": {"reason": "Manual override", "triggered_by": "admin@example.com"}}
    first = operator.post(f"{BASE}/milestones/ada/mentor_ready", body)
    assert first.status_code == 201
    assert first.json()["success"] is True
    assert first.json()["milestone"]["triggered_by_rule"] == "manual"
    assert first.json()["milestone"]["metadata"] == body["metadata"]

    second = operator.post(f"{BASE}/milestones/ada/mentor_ready", {"metadata": {"other": 1}})
    assert second.status_code == 200 and second.json()["created"] is False
    assert Milestone.objects.count() == 1
    assert Event.objects.filter(type="orchestration.milestone.reached").count() == 1

    listed = operator.get(f"{BASE}/milestones/ada").json()
    assert listed["count"] == 1 and listed["milestones"][0]["milestone"] == "mentor_ready"


def test_manual_milestone_refuses_bad_names_and_metadata(operator, participant):
    assert operator.post(f"{BASE}/milestones/ada/bad name!", {}).json() == {
        "milestone": ["A milestone name: letters, digits and _ . : - only, starting with a letter."]
    }
    assert "metadata" in operator.post(f"{BASE}/milestones/ada/ok", {"metadata": [1]}).json()


# ----------------------------------------------------------------------------------------------
# Rules
# ----------------------------------------------------------------------------------------------
def test_create_the_seed_example_as_json_then_read_list_update_delete(designer, mappings):
    import yaml

    seed = yaml.safe_load((FIXTURES / "custom_rule_001.yaml").read_text())
    created = designer.post(f"{BASE}/rules", seed)
    assert created.status_code == 201, created.json()
    assert created.json()["rule_id"] == "custom_rule_001" and created.json()["version"] == 1

    assert designer.get(f"{BASE}/rules/custom_rule_001").json()["conditions"] == seed["conditions"]
    listed = designer.get(f"{BASE}/rules").json()
    assert listed["count"] == 1 and listed["rules"][0]["rule_id"] == "custom_rule_001"

    patched = designer.patch(f"{BASE}/rules/custom_rule_001", {"priority": 30})
    assert patched.status_code == 200 and patched.json()["priority"] == 30 and patched.json()["version"] == 2

    replaced = designer.put(
        f"{BASE}/rules/custom_rule_001", definition(rule_id="custom_rule_001", name="New")
    )
    assert (
        replaced.status_code == 200 and replaced.json()["name"] == "New" and replaced.json()["priority"] == 10
    )

    assert designer.delete(f"{BASE}/rules/custom_rule_001").status_code == 204
    assert not Rule.objects.exists()
    assert designer.get(f"{BASE}/rules/custom_rule_001").status_code == 404


def test_create_from_yaml(designer, mappings):
    response = designer.post(
        f"{BASE}/rules",
        (FIXTURES / "high_engagement_001.yaml").read_text(),
        content_type="application/yaml",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["rule_id"] == "high_engagement_001"


def test_bad_yaml_is_a_400_with_the_position(designer, mappings):
    response = designer.post(f"{BASE}/rules", "rule_id: [unclosed", content_type="application/yaml")
    assert response.status_code == 400
    assert "line 1" in response.json()["definition"][0]


def test_bad_definitions_are_refused_with_every_field_named(designer, mappings):
    bad = definition(
        priority="high",
        conditions=[
            {"type": "count", "entity": "kintell_sessions", "count": ">=", "count_value": -1},
            {"type": "time_since", "entity": "buddy_events", "duration": "a while"},
            {"type": "all_of", "conditions": []},
            {"type": "value", "entity": "unicorns", "field": "avg_rating", "operator": "~", "value": 1},
        ],
    )
    response = designer.post(f"{BASE}/rules", bad)
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) >= {
        "priority",
        "conditions.0.count_value",
        "conditions.1.duration",
        "conditions.2.conditions",
        "conditions.3.entity",
        "conditions.3.operator",
    }
    assert not Rule.objects.exists()


def test_a_duplicate_rule_id_and_a_changed_rule_id_are_refused(designer, mappings):
    designer.post(f"{BASE}/rules", definition())
    assert "rule_id" in designer.post(f"{BASE}/rules", definition()).json()
    response = designer.patch(f"{BASE}/rules/test_rule_001", {"rule_id": "other"})
    assert response.status_code == 400 and "rule_id" in response.json()


def test_activate_and_deactivate(designer, mappings):
    designer.post(f"{BASE}/rules", definition())
    off = designer.post(f"{BASE}/rules/test_rule_001/deactivate")
    assert off.status_code == 200 and off.json()["active"] is False
    assert designer.get(f"{BASE}/rules", {"active": "true"}).json()["count"] == 0
    on = designer.post(f"{BASE}/rules/test_rule_001/activate")
    assert on.json()["active"] is True and on.json()["version"] == 3
    assert designer.post(f"{BASE}/rules/nope/activate").status_code == 404


def test_preview_and_backtest(operator, ready, record):
    other = Participant.objects.create(user_id="bob")
    record("kintell_sessions", who=other, session_type="language")

    preview = operator.post(f"{BASE}/rules/test_rule_001/preview", {"user_id": "ada"})
    assert preview.status_code == 200
    assert preview.json()["holds"] is True and preview.json()["condition"]["actual"] == 3
    assert operator.post(f"{BASE}/rules/test_rule_001/preview", {"user_id": "zed"}).status_code == 404

    backtest = operator.post(f"{BASE}/rules/test_rule_001/backtest", {})
    assert backtest.json()["participants_evaluated"] == 2
    assert backtest.json()["matched"] == 1 and backtest.json()["sample_user_ids"] == ["ada"]
    limited = operator.post(f"{BASE}/rules/test_rule_001/backtest", {"limit": 1}).json()
    assert limited["participants_evaluated"] == 1 and limited["truncated"] is True
    assert not Flag.objects.exists()


# ----------------------------------------------------------------------------------------------
# Permissions
# ----------------------------------------------------------------------------------------------
ENDPOINTS = [
    ("get", "flags/ada", None),
    ("post", "flags/ada/evaluate", {}),
    ("get", "flags/ada/history", None),
    ("get", "milestones/ada", None),
    ("post", "milestones/ada/kickoff", {}),
    ("get", "rules", None),
    ("post", "rules", definition()),
    ("get", "rules/test_rule_001", None),
    ("put", "rules/test_rule_001", definition()),
    ("patch", "rules/test_rule_001", {"priority": 1}),
    ("delete", "rules/test_rule_001", None),
    ("post", "rules/test_rule_001/activate", None),
    ("post", "rules/test_rule_001/deactivate", None),
    ("post", "rules/test_rule_001/preview", {"user_id": "ada"}),
    ("post", "rules/test_rule_001/backtest", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_anonymous_is_401_and_outsiders_are_403(api_client, outsider, ready, method, path, body):
    assert getattr(api_client, method)(f"{BASE}/{path}", body).status_code in (401, 403)
    assert getattr(outsider, method)(f"{BASE}/{path}", body).status_code == 403


def test_operators_cannot_change_rules_and_designers_cannot_read_flags(operator, designer, ready):
    assert operator.post(f"{BASE}/rules", definition(rule_id="x")).status_code == 403
    assert operator.post(f"{BASE}/rules/test_rule_001/deactivate").status_code == 403
    assert designer.get(f"{BASE}/flags/ada").status_code == 403
    assert designer.post(f"{BASE}/flags/ada/evaluate", {}).status_code == 403
