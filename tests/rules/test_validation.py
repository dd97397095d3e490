"""Definitions are validated as a whole, with a message per field path."""

from pathlib import Path

import pytest
import yaml

from rules.engine.validation import MAX_DEPTH, rule_definition_validate
from tests.rules.factories import definition

FIXTURES = Path(__file__).parent / "fixtures"
KNOWN = {"kintell_sessions", "buddy_matches", "buddy_events", "learning_progress", "program_enrollments"}


def errors_of(raw, known=KNOWN) -> dict:
    return rule_definition_validate(raw, known_entities=known)[1]


@pytest.mark.parametrize("name", ["custom_rule_001.yaml", "high_engagement_001.yaml"])
def test_the_seed_examples_are_valid_as_written(name):
    raw = yaml.safe_load((FIXTURES / name).read_text())
    normalised, errors = rule_definition_validate(raw, known_entities=KNOWN)
    assert errors == {}
    assert normalised["rule_id"] == raw["id"]


def test_defaults_are_filled_in():
    normalised, _ = rule_definition_validate(
        {
            "rule_id": "r",
            "flag": "f",
            "conditions": [{"type": "time_since", "entity": "x", "duration": "1 day"}],
            "actions": [{"type": "set_flag", "flag": "f"}],
        }
    )
    assert normalised["name"] == "r" and normalised["priority"] == 0 and normalised["active"] is True
    assert normalised["conditions"][0] | {} == {
        "type": "time_since",
        "entity": "x",
        "duration": "1 day",
        "field": "last_activity",
        "operator": ">=",
    }


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        ({"rule_id": "has space"}, "rule_id", "letters"),
        ({"flag": None}, "flag", "Required"),
        ({"priority": True}, "priority", "whole number"),
        ({"active": "yes"}, "active", "true or false"),
        ({"conditions": []}, "conditions", "at least one"),
        ({"actions": []}, "actions", "at least one"),
        ({"colour": "red"}, "colour", "Unknown key"),
        ({"conditions": [{"type": "magic"}]}, "conditions.0.type", "Unknown condition type"),
        ({"conditions": [{"type": "count", "entity": "kintell_sessions"}]}, "conditions.0.count", "required"),
        ({"conditions": [{"type": "exists", "entity": "dragons"}]}, "conditions.0.entity", "Unknown entity"),
        ({"conditions": [{"type": "exists", "entity": "Bad-Name"}]}, "conditions.0.entity", "entity name"),
        (
            {"conditions": [{"type": "exists", "entity": "buddy_matches", "value": 1}]},
            "conditions.0.value",
            "field",
        ),
        (
            {
                "conditions": [
                    {"type": "value", "entity": "buddy_matches", "field": "x", "operator": "in", "value": 1}
                ]
            },
            "conditions.0.value",
            "list",
        ),
        (
            {
                "conditions": [
                    {"type": "value", "entity": "buddy_matches", "field": "x", "operator": ">", "value": [1]}
                ]
            },
            "conditions.0.value",
            "compares",
        ),
        (
            {
                "conditions": [
                    {"type": "value", "entity": "buddy_matches", "field": "x y", "operator": "=", "value": 1}
                ]
            },
            "conditions.0.field",
            "field name",
        ),
        (
            {"conditions": [{"type": "time_since", "entity": "buddy_events", "duration": "3 fortnights"}]},
            "conditions.0.duration",
            "duration",
        ),
        (
            {
                "conditions": [
                    {"type": "time_since", "entity": "buddy_events", "duration": "1 day", "operator": "="}
                ]
            },
            "conditions.0.operator",
            ">=",
        ),
        (
            {
                "conditions": [
                    {"type": "time_since", "entity": "buddy_events", "field": "avg_x", "duration": "1 day"}
                ]
            },
            "conditions.0.field",
            "time",
        ),
        ({"conditions": [{"type": "any_of", "conditions": []}]}, "conditions.0.conditions", "at least one"),
        ({"conditions": [{"type": "not"}]}, "conditions.0.condition", "required"),
        (
            {"conditions": [{"type": "flag", "flag": "x", "value": "yes"}]},
            "conditions.0.value",
            "true or false",
        ),
        (
            {"conditions": [{"type": "attribute", "field": "age", "operator": "=~", "value": 1}]},
            "conditions.0.operator",
            "Unknown operator",
        ),
        ({"actions": [{"type": "teleport"}]}, "actions.0.type", "Unknown action type"),
        ({"actions": [{"type": "set_flag", "flag": "f", "value": 1}]}, "actions.0.value", "true or false"),
        (
            {"actions": [{"type": "set_flag", "flag": "f", "expires_in": "soon"}]},
            "actions.0.expires_in",
            "duration",
        ),
        ({"actions": [{"type": "emit_event", "event": "x"}]}, "actions", "add a set_flag"),
        (
            {"actions": [{"type": "set_flag", "flag": "f"}, {"type": "emit_event", "event": "a b"}]},
            "actions.1.event",
            "event type",
        ),
        (
            {
                "actions": [
                    {"type": "set_flag", "flag": "f"},
                    {"type": "emit_event", "event": "orchestration.milestone.reached", "payload": {}},
                ]
            },
            "actions.1.payload.milestone",
            "milestone",
        ),
        ({"milestone": {"title": "x"}}, "milestone", "name"),
        ({"otherwise": {"type": "clear_flag"}}, "otherwise", "list"),
    ],
)
def test_bad_definitions_are_refused_with_a_message_at_the_field(change, path, fragment):
    errors = errors_of(definition(**change))
    assert path in errors, errors
    assert any(fragment in message for message in errors[path]), errors[path]


def test_nesting_deeper_than_the_limit_is_refused():
    condition = {"type": "exists", "entity": "buddy_matches"}
    for _ in range(MAX_DEPTH):
        condition = {"type": "not", "condition": condition}
    errors = errors_of(definition(conditions=[condition]))
    assert any("nest at most" in m for messages in errors.values() for m in messages)


def test_every_problem_is_reported_at_once():
    errors = errors_of(
        definition(
            priority="x",
            conditions=[{"type": "count", "entity": "kintell_sessions", "count": "~", "count_value": "3"}],
            actions=[{"type": "set_flag"}],
        )
    )
    assert set(errors) == {"priority", "conditions.0.count", "conditions.0.count_value", "actions.0.flag"}


def test_not_an_object_is_refused():
    assert errors_of(["a list"]) == {
        "non_field_errors": ["A rule definition must be an object (a YAML/JSON mapping)."]
    }


def test_an_unknown_operator_is_answered_with_both_spellings_of_each():
    _, errors = rule_definition_validate(
        definition(conditions=[{"type": "attribute", "field": "age", "operator": "=~", "value": 1}])
    )
    [message] = errors["conditions.0.operator"]
    for spelling in ("eq", "=", "gte", ">=", "lt", "<", "in", "contains"):
        assert spelling in message


def test_a_time_since_operator_is_answered_with_the_orderings_only():
    _, errors = rule_definition_validate(
        definition(
            conditions=[
                {"type": "time_since", "entity": "buddy_events", "duration": "1 day", "operator": "eq"}
            ]
        )
    )
    [message] = errors["conditions.0.operator"]
    assert "gte (>=)" in message and "eq" not in message
