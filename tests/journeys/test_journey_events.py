"""Journeys publish what happens to their runs on the bus, once per fact (idempotency keys)."""

import pytest

from journeys import journey_events
from journeys.models import Event, UserJourney
from journeys.services.enrolment import user_journey_enrol
from journeys.services.events import EventInput, events_ingest
from journeys.services.user_journeys import user_journey_advance, user_journey_cancel
from tests.journeys.factories import make_journey, tag_step

pytestmark = pytest.mark.django_db

MILESTONES = [
    {"key": "upload", "name": "Upload", "kind": "manual", "is_milestone": True, "next_steps": ["check"]},
    {"key": "check", "name": "Check", "kind": "manual", "is_milestone": True, "completion": True},
]


def journey_facts(**filters) -> list[tuple[str, dict]]:
    rows = Event.objects.filter(source="journeys", **filters).order_by("id")
    return [(e.type, {k: v for k, v in e.payload.items() if k in {"milestone", "reason"}}) for e in rows]


def test_a_run_publishes_enrolment_milestones_and_completion_in_order(django_capture_on_commit_callbacks):
    journey = make_journey(MILESTONES, trigger_type="")
    with django_capture_on_commit_callbacks(execute=True):
        uj = user_journey_enrol(journey=journey, user_id="ada")
        user_journey_advance(user_journey=uj, step_result={})
        user_journey_advance(user_journey=UserJourney.objects.get(pk=uj.pk), step_result={})

    assert journey_facts() == [
        ("journey.enrolled", {}),
        ("journey.milestone.started", {"milestone": "upload"}),
        ("journey.milestone.completed", {"milestone": "upload"}),
        ("journey.milestone.started", {"milestone": "check"}),
        ("journey.milestone.completed", {"milestone": "check"}),
        ("journey.completed", {"reason": "completed"}),
    ]
    events = Event.objects.filter(source="journeys")
    assert {e.participant.user_id for e in events} == {"ada"}
    assert all(
        e.payload["user_journey_id"] == uj.pk and e.payload["journey_id"] == journey.pk for e in events
    )
    assert len({e.idempotency_key for e in events}) == 6
    assert {e.status for e in events} == {Event.Status.PROCESSED}  # they went through the bus


def test_publishing_the_same_fact_again_stores_nothing_new():
    journey = make_journey(MILESTONES, trigger_type="")
    uj = user_journey_enrol(journey=journey, user_id="ada")
    before = Event.objects.count()
    again = journey_events.journey_event(
        uj, journey_events.ENROLLED, key=str(uj.pk), user_id="ada", version=uj.version.number
    )
    told_otherwise = journey_events.journey_event(uj, journey_events.ENROLLED, key=str(uj.pk), user_id="ada")

    journey_events.journey_events_publish([again, again])
    journey_events.journey_events_publish([told_otherwise])  # the first telling stands; no error

    assert Event.objects.count() == before


def test_cancelling_publishes_cancelled_with_the_reason():
    journey = make_journey(MILESTONES, trigger_type="")
    uj = user_journey_enrol(journey=journey, user_id="ada")
    user_journey_cancel(user_journey=uj, reason="customer left")
    assert journey_facts(type="journey.cancelled") == [("journey.cancelled", {"reason": "customer left"})]


def test_reaching_the_goal_publishes_completed_and_converted(django_capture_on_commit_callbacks):
    journey = make_journey(MILESTONES, trigger_type="", goal_event="purchase")
    with django_capture_on_commit_callbacks(execute=True):
        user_journey_enrol(journey=journey, user_id="ada")
        events_ingest(events=[EventInput(type="purchase", user_id="ada")])
    types = [t for t, _ in journey_facts()]
    assert types[-2:] == ["journey.completed", "journey.converted"]


def test_only_milestones_publish_milestone_events():
    steps = [
        {**tag_step("tag", "x"), "order": 0},
        {"key": "m", "name": "M", "kind": "manual", "is_milestone": True, "order": 1},
    ]
    journey = make_journey(steps, trigger_type="")
    user_journey_enrol(journey=journey, user_id="ada")
    assert journey_facts(type__startswith="journey.milestone") == [
        ("journey.milestone.started", {"milestone": "m"})
    ]


def test_a_journey_triggered_by_journey_events_does_not_feed_on_its_own(django_capture_on_commit_callbacks):
    first = make_journey(MILESTONES, trigger_type="")
    follow = make_journey(
        [{"key": "wait", "name": "Wait", "kind": "manual"}],
        trigger_type="journey.enrolled",
        re_entry="always",
    )
    with django_capture_on_commit_callbacks(execute=True):
        user_journey_enrol(journey=first, user_id="ada")

    assert UserJourney.objects.filter(journey=follow).count() == 1
