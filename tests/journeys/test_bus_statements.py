"""What the journeys' bus subscriber costs per event, in SQL statements: the counts are part of
the contract, so a change that brings back a query per event fails here, not in a benchmark."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from journeys import bus
from journeys.models import Event, Participant, UserJourney
from journeys.services.event_handling import journeys_handle_events
from journeys.services.events import EventInput, events_ingest
from journeys.services.journeys import journey_archive
from journeys.services.listening import listened_types
from tests.journeys.factories import make_journey, tag_step

pytestmark = pytest.mark.django_db


def ingest(kinds: list[tuple[str, str]]) -> list[Event]:
    """Events ``(user, type)`` in order, loaded as the bus hands them to its subscribers."""
    ids = [r.id for r in events_ingest(events=[EventInput(type=t, user_id=u) for u, t in kinds])]
    return list(Event.objects.select_related("participant").filter(pk__in=ids).order_by("pk"))


def warm_indexes() -> None:
    """The subscribers' indexes are built once per change, not per message: warm them (a
    journey event reaches every subscriber's pre-filter)."""
    bus.events_interesting([Event(type="journey.enrolled", source="journeys")])


def handled(events: list[Event]) -> int:
    """Statements the journeys' batch handler issues for these events."""
    warm_indexes()
    with CaptureQueriesContext(connection) as queries:
        journeys_handle_events(events)
    return len(queries)


def test_events_of_a_type_no_journey_listens_to_cost_the_journeys_no_statement():
    make_journey([tag_step("t", "welcomed")], trigger_type="stmt.signup", goal_event="stmt.upgrade")
    events = ingest([(f"u{i % 10}", "orchestration.flag.updated") for i in range(100)])
    assert handled(events) == 0
    assert not UserJourney.objects.exists()


def test_repeated_events_of_participants_with_nothing_to_end_or_wake_cost_a_fixed_number_of_statements():
    make_journey([tag_step("t", "welcomed")], trigger_type="stmt.signup", goal_event="stmt.upgrade")
    # ten participants, ten goal events each, none of them in the journey: nothing ends
    few = handled(ingest([(f"a{i % 2}", "stmt.upgrade") for i in range(4)]))
    many = handled(ingest([(f"b{i % 10}", "stmt.upgrade") for i in range(100)]))
    assert many == few == 2  # live runs with this goal or exit, runs waiting for it


def test_only_participants_the_message_enrolled_go_event_by_event():
    make_journey(
        [
            {
                "key": "w",
                "name": "W",
                "kind": "wait_for_event",
                "config": {"event": "stmt.login", "timeout": "1 day", "timeout_step": "late"},
                "next_steps": ["back"],
            },
            tag_step("back", "came-back", order=1, completion=True),
            tag_step("late", "late", order=2),
        ],
        trigger_type="stmt.signup",
    )
    quiet = ingest([(f"q{i % 10}", "stmt.login") for i in range(50)])
    baseline = handled(quiet)
    # the same, with one participant who signs up first: only that one's later login is looked
    # up event by event (its enrolment may wait for it)
    events = ingest([("s", "stmt.signup")] + [(f"r{i % 10}", "stmt.login") for i in range(50)])
    events += ingest([("s", "stmt.login")])
    mixed = handled(events)
    waiting = UserJourney.objects.get(participant__user_id="s").step_runs.get(step_key="w")
    assert waiting.waiting_for == "stmt.login"
    assert baseline == 2
    # one enrolment (with its journey.* events stored in one ingest) and one lookup; not two
    # queries per repeated login
    assert mixed <= 24


def test_a_journey_published_after_the_index_was_built_is_entered_by_the_next_message():
    listened_types()
    journey = make_journey([tag_step("t", "late-comer")], trigger_type="stmt.late")
    bus.events_process(event_ids=[e.pk for e in ingest([("late", "stmt.late")])])
    assert Participant.objects.get(user_id="late").tags == ["late-comer"]

    journey_archive(journey=journey)
    assert "stmt.late" not in listened_types()
    bus.events_process(event_ids=[e.pk for e in ingest([("later", "stmt.late")])])
    assert not UserJourney.objects.filter(participant__user_id="later").exists()


def test_goal_exit_and_wait_types_of_every_version_stay_listened_while_runs_may_need_them():
    journey = make_journey(
        [
            {
                "key": "w",
                "name": "W",
                "kind": "wait_for_event",
                "config": {"event": "stmt.ping", "timeout": "1 day", "timeout_step": "late"},
                "next_steps": ["late"],
            },
            tag_step("late", "late", order=1),
        ],
        trigger_type="stmt.start",
        goal_event="stmt.goal",
        exit_event="stmt.exit",
    )
    journey_archive(journey=journey)
    listened = listened_types()
    assert {"stmt.ping", "stmt.goal", "stmt.exit"} <= listened.ends
    assert "stmt.start" not in listened


def test_a_message_costs_the_bus_and_its_subscribers_a_fraction_of_a_statement_per_event():
    """Rules and journeys, both set-based: claim, load, evaluate, enrol, settle, whatever the size.
    Transaction control is left out of the count: a subscriber without a batch handler takes one
    transaction (a savepoint here) per event by design."""
    make_journey([tag_step("t", "welcomed")], trigger_type="stmt.signup", goal_event="stmt.upgrade")
    kinds = [(f"p{i % 10}", "stmt.signup" if i < 10 else "stmt.seen") for i in range(100)]
    ids = [e.pk for e in ingest(kinds)]
    listened_types()
    with CaptureQueriesContext(connection) as queries:
        processed = bus.events_process(event_ids=ids)
    assert {e.status for e in processed} == {Event.Status.PROCESSED}
    assert Participant.objects.filter(tags=["welcomed"]).count() == 10
    statements = [q for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) / len(ids) <= 0.3


def test_without_a_shared_cache_to_validate_the_index_every_type_is_handled(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert listened_types() is None
    make_journey([tag_step("t", "welcomed")], trigger_type="stmt.signup")
    events = ingest([("nocache", "stmt.signup"), ("nocache", "orchestration.flag.updated")])
    journeys_handle_events(events)
    assert Participant.objects.get(user_id="nocache").tags == ["welcomed"]
