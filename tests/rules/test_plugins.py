"""What rules registers in journeys: set_flag/clear_flag step actions and the flag condition."""

from datetime import timedelta

import pytest
from django.utils import timezone

from journeys.models import Event
from journeys.registries import ActionContext, action_types, condition_types
from rules.models import Flag, FlagHistory

pytestmark = pytest.mark.django_db


def run(name: str, participant, config: dict, key: str = "step-run-1") -> dict:
    action = action_types[name]
    assert action.validate_config(config) == {}
    return action.execute(
        ActionContext(participant=participant, config=config, idempotency_key=key, journey_id=7)
    )


def test_the_action_and_condition_types_are_registered():
    assert "set_flag" in action_types and "clear_flag" in action_types
    assert "flag" in condition_types


def test_set_flag_sets_once_even_when_the_step_is_retried(participant):
    first = run("set_flag", participant, {"flag": "onboarded", "expires_in": "7 days"})
    retried = run("set_flag", participant, {"flag": "onboarded", "expires_in": "7 days"})

    assert first == {"flag": "onboarded", "value": True, "changed": True}
    assert retried["changed"] is False
    flag = Flag.objects.get()
    assert flag.set_by_rule == "journey:7"
    assert flag.expires_at == pytest.approx(timezone.now() + timedelta(days=7), abs=timedelta(seconds=5))
    history = FlagHistory.objects.get()
    assert history.reason == "action"
    assert Event.objects.get().idempotency_key == f"flag-history:{history.pk}"


def test_clear_flag_removes_it_once(participant):
    run("set_flag", participant, {"flag": "onboarded"})
    assert run("clear_flag", participant, {"flag": "onboarded"}) == {"flag": "onboarded", "changed": True}
    assert run("clear_flag", participant, {"flag": "onboarded"})["changed"] is False
    assert not Flag.objects.exists()


def test_action_configs_are_validated_field_by_field():
    assert set(action_types["set_flag"].validate_config({"value": "y", "expires_in": "later", "x": 1})) == {
        "flag",
        "value",
        "expires_in",
        "x",
    }
    assert "flag" in action_types["clear_flag"].validate_config({"flag": "no spaces"})


def test_the_flag_condition_reads_live_flags(participant):
    condition = condition_types["flag"]
    assert condition.validate_spec({"flag": "vip"}) == {}
    assert "value" in condition.validate_spec({"flag": "vip", "value": "yes"})
    assert condition.evaluate({"flag": "vip"}, participant=participant, context={}) == (False, None)

    Flag.objects.create(
        participant=participant, flag="vip", value=True, set_by_rule="r", set_at=timezone.now()
    )
    assert condition.evaluate({"flag": "vip"}, participant=participant, context={}) == (True, True)
    assert condition.evaluate({"flag": "vip", "value": False}, participant=participant, context={}) == (
        False,
        True,
    )

    Flag.objects.filter(flag="vip").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert condition.evaluate({"flag": "vip"}, participant=participant, context={}) == (False, None)
