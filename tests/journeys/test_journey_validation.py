"""A definition is validated as a whole before publishing, every problem with its path."""

import pytest

from journeys.crypto import secret_decrypt
from journeys.errors import ValidationFailed
from journeys.models import Journey, JourneyVersion
from journeys.services.journeys import journey_create, journey_publish
from tests.journeys.factories import action, make_journey, tag_step

pytestmark = pytest.mark.django_db


def publish_errors(steps, **fields) -> dict:
    journey = make_journey(steps, publish=False, **fields)
    with pytest.raises(ValidationFailed) as refused:
        journey_publish(journey=journey)
    return refused.value.errors


def save_errors(steps, **fields) -> dict:
    with pytest.raises(ValidationFailed) as refused:
        make_journey(steps, publish=False, **fields)
    return refused.value.errors


def test_unknown_action_types_and_bad_action_config_are_refused_on_save():
    errors = save_errors(
        [
            action("a", "send_carrier_pigeon", {}),
            action("b", "trigger_webhook", {"url": "not a url"}),
            action("c", "send_email", {"body": "hi"}),
            action("d", "apply_tag", {}),
        ]
    )
    assert "steps.0.action_type" in errors
    assert "steps.1.config.url" in errors
    assert errors["steps.2.config.subject"] == ["This field is required."]
    assert "steps.3.config.tag" in errors
    assert not Journey.objects.exists()  # nothing half-written


def test_dangling_next_steps_and_bad_conditions_name_their_step():
    errors = save_errors(
        [
            tag_step("a", "x", next_steps=["nowhere"]),
            tag_step("b", "y", condition={"field": "plan", "op": "resembles", "value": 1}),
        ]
    )
    assert errors["steps.0.next_steps.0.step"] == ["No step with key 'nowhere' in this journey."]
    assert "steps.1.condition.op" in errors


def test_a_branch_needs_a_default():
    errors = save_errors(
        [
            {
                "key": "route",
                "name": "Route",
                "kind": "branch",
                "next_steps": [{"step": "a", "condition": {"field": "plan", "op": "eq", "value": "pro"}}],
            },
            tag_step("a", "x", order=1),
        ]
    )
    assert "default" in errors["steps.0.next_steps"][0]


def test_unreachable_steps_are_refused_on_publish():
    errors = publish_errors([tag_step("a", "x", order=0, completion=True), tag_step("orphan", "y", order=1)])
    assert errors == {"steps.1.key": ["Step 'orphan' cannot be reached from the first step."]}


def test_a_cycle_without_a_wait_is_refused_and_one_with_a_wait_is_fine():
    errors = publish_errors(
        [tag_step("a", "x", order=0, next_steps=["b"]), tag_step("b", "y", order=1, next_steps=["a"])]
    )
    assert any("cycle without a wait" in m for m in errors["steps.0.next_steps"])

    journey = make_journey(
        [
            tag_step("a", "x", order=0, next_steps=["pause"]),
            {
                "key": "pause",
                "name": "Pause",
                "kind": "wait",
                "config": {"duration": "1 day"},
                "order": 1,
                "next_steps": ["a"],
            },
        ]
    )
    assert journey.state == Journey.State.PUBLISHED


def test_wait_steps_need_valid_durations_and_event_waits_a_timeout_branch():
    errors = save_errors(
        [
            {"key": "w", "name": "W", "kind": "wait", "config": {"duration": "a fortnight-ish"}},
            {"key": "t", "name": "T", "kind": "wait", "config": {"until": "25:00"}},
            {"key": "e", "name": "E", "kind": "wait_for_event", "config": {"event": "login"}},
        ]
    )
    assert "steps.0.config.duration" in errors
    assert "steps.1.config.until" in errors
    assert "steps.2.config.timeout" in errors
    assert "steps.2.config.timeout_step" in errors


def test_a_split_needs_weighted_variants_pointing_at_steps():
    errors = save_errors(
        [
            {
                "key": "ab",
                "name": "AB",
                "kind": "split",
                "config": {
                    "variants": [{"name": "A", "weight": 0, "step": "a"}, {"name": "A", "step": "zz"}]
                },
            },
            tag_step("a", "x", order=1),
        ]
    )
    assert "steps.0.config.variants.0.weight" in errors
    assert "steps.0.config.variants.1.name" in errors
    assert "steps.0.config.variants.1.step" in errors


def test_an_empty_journey_cannot_be_published():
    assert publish_errors([]) == {"steps": ["A journey needs at least one step to be published."]}


def test_publishing_freezes_a_version_and_republishing_unchanged_makes_none():
    journey = make_journey([tag_step("a", "x")])
    assert journey.live_version.number == 1
    assert journey.live_version.definition["steps"][0]["config"] == {"tag": "x"}
    journey_publish(journey=journey)
    assert JourneyVersion.objects.filter(journey=journey).count() == 1


def test_a_webhook_step_gets_its_own_signing_secret_when_saved():
    journey = journey_create(
        data={"name": "Hooks"}, steps=[action("hook", "trigger_webhook", {"url": "https://example.com/h"})]
    )
    stored = journey.steps.get().config["secret"]
    assert stored.startswith("fernet:") and secret_decrypt(stored).startswith("whsec_")
