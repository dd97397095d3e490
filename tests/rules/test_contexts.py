"""Contexts on the event path: a worker keeps what it loaded and adds what each message's events
wrote, so an event costs the same whatever the participant's history, and sees exactly what
loading everything would show."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from journeys import bus
from journeys.models import EntityRecord, Event, Participant
from journeys.services.events import EventInput, events_ingest
from rules.cache import CONTEXT_GEN_KEY
from rules.engine import nodes
from rules.models import Flag
from rules.services import contexts, evaluation
from rules.services.rules import rule_create
from tests.rules.factories import definition

pytestmark = pytest.mark.django_db


@pytest.fixture
def mentor_rule(mappings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rule_create(definition=definition())  # 3 language sessions → mentor_ready
    contexts.contexts_forget()


@pytest.fixture
def whole_loads(monkeypatch) -> list[list[int]]:
    """The participant ids of every whole load of records the event path makes."""
    loads: list[list[int]] = []
    original = contexts.context_records_load

    def counting(**kwargs):
        loads.append(sorted(kwargs["participant_ids"]))
        return original(**kwargs)

    monkeypatch.setattr(contexts, "context_records_load", counting)
    return loads


def session(user_id: str, *, session_type: str = "language", at=None) -> EventInput:
    return EventInput(
        type="kintell.session.completed",
        user_id=user_id,
        payload={"session_type": session_type, "rating": 5},
        occurred_at=at,
    )


def stored(*events: EventInput) -> list[int]:
    """Ingest without processing (the test transaction never commits: nothing is dispatched)."""
    return [r.id for r in events_ingest(events=list(events))]


def process(ids: list[int]) -> None:
    assert {e.status for e in bus.events_process(event_ids=ids)} == {Event.Status.PROCESSED}


def mentor_ready(user_id: str) -> bool:
    return Flag.objects.filter(participant__user_id=user_id, flag="mentor_ready", value=True).exists()


def test_a_participant_evaluated_again_loads_only_what_its_new_events_wrote(mentor_rule, whole_loads):
    ada = Participant.objects.create(user_id="ada")
    long_ago = timezone.now() - timedelta(days=30)
    EntityRecord.objects.bulk_create(
        EntityRecord(
            participant=ada, entity="kintell_sessions", data={"session_type": "career"}, occurred_at=at
        )
        for at in (long_ago + timedelta(minutes=i) for i in range(300))
    )
    process(stored(session("ada")))
    process(stored(session("ada")))
    assert not mentor_ready("ada")
    process(stored(session("ada")))

    assert mentor_ready("ada")
    assert whole_loads == [[ada.pk]]  # the first message only; then three records, one by one


def test_a_participant_another_worker_evaluated_since_is_loaded_whole(mentor_rule, whole_loads):
    process(stored(session("bea"), session("bea")))
    bea = Participant.objects.get(user_id="bea")
    # another worker's evaluation: it wrote a record and a new generation
    EntityRecord.objects.create(
        participant=bea,
        entity="kintell_sessions",
        data={"session_type": "language"},
        occurred_at=timezone.now(),
    )
    cache.set(CONTEXT_GEN_KEY.format(bea.pk), "elsewhere")
    process(stored(session("bea", session_type="career")))

    assert mentor_ready("bea")
    assert whole_loads == [[bea.pk], [bea.pk]]


def test_a_record_loaded_whole_before_its_own_message_counts_once(mentor_rule):
    first, second = stored(session("cai"), session("cai"))
    process([second])  # the whole load already holds the first event's record
    process([first])
    assert not mentor_ready("cai")
    process(stored(session("cai")))
    assert mentor_ready("cai")


def test_a_keyed_record_a_late_older_event_fills_in_is_seen(mentor_rule):
    now = timezone.now()
    enrolled = EventInput(
        type="program.enrollment.updated",
        user_id="dan",
        payload={"enrollment_id": "e1", "status": "active"},
        occurred_at=now,
    )
    process(stored(enrolled))
    late = EventInput(
        type="program.enrollment.created",
        user_id="dan",
        payload={"enrollment_id": "e1", "status": "pending", "cohort": "spring"},
        occurred_at=now - timedelta(days=1),
    )
    ids = stored(late)
    process(ids)

    dan = Participant.objects.get(user_id="dan")
    context = contexts.contexts_for_events(participants=[dan], event_ids=[])[dan.pk]
    [record] = context.entities["program_enrollments"]
    assert record.data == {"enrollment_id": "e1", "status": "active", "cohort": "spring"}
    assert record.event_type == "program.enrollment.updated"


def test_records_rebuilt_from_the_event_log_are_seen_by_the_next_message(mentor_rule, whole_loads):
    from journeys.models import EntityMapping
    from journeys.services.records import invalidate_mappings, records_rebuild

    # three language sessions recorded under a type no mapping fed at the time
    process(
        stored(*[EventInput(type="legacy.session", user_id="eve", payload={"session_type": "language"})] * 3)
    )
    assert not mentor_ready("eve")
    EntityMapping.objects.create(event_type="legacy.*", entity="kintell_sessions")
    invalidate_mappings()
    eve = Participant.objects.get(user_id="eve")
    records_rebuild(participant=eve)

    process(stored(EventInput(type="ping", user_id="eve")))
    assert mentor_ready("eve")
    assert whole_loads == [[eve.pk], [eve.pk]]


def test_what_was_derived_from_entities_a_message_left_alone_is_not_derived_again(
    mentor_rule, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rule_create(
            definition=definition(
                rule_id="chatty",
                flag="chatty",
                conditions=[
                    {
                        "type": "count",
                        "entity": "buddy_events",
                        "field": "kind",
                        "value": "call",
                        "count": ">=",
                        "count_value": 2,
                    }
                ],
                actions=[{"type": "set_flag", "flag": "chatty", "value": True}],
            )
        )
    contexts.contexts_forget()
    known_at_start: list[set[str]] = []  # the entities of the facts each evaluation started with
    original = evaluation.evaluate

    def evaluate(ruleset, context, *args, **kwargs):
        known_at_start.append({nodes._fact_entities[key] for key in context.facts})
        return original(ruleset, context, *args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate", evaluate)
    message = EventInput(type="buddy.message.sent", user_id="ada", payload={"kind": "call"})

    process(stored(session("ada"), message))  # loaded whole: nothing known yet
    process(stored(message))  # a buddy event: what the sessions gave is still true
    process(stored(session("ada"), session("ada")))  # sessions: what buddy events gave is

    assert known_at_start == [set(), {"kintell_sessions"}, {"buddy_events"}]
    assert mentor_ready("ada")
    assert Flag.objects.filter(participant__user_id="ada", flag="chatty", value=True).exists()
