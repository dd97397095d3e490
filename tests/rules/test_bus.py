"""Rules on the event bus: their place among subscribers, and the batch handler.

The bus hands the rules subscriber every event of a worker message at once; the batch must
write exactly what handling the events one by one would (flags, history, milestones, events),
and journeys that read a flag must see the value the very event that set it decided.
"""

import pytest

from journeys import bus
from journeys.models import UserJourney
from rules.models import Flag
from rules.services.rules import rule_create
from tests.journeys.factories import make_journey, tag_step
from tests.rules.factories import definition

pytestmark = pytest.mark.django_db


def language_session(user_id: str, rating: int = 5) -> dict:
    return {
        "type": "kintell.session.completed",
        "user_id": user_id,
        "payload": {"session_type": "language", "rating": rating},
    }


def test_rules_run_before_the_journeys_subscriber():
    names = [s.name for s in bus.subscribers_for("kintell.session.completed")]
    assert names.index("rules.evaluate") < names.index("journeys.journey_runner")


def test_a_journey_triggered_by_the_event_that_sets_a_flag_sees_the_new_value(
    mappings, ingest, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rule_create(definition=definition())  # 3 language sessions → mentor_ready
    journey = make_journey(
        [tag_step("welcome", "mentor_welcomed")],
        name="Mentor welcome",
        trigger_type="kintell.session.completed",
        trigger_conditions={"type": "flag", "flag": "mentor_ready"},
    )

    ingest(language_session("ada"))
    ingest(language_session("ada"))
    assert not UserJourney.objects.exists()
    [third] = ingest(language_session("ada"))

    [run] = UserJourney.objects.filter(journey=journey)
    assert run.participant.user_id == "ada"
    assert run.trigger_event_id == third.id  # not the echo, not a later event: this very one
    assert Flag.objects.get(flag="mentor_ready").value is True
