"""Where a walker's changes go: a batch writes only the columns its walks changed."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from journeys.engine import batch
from journeys.engine.dispatcher import step_runs_dispatch
from journeys.models import Event, Participant, StepRun, UserJourney
from journeys.services.enrolment import Enrolment, user_journeys_enrol
from tests.journeys.factories import EventFactory, make_journey, tag_step

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def updates_of(queries, table: str) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith(f'UPDATE "{table}" AS t SET')]


def test_a_batch_of_tag_steps_writes_only_the_columns_its_walks_changed():
    journey = make_journey([tag_step("a", "a", delay_minutes=5), tag_step("b", "b", order=1)])
    participants = [Participant.objects.create(user_id=f"w-{i}") for i in range(3)]
    user_journeys_enrol(enrolments=[Enrolment(journey=journey, participant=p) for p in participants])
    StepRun.objects.filter(user_journey__journey=journey).update(due_at=timezone.now())

    with CaptureQueriesContext(connection) as queries:
        assert step_runs_dispatch(budget_seconds=10).executed == 3

    [runs] = updates_of(queries, "journeys_steprun")
    assert '"status" = v."status"' in runs and '"result" = v."result"' in runs
    assert '"trace" =' not in runs and '"error" =' not in runs  # left as they were: not sent
    [journeys] = updates_of(queries, "journeys_userjourney")
    assert '"context" = v."context"' in journeys and '"variant" =' not in journeys
    assert list(
        StepRun.objects.filter(step_key="a").values_list("status", "attempts").order_by().distinct()
    ) == [("succeeded", 1)]
    assert set(UserJourney.objects.filter(journey=journey).values_list("state", flat=True)) == {"completed"}
    assert all(p.tags == ["a", "b"] for p in Participant.objects.filter(user_id__startswith="w-"))


def test_rows_inserted_over_several_statements_each_get_their_own_id(monkeypatch):
    monkeypatch.setattr(batch, "BULK_CHUNK", 2)
    rows = [Participant(user_id=f"chunked-{i}", attributes={"i": i}) for i in range(5)]
    with CaptureQueriesContext(connection) as queries:
        batch.bulk_insert(Participant, rows, ids=True)

    assert len(queries) == 3
    stored = dict(Participant.objects.filter(user_id__startswith="chunked-").values_list("pk", "user_id"))
    assert [stored[row.pk] for row in rows] == [row.user_id for row in rows]


def test_rows_matched_by_key_over_several_statements_say_which_went_in(monkeypatch):
    monkeypatch.setattr(batch, "BULK_CHUNK", 2)
    taken = Participant.objects.create(user_id="keyed-3")
    rows = [Participant(user_id=f"keyed-{i}") for i in range(5)]
    batch.bulk_insert(Participant, rows, key=("user_id",), ignore_conflicts=True)

    assert rows[3].pk is None and rows[3]._state.adding  # refused: the row there is another's
    stored = dict(Participant.objects.filter(user_id__startswith="keyed-").values_list("pk", "user_id"))
    assert [stored.get(row.pk) for row in rows] == ["keyed-0", "keyed-1", "keyed-2", None, "keyed-4"]
    assert stored[taken.pk] == "keyed-3"


def test_a_first_writer_wins_update_leaves_rows_another_writer_filled():
    free, taken = EventFactory(), EventFactory(error="filled by another writer")
    free.error = taken.error = "ours"

    assert batch.bulk_update(Event, [free, taken], ["error"], only_empty="error") == 1
    assert dict(Event.objects.values_list("pk", "error")) == {
        free.pk: "ours",
        taken.pk: "filled by another writer",
    }


def test_columns_with_one_value_in_every_row_are_sent_once_and_stored_in_each():
    participant = Participant.objects.create(user_id="constant")
    at = timezone.now().replace(microsecond=123456)
    rows = [
        batch.unsaved(
            Event, type=f"kind.{i}", participant_id=participant.pk, payload={"same": [1, 2]}, occurred_at=at
        )
        for i in range(3)
    ]
    with CaptureQueriesContext(connection) as queries:
        batch.bulk_insert(Event, rows, ids=True)

    [insert] = queries
    assert "jsonb_to_record(" in insert["sql"]  # the constant columns, once
    stored = Event.objects.filter(participant=participant).order_by("pk")
    assert [(e.pk, e.type, e.payload, e.occurred_at) for e in stored] == [
        (row.pk, f"kind.{i}", {"same": [1, 2]}, at) for i, row in enumerate(rows)
    ]


def test_identical_rows_are_each_inserted():
    participant = Participant.objects.create(user_id="twins")
    at = timezone.now()
    rows = [
        batch.unsaved(Event, type="twin", participant_id=participant.pk, occurred_at=at) for _ in range(3)
    ]
    batch.bulk_insert(Event, rows, ids=True)

    assert len({row.pk for row in rows}) == 3
    assert Event.objects.filter(participant=participant, type="twin").count() == 3


def test_json_values_python_calls_equal_are_stored_as_each_row_gave_them():
    participant = Participant.objects.create(user_id="json-types")
    payloads = [{"ok": 1}, {"ok": True}, {"ok": 1.0}]
    rows = [batch.unsaved(Event, type="typed", participant_id=participant.pk, payload=p) for p in payloads]
    batch.bulk_insert(Event, rows, ids=True)

    stored = Event.objects.filter(participant=participant).order_by("pk").values_list("payload", flat=True)
    assert [type(p["ok"]) for p in stored] == [int, bool, float]


def test_an_unsaved_row_is_the_row_its_model_would_build_and_saves_the_same():
    participant = Participant.objects.create(user_id="built")
    at = timezone.now()
    values = {"type": "built", "participant_id": participant.pk, "occurred_at": at, "received_at": at}

    fast, plain = batch.unsaved(Event, **values), Event(**values)

    def fields(event: Event) -> dict:
        return {f.attname: getattr(event, f.attname) for f in Event._meta.concrete_fields[1:]}

    assert fields(fast) == fields(plain)
    assert fast._state.adding and fast._state.db is None
    assert fast.payload is not plain.payload  # a default that is a callable is called per row
    fast.save()
    assert Event.objects.filter(pk=fast.pk, type="built", participant=participant, occurred_at=at).exists()
    assert fast.participant == participant and not fast._state.adding


def test_an_unsaved_row_of_a_model_with_init_receivers_is_built_by_its_init():
    from django.db.models.signals import post_init

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Event)
    try:
        event = batch.unsaved(Event, type="watched", participant_id=1)
    finally:
        post_init.disconnect(receiver, sender=Event)
    assert seen == [event]


def test_an_unsaved_row_takes_related_rows_and_refuses_names_its_model_lacks(django_assert_num_queries):
    participant = Participant.objects.create(user_id="related")

    event = batch.unsaved(Event, type="related", participant=participant)

    assert event.participant_id == participant.pk
    with django_assert_num_queries(0):
        assert event.participant is participant  # cached, as Event(participant=…) caches it
    with pytest.raises(TypeError, match="Event has no field particpant"):
        batch.unsaved(Event, type="typo", particpant=participant)


def test_rows_inserted_by_one_statement_are_stamped_with_one_time():
    participant = Participant.objects.create(user_id="stamped")
    before = timezone.now()

    batch.bulk_insert(Participant, [batch.unsaved(Participant, user_id=f"stamped-{i}") for i in range(3)])

    stamps = set(
        Participant.objects.filter(user_id__startswith="stamped-").values_list("created_at", "updated_at")
    )
    [(created, updated)] = stamps  # one time for every row
    assert before <= created <= updated <= timezone.now()
    assert created > participant.created_at
