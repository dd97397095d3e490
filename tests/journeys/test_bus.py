from datetime import timedelta

import pytest
from django.utils import timezone

from journeys import bus
from journeys.models import Event
from journeys.services.events import EventInput, event_emit, events_ingest
from tests.journeys.factories import EventFactory, ParticipantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscribers():
    """Subscribe handlers for one test: ``subscribers(pattern, handler, name)``."""
    names: list[str] = []

    def add(pattern, handler, name):
        bus.subscribe(pattern, handler, name=name)
        names.append(name)

    yield add
    for name in names:
        bus.unsubscribe(name)


def test_subscribers_see_the_events_their_pattern_matches(subscribers, django_capture_on_commit_callbacks):
    buddy, everything = [], []
    subscribers("buddy.*", lambda e: buddy.append(e.type), "tests.buddy")
    subscribers("*", lambda e: everything.append(e.type), "tests.all")

    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(
            events=[
                EventInput(type="buddy.match.created", user_id="u"),
                EventInput(type="signup", user_id="u"),
            ]
        )

    assert buddy == ["buddy.match.created"]
    assert sorted(everything) == ["buddy.match.created", "signup"]
    assert set(Event.objects.values_list("status", flat=True)) == {"processed"}


def test_a_failing_subscriber_is_recorded_and_retried_later_while_others_run(subscribers):
    calls = {"ok": 0, "flaky": 0}

    def flaky(event):
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise RuntimeError("downstream unavailable")

    subscribers("*", lambda e: calls.__setitem__("ok", calls["ok"] + 1), "tests.ok")
    subscribers("*", flaky, "tests.flaky")
    event = EventFactory()

    bus.event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == Event.Status.PENDING
    assert event.attempts == 1
    assert "downstream unavailable" in event.error
    assert event.subscriber_results["tests.flaky"]["status"] == "failed"
    assert event.subscriber_results["tests.ok"]["status"] == "ok"
    assert event.next_attempt_at > timezone.now()  # backoff, not an immediate retry

    bus.event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == Event.Status.PROCESSED
    assert calls == {"ok": 1, "flaky": 2}  # the subscriber that succeeded did not run again


def test_a_subscriber_failing_every_time_dead_letters_the_event(subscribers, settings):
    settings.EVENT_MAX_ATTEMPTS = 3
    subscribers("*", lambda e: 1 / 0, "tests.broken")
    event = EventFactory()
    for _ in range(5):
        bus.event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == Event.Status.FAILED
    assert event.attempts == 3
    assert "ZeroDivisionError" in event.error


def test_a_failed_subscribers_effects_are_rolled_back(subscribers):
    from journeys.models import Participant

    def half_done(event):
        Participant.objects.filter(pk=event.participant_id).update(attributes={"touched": True})
        raise RuntimeError("after writing")

    subscribers("*", half_done, "tests.half")
    event = EventFactory()
    bus.event_process(event_id=event.pk)
    assert Participant.objects.get(pk=event.participant_id).attributes != {"touched": True}


def test_reprocessing_runs_only_the_failed_subscribers(
    subscribers, settings, django_capture_on_commit_callbacks
):
    settings.EVENT_MAX_ATTEMPTS = 1
    calls = {"ok": 0, "fixed": 0}
    broken = {"yes": True}

    def sometimes(event):
        calls["fixed"] += 1
        if broken["yes"]:
            raise RuntimeError("bug")

    subscribers("*", lambda e: calls.__setitem__("ok", calls["ok"] + 1), "tests.ok")
    subscribers("*", sometimes, "tests.fixed")
    event = EventFactory()
    bus.event_process(event_id=event.pk)
    assert Event.objects.get(pk=event.pk).status == Event.Status.FAILED

    broken["yes"] = False
    with django_capture_on_commit_callbacks(execute=True):
        bus.event_reprocess(event=event)

    assert Event.objects.get(pk=event.pk).status == Event.Status.PROCESSED
    assert calls == {"ok": 1, "fixed": 2}


