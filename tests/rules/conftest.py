"""Fixtures of the rules tests: the default entity mappings and rules, records, ingestion."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from journeys.models import EntityRecord, Participant
from journeys.services.events import EventInput, events_ingest
from journeys.services.records import entity_mappings_load_defaults
from rules.services.rules import rules_load_defaults


@pytest.fixture
def mappings(db) -> None:
    """journeys' default event → entity mappings, plus the Q2Q mapping the default rules add."""
    entity_mappings_load_defaults()
    from journeys.models import EntityMapping

    EntityMapping.objects.get_or_create(event_type="q2q.*", entity="q2q_assessments")


@pytest.fixture
def default_rules(mappings) -> None:
    rules_load_defaults()


@pytest.fixture
def participant(db) -> Participant:
    return Participant.objects.create(user_id="ada", attributes={"language": "fi"}, tags=["beta"])


@pytest.fixture
def record(participant) -> Callable[..., EntityRecord]:
    """``record("kintell_sessions", rating=5, ago=timedelta(days=2))`` writes one entity record."""

    def make(
        entity: str, *, ago: timedelta = timedelta(minutes=1), who: Participant | None = None, **data: Any
    ):
        return EntityRecord.objects.create(
            participant=who or participant, entity=entity, data=data, occurred_at=timezone.now() - ago
        )

    return make


@pytest.fixture
def ingest(django_capture_on_commit_callbacks) -> Callable[..., list]:
    """Ingest events as the API does and run what commits schedule (the bus, inline)."""

    def send(*events: dict[str, Any]) -> list:
        with django_capture_on_commit_callbacks(execute=True):
            return events_ingest(events=[EventInput(**e) for e in events])

    return send
