"""Rules on the event bus: their place among subscribers, and the batch handler.

The bus hands the rules subscriber every event of a worker message at once; the batch must
write exactly what handling the events one by one would (flags, history, milestones, events),
and journeys that read a flag must see the value the very event that set it decided.
"""

import threading
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from journeys import bus
from journeys.models import Event, Participant, UserJourney
from journeys.services.events import EventInput, events_ingest
from rules.cache import active_ruleset
from rules.models import EvaluationSchedule, Flag, FlagHistory, Milestone
from rules.services.evaluation import on_events
from rules.services.flags import EVALUATION_SOURCE, FLAG_UPDATED, flag_set
from rules.services.rules import rule_create, rules_load_folder
from tests.journeys.factories import (
    EntityRecordFactory,
    EventFactory,
    ParticipantFactory,
    make_journey,
    tag_step,
)
from tests.rules.factories import RuleFactory, definition

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


# ----------------------------------------------------------------------------------------------
# The batch handler
# ----------------------------------------------------------------------------------------------
def pending(user_id: str, *events: dict) -> list[Event]:
    """Ingest without processing (the test transaction never commits, so nothing is dispatched)."""
    results = events_ingest(events=[EventInput(user_id=user_id, **e) for e in events])
    return list(Event.objects.filter(pk__in=[r.id for r in results]).order_by("pk"))


def busy_week() -> list[dict]:
    """Events that set flags, emit an event (custom_rule_001), reach two milestones
    (high_engagement_001, mentor_ready_001) and start a follow-up window (followup_needed_001)."""
    return [
        *[{"type": "buddy.match.created"}] * 5,
        *[{"type": "buddy.message.sent"}] * 5,
        *[{"type": "kintell.session.completed", "payload": {"session_type": "language", "rating": 5}}] * 5,
        *[{"type": "upskilling.course.completed"}] * 3,
        {"type": "program.enrollment.started", "payload": {"enrollment_id": "e-1", "status": "active"}},
    ]


def written_for(user_id: str) -> dict:
    """What evaluation wrote for a participant, without ids and clock readings."""
    participant = Participant.objects.get(user_id=user_id)
    history = list(FlagHistory.objects.filter(participant=participant).order_by("id"))
    milestones = list(Milestone.objects.filter(participant=participant).order_by("id"))
    flag_of = {h.pk: h.flag for h in history}
    milestone_of = {m.pk: m.milestone for m in milestones}

    def key(event: Event) -> tuple:
        kind, _, rest = event.idempotency_key.partition(":")
        if kind == "flag-history":
            return (kind, flag_of[int(rest)])
        if kind == "rule-event":
            pk, _, index = rest.partition(":")
            return (kind, flag_of[int(pk)], index)
        return (kind, milestone_of[int(rest)])

    untimed = ("reached_at", "expires_at")
    return {
        "flags": sorted(
            Flag.objects.filter(participant=participant).values_list("flag", "value", "set_by_rule")
        ),
        "history": [(h.flag, h.value, h.previous_value, h.set_by_rule, h.reason) for h in history],
        "milestones": [(m.milestone, m.triggered_by_rule, m.metadata) for m in milestones],
        "events": [
            (e.type, key(e), {k: v for k, v in e.payload.items() if k not in untimed})
            for e in Event.objects.filter(participant=participant, source=EVALUATION_SOURCE).order_by("id")
        ],
        "scheduled": EvaluationSchedule.objects.filter(
            participant=participant, next_check_at__isnull=False
        ).exists(),
    }


@pytest.fixture
def seed_rules(default_rules):
    rules_load_folder(folder=Path(__file__).parent / "fixtures")


def test_a_batch_writes_what_handling_its_events_one_by_one_writes(seed_rules):
    one_by_one = pending("bob", *busy_week())
    for event in one_by_one:
        bus.events_process(event_ids=[event.pk])  # the single handler, event after event

    # Ada's events in one batch, interleaved with another participant's.
    week = busy_week()
    batch = [*pending("ada", *week[:9]), *pending("cy", *week[:5]), *pending("ada", *week[9:])]
    bus.events_process(event_ids=[e.pk for e in batch])

    bob = written_for("bob")
    assert written_for("ada") == bob
    assert {m[0] for m in bob["milestones"]} == {"high_engagement", "mentor_ready"}
    assert [e[0] for e in bob["events"]].count("orchestration.custom.event") == 1
    assert bob["scheduled"]
    assert written_for("cy")["flags"] == [("custom_flag", True, "custom_rule_001")]
    assert Event.objects.filter(pk__in=[e.pk for e in batch], status=Event.Status.PROCESSED).count() == len(
        batch
    )


