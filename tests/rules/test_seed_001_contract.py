"""Seed 001's rules API as documented: a PUT carries a partial rule, and a ``value`` condition on
``avg_rating`` reads a literal field before the aggregate. Examples read from the document."""

from datetime import timedelta

import pytest

from journeys.models import Participant
from rules.models import Rule
from tests.seed_docs import seed_text, yaml_blocks

pytestmark = pytest.mark.django_db
BASE = "/api/v1/journey"


@pytest.fixture
def custom_rule(admin_api, mappings) -> dict:
    """The document's *Creating Custom Rules* YAML, created through the API as step 2 says."""
    [rule] = yaml_blocks("001", "id: custom_rule_001")
    response = admin_api.post(f"{BASE}/rules", rule, format="json")
    assert response.status_code == 201, response.json()
    return rule


def test_the_document_says_a_put_carries_a_partial_rule():
    text = seed_text("001")
    section = text[text.index("#### PUT `/journey/rules/:id`") :].split("####", 2)[1]
    assert "Partial rule object with fields to update" in section


def test_a_put_with_some_fields_updates_those_and_keeps_the_rest(admin_api, custom_rule):
    response = admin_api.put(
        f"{BASE}/rules/custom_rule_001", {"priority": 30, "description": "Five matches"}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["priority"] == 30 and body["description"] == "Five matches"
    assert body["name"] == custom_rule["name"] and body["flag"] == "custom_flag"
    assert body["conditions"] == custom_rule["conditions"] and body["active"] is True
    rule = Rule.objects.get(rule_id="custom_rule_001")
    assert (rule.priority, rule.rule_config["actions"]) == (30, custom_rule["actions"])


def test_a_put_with_a_bad_field_changes_nothing_and_names_it(admin_api, custom_rule):
    response = admin_api.put(f"{BASE}/rules/custom_rule_001", {"priority": "high"}, format="json")
    assert response.status_code == 400 and "priority" in str(response.json())
    assert Rule.objects.get(rule_id="custom_rule_001").priority == custom_rule["priority"]


@pytest.fixture
def avg_rating_rule(admin_api, mappings) -> None:
    """A rule whose only condition is the document's *Value Condition* example, verbatim."""
    [condition] = yaml_blocks("001", "field: avg_rating\noperator: '>='")
    assert condition == {
        "type": "value",
        "entity": "kintell_sessions",
        "field": "avg_rating",
        "operator": ">=",
        "value": 4.0,
    }
    rule = {
        "rule_id": "well_rated_001",
        "name": "Well rated",
        "flag": "well_rated",
        "conditions": [condition],
        "actions": [{"type": "set_flag", "flag": "well_rated", "value": True}],
    }
    assert admin_api.post(f"{BASE}/rules", rule, format="json").status_code == 201


def _well_rated(admin_api, user_id: str) -> bool:
    body = admin_api.post(f"{BASE}/flags/{user_id}/evaluate", {"dry_run": True}, format="json").json()
    return "well_rated_001" in body["triggered_rules"]


def test_avg_rating_is_the_average_of_rating_when_no_record_carries_it(admin_api, avg_rating_rule, record):
    for rating in (5, 4, 4):
        record("kintell_sessions", rating=rating)
    assert _well_rated(admin_api, "ada")
    bob = Participant.objects.create(user_id="bob")
    for rating in (5, 4, 4, 1):
        record("kintell_sessions", rating=rating, who=bob)
    assert not _well_rated(admin_api, "bob")  # (5 + 4 + 4 + 1) / 4 = 3.5


def test_a_literal_avg_rating_of_the_newest_record_wins_over_the_aggregate(
    admin_api, avg_rating_rule, record
):
    record("kintell_sessions", rating=2, ago=timedelta(days=3))
    record("kintell_sessions", rating=2, avg_rating=4.6, ago=timedelta(days=1))
    assert _well_rated(admin_api, "ada")  # the source's own average, not (2 + 2) / 2

    bob = Participant.objects.create(user_id="bob")
    record("kintell_sessions", rating=5, who=bob, ago=timedelta(days=2))
    record("kintell_sessions", rating=5, avg_rating=3.1, who=bob)
    assert not _well_rated(admin_api, "bob")


def test_an_older_literal_or_a_null_one_leaves_the_aggregate_in_charge(admin_api, avg_rating_rule, record):
    record("kintell_sessions", rating=2, avg_rating=4.9, ago=timedelta(days=3))
    record("kintell_sessions", rating=2, avg_rating=None)
    assert not _well_rated(admin_api, "ada")  # newest has no value: the average of rating is 2
