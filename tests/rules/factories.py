"""Factories and builders for rules tests."""

from typing import Any

import factory
from django.utils import timezone

from rules.models import Flag, Rule
from tests.journeys.factories import ParticipantFactory


def definition(**overrides: Any) -> dict[str, Any]:
    """A valid rule definition: 3+ language sessions set ``mentor_ready``."""
    base: dict[str, Any] = {
        "rule_id": "test_rule_001",
        "name": "Test rule",
        "description": "For tests",
        "flag": "mentor_ready",
        "priority": 10,
        "active": True,
        "conditions": [
            {
                "type": "count",
                "entity": "kintell_sessions",
                "field": "session_type",
                "value": "language",
                "count": ">=",
                "count_value": 3,
            }
        ],
        "actions": [{"type": "set_flag", "flag": "mentor_ready", "value": True}],
    }
    base.update(overrides)
    return base


class RuleFactory(factory.django.DjangoModelFactory):
    """A saved rule; pass ``rule_config=definition(...)`` for other conditions."""

    class Meta:
        model = Rule
        django_get_or_create = ["rule_id"]

    rule_id = factory.Sequence(lambda n: f"rule_{n:03d}")
    name = factory.LazyAttribute(lambda o: o.rule_id)
    flag = "mentor_ready"
    priority = 10
    active = True
    rule_config = factory.LazyAttribute(
        lambda o: definition(rule_id=o.rule_id, priority=o.priority, flag=o.flag)
    )


class FlagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Flag

    participant = factory.SubFactory(ParticipantFactory)
    flag = "mentor_ready"
    value = True
    set_by_rule = "manual"
    set_at = factory.LazyFunction(timezone.now)
