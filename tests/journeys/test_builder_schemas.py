"""Action configs are described by JSON Schemas: the same schema validates every save (admin,
canvas, API) and words its messages the way staff read them; implicit paths are said in words."""

import pytest

from journeys.actions.schemas import config_schema_errors
from journeys.engine.validation import implicit_transitions, validate_definition
from journeys.registries import action_types
from tests.journeys.factories import action, tag_step

BUILT_IN = [
    "apply_tag",
    "emit_event",
    "grant_reward",
    "remove_tag",
    "schedule_next",
    "send_email",
    "send_push",
    "send_telegram",
    "trigger_webhook",
]


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_action_declares_a_schema_its_example_satisfies(name):
    action_type = action_types[name]
    schema = action_type.config_schema
    assert schema["type"] == "object" and schema["properties"]
    assert all(prop.get("title") for prop in schema["properties"].values())
    assert config_schema_errors(schema, action_type.config_example) == {}


def test_schema_messages_name_the_field_and_say_what_is_wrong():
    schema = action_types["trigger_webhook"].config_schema
    errors = config_schema_errors(schema, {"timeout_seconds": "soon", "retries": 3})
    assert errors == {
        "url": ["This field is required."],
        "retries": ["Unknown setting (allowed: headers, payload, secret, timeout_seconds, url)."],
        "timeout_seconds": ["Must be a number."],
    }
    assert config_schema_errors(action_types["grant_reward"].config_schema, {"reward": "", "amount": -1}) == {
        "reward": ["This field is required."],
        "amount": ["At least 0."],
    }
    assert config_schema_errors(action_types["emit_event"].config_schema, {"type": "has space"}) == {
        "type": ["An event type: letters, digits and . _ - : only."]
    }
    assert config_schema_errors(
        action_types["send_telegram"].config_schema, {"message": "hi", "parse_mode": "rtf"}
    ) == {"parse_mode": ["Use one of: 'HTML', 'MarkdownV2', 'Markdown'."]}


def test_a_definition_reports_one_message_per_problem_from_schema_and_action_checks():
    steps = [
        action("mail", "send_email", {"body": "Hi {% if %}"}),  # no subject; a broken template
        action("hook", "trigger_webhook", {"url": 42}),
    ]
    errors = validate_definition(steps=steps)
    assert errors["steps.0.config.subject"] == ["This field is required."]
    assert errors["steps.0.config.body"][0].startswith("Template error")
    assert errors["steps.1.config.url"] == ["Must be text."]  # not also "An http(s) URL …"


def test_the_api_refuses_a_config_the_schema_refuses(admin_api):
    body = {
        "name": "Schema checked",
        "trigger_type": "signup",
        "steps": [
            {"key": "tag", "name": "Tag", "kind": "action", "action_type": "apply_tag", "config": {"tag": 5}}
        ],
    }
    response = admin_api.post("/api/v1/journeys", body, format="json")
    assert response.status_code == 400
    assert "Must be text." in str(response.json())


def test_steps_without_a_way_out_are_said_in_words():
    steps = [
        {
            "key": "route",
            "name": "Route",
            "kind": "branch",
            "order": 1,
            "next_steps": [
                {"step": "pro", "condition": {"field": "plan", "op": "eq", "value": "pro"}},
                "free",
            ],
        },
        {**tag_step("pro", "pro"), "order": 2},
        {**tag_step("free", "free"), "order": 3},
    ]
    assert validate_definition(steps=steps, for_publish=True) == {}  # legal …
    assert implicit_transitions(steps) == {  # … but not silent
        "steps.1.next_steps": [
            "No next step (reached from branch 'route'): it continues with 'free', the next step by order. "
            "Connect it explicitly, or end the path with an end step."
        ],
        "steps.2.next_steps": [
            "No next step (reached from branch 'route'): the journey ends here. "
            "Make it an end step to say so."
        ],
    }


def test_explicit_paths_and_end_steps_leave_nothing_implicit():
    steps = [
        {**tag_step("a", "a"), "order": 1, "next_steps": ["done"]},
        {"key": "done", "name": "Done", "kind": "end", "order": 2},
    ]
    assert implicit_transitions(steps) == {}