def test_a_batch_evaluates_each_participant_once_after_all_its_events(seed_rules):
    events = pending("ada", *busy_week())
    with CaptureQueriesContext(connection) as queries:
        on_events(events)
    locks = [q["sql"] for q in queries.captured_queries if "journey_rule_schedule" in q["sql"]]
    assert len(locks) == 2  # the lock (which reads the schedule) and the schedule's upsert
    assert FlagHistory.objects.filter(flag="custom_flag").count() == 1
    assert Milestone.objects.count() == 2

    before = written_for("ada")
    on_events(events)  # delivered again: idempotent
    assert written_for("ada") == before


def test_a_batch_of_many_participants_is_written_in_the_same_few_statements(mappings):
    RuleFactory(rule_id="mentor_ready_test")  # 3 language sessions set mentor_ready
    three = definition()["conditions"][0]["count_value"]
    session = {"type": "kintell.session.completed", "payload": {"session_type": "language", "rating": 4}}

    def evaluate_batch(user_ids: list[str]) -> int:
        events = [e for user_id in user_ids for e in pending(user_id, *[session] * three)]
        with CaptureQueriesContext(connection) as queries:
            on_events(events)
        return len(queries.captured_queries)

    active_ruleset()  # loaded once, then cached: not part of any batch's statements
    # so are the bus subscribers' indexes that its announcements consult
    bus.events_interesting([Event(type=FLAG_UPDATED, source=EVALUATION_SOURCE)])
    small = evaluate_batch([f"small-{i}" for i in range(3)])
    large = evaluate_batch([f"large-{i}" for i in range(60)])

    assert large == small
    assert Flag.objects.filter(flag="mentor_ready", value=True).count() == 63
    assert FlagHistory.objects.count() == 63
    updates = Event.objects.filter(type=FLAG_UPDATED, source=EVALUATION_SOURCE)
    assert updates.count() == 63
    assert sorted(updates.values_list("participant__user_id", flat=True)) == sorted(
        [f"small-{i}" for i in range(3)] + [f"large-{i}" for i in range(60)]
    )


def test_an_evaluation_announces_its_flags_without_locking_its_participants_again(mappings):
    RuleFactory(rule_id="mentor_ready_test")
    three = definition()["conditions"][0]["count_value"]
    session = {"type": "kintell.session.completed", "payload": {"session_type": "language", "rating": 4}}
    events = pending("ada", *[session] * three)

    with CaptureQueriesContext(connection) as queries:
        on_events(events)

    participant_reads = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "journeys_participant"')
    ]
    assert len(participant_reads) == 1  # the evaluation's lock; its announcements ingest under it
    assert "FOR UPDATE" in participant_reads[0]
    assert Event.objects.filter(type=FLAG_UPDATED, participant__user_id="ada").count() == 1


def test_a_batch_skips_the_engines_own_echoes_but_not_other_events(mappings):
    RuleFactory(rule_id="mentor_ready_test")
    echo = pending("ada", {"type": FLAG_UPDATED, "source": EVALUATION_SOURCE, "payload": {"flag": "x"}})
    sessions = pending(
        "bob", *[{"type": "kintell.session.completed", "payload": {"session_type": "language"}}] * 3
    )
    with CaptureQueriesContext(connection) as queries:
        on_events(echo)
    assert queries.captured_queries == []

    on_events(echo + sessions)
    assert list(Flag.objects.values_list("participant__user_id", "flag")) == [("bob", "mentor_ready")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_waits_for_every_participant_another_transaction_holds(mappings):
    """The batch locks all its participants' rows before reading anything: an evaluation of one
    of them in flight elsewhere is waited for and its result seen, never raced or repeated."""
    RuleFactory(rule_id="mentor_ready_test")
    first, second = ParticipantFactory(), ParticipantFactory()
    events = []
    for participant in (first, second):
        for _ in range(3):
            EntityRecordFactory(participant=participant, data={"session_type": "language"})
            events.append(EventFactory(participant=participant, type="kintell.session.completed"))
    locked, release = threading.Event(), threading.Event()

    def evaluate_second_elsewhere() -> None:
        """Another worker, half-way through evaluating the second participant."""
        try:
            with transaction.atomic():
                Participant.objects.select_for_update().get(pk=second.pk)
                flag_set(participant=second, flag="mentor_ready", set_by="mentor_ready_test")
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    def run_batch() -> None:
        try:
            on_events(events)
        finally:
            connection.close()

    elsewhere, batch = threading.Thread(target=evaluate_second_elsewhere), threading.Thread(target=run_batch)
    elsewhere.start()
    assert locked.wait(10)
    batch.start()
    batch.join(0.5)
    assert batch.is_alive()  # waiting for the second participant's row
    assert not Flag.objects.filter(participant=first).exists()  # nothing of the first written yet

    release.set()
    elsewhere.join(10)
    batch.join(10)
    assert sorted(Flag.objects.values_list("participant_id", flat=True)) == [first.pk, second.pk]
    # The batch saw the second participant's flag already set: no second change, no second event.
    assert FlagHistory.objects.filter(participant=second).count() == 1
    assert Event.objects.filter(participant=second, type=FLAG_UPDATED).count() == 1