def test_an_event_whose_dispatch_was_lost_is_processed_by_the_sweeper(
    subscribers, django_capture_on_commit_callbacks
):
    seen = []
    subscribers("*", lambda e: seen.append(e.pk), "tests.seen")
    # The on-commit dispatch never runs: as if the broker had been down at commit time.
    [result] = events_ingest(events=[EventInput(type="signup", user_id="u")])
    assert bus.events_sweep() == 0  # not yet: its sweep time has not come

    Event.objects.filter(pk=result.id).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert bus.events_sweep() == 1

    assert seen == [result.id]
    assert Event.objects.get(pk=result.id).status == Event.Status.PROCESSED


def test_an_event_held_by_a_dead_worker_is_taken_over_when_its_lease_runs_out(subscribers):
    seen = []
    subscribers("*", lambda e: seen.append(e.pk), "tests.seen")
    event = EventFactory(status=Event.Status.PROCESSING, lease_until=timezone.now() + timedelta(minutes=5))

    assert bus.event_process(event_id=event.pk) is None  # still leased: someone else has it
    Event.objects.filter(pk=event.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert event.pk in bus.events_due_for_dispatch(limit=10)
    bus.event_process(event_id=event.pk)
    assert seen == [event.pk]


def test_a_processed_event_is_never_processed_again(subscribers):
    seen = []
    subscribers("*", lambda e: seen.append(e.pk), "tests.seen")
    event = EventFactory()
    bus.event_process(event_id=event.pk)
    bus.event_process(event_id=event.pk)
    assert seen == [event.pk]


def test_an_emitted_event_goes_through_the_same_path_and_is_idempotent(
    subscribers, django_capture_on_commit_callbacks
):
    seen = []
    subscribers("orchestration.*", lambda e: seen.append(e.payload), "tests.seen")
    with django_capture_on_commit_callbacks(execute=True):
        first = event_emit(
            type="orchestration.test", user_id="u", payload={"a": 1}, idempotency_key="cause-1"
        )
        again = event_emit(
            type="orchestration.test", user_id="u", payload={"a": 1}, idempotency_key="cause-1"
        )
    assert again.duplicate and again.id == first.id
    assert seen == [{"a": 1}]
    assert Event.objects.get().source == "internal"


def test_subscribers_run_by_priority_then_name(subscribers):
    order = []
    subscribers("*", lambda e: order.append("b-low"), "tests.b")
    subscribers("*", lambda e: order.append("a-low"), "tests.a")
    bus.subscribe("*", lambda e: order.append("z-high"), name="tests.z", priority=10)
    try:
        bus.event_process(event_id=EventFactory().pk)
    finally:
        bus.unsubscribe("tests.z")
    assert order == ["z-high", "a-low", "b-low"]


def test_a_batch_subscriber_gets_a_messages_events_at_once():
    batches, singles = [], []
    bus.subscribe(
        "*",
        singles.append,
        name="tests.batch",
        batch_handler=lambda events: batches.append([e.pk for e in events]),
    )
    try:
        events = EventFactory.create_batch(4)
        bus.events_process(event_ids=[e.pk for e in events])
    finally:
        bus.unsubscribe("tests.batch")
    assert batches == [[e.pk for e in events]]
    assert singles == []
    assert set(Event.objects.values_list("status", flat=True)) == {"processed"}


def test_a_failing_batch_is_retried_event_by_event_so_only_the_bad_event_fails():
    from journeys.models import Participant
    from tests.journeys.subscribers import mark_participant_seen

    def one(event):
        if event.payload.get("bad"):
            raise ValueError("bad payload")
        mark_participant_seen(event)

    def batch(events):
        for event in events:
            one(event)

    bus.subscribe("*", one, name="tests.batch", batch_handler=batch)
    try:
        participant = ParticipantFactory()
        good, bad, other = (
            EventFactory(participant=participant),
            EventFactory(participant=participant, payload={"bad": True}),
            EventFactory(participant=participant),
        )
        bus.events_process(event_ids=[good.pk, bad.pk, other.pk])
    finally:
        bus.unsubscribe("tests.batch")
    statuses = dict(Event.objects.values_list("pk", "status"))
    assert statuses == {good.pk: "processed", bad.pk: "pending", other.pk: "processed"}
    # The failed batch's writes were rolled back; then each good event was handled exactly once.
    assert Participant.objects.get(pk=participant.pk).attributes["seen_events"] == [good.pk, other.pk]
    assert "bad payload" in Event.objects.get(pk=bad.pk).error
