"""The cache cannot corrupt data: keys belong to one database, an empty mapping set is not
trusted, and records can always be rebuilt from the event log."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from journeys.models import EntityMapping, EntityRecord
from journeys.services.events import EventInput, events_ingest
from journeys.services.records import MAPPINGS_CACHE_KEY, entity_mappings_load_defaults

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_mappings():
    entity_mappings_load_defaults()


def records(user_id: str, entity: str) -> list[EntityRecord]:
    return list(EntityRecord.objects.filter(participant__user_id=user_id, entity=entity).order_by("id"))


def test_an_empty_cached_mapping_list_does_not_stop_records_being_projected(default_mappings):
    cache.set(MAPPINGS_CACHE_KEY, [], 300)  # what a scratch database once wrote into a live key

    events_ingest(events=[EventInput(type="kintell.session.completed", user_id="u", payload={"rating": 5})])

    assert [r.data for r in records("u", "kintell_sessions")] == [{"rating": 5}]


def test_cache_entries_written_for_another_database_are_not_seen(default_mappings, monkeypatch):
    key = cache.make_key(MAPPINGS_CACHE_KEY)
    assert connection.settings_dict["NAME"] in key

    # A benchmark on a scratch database with the same Redis and prefix writes the same key name.
    monkeypatch.setitem(connection.settings_dict, "NAME", "scratch_copy")
    cache.set(MAPPINGS_CACHE_KEY, [("kintell.*", "wrong_entity", "")], 300)
    monkeypatch.undo()

    events_ingest(events=[EventInput(type="kintell.session.completed", user_id="u")])
    assert records("u", "wrong_entity") == []
    assert len(records("u", "kintell_sessions")) == 1


def _snapshot() -> list[tuple]:
    return sorted(
        (r.participant.user_id, r.entity, r.key, r.event_type, r.occurred_at, sorted(r.data.items()))
        for r in EntityRecord.objects.select_related("participant")
    )


def test_records_rebuild_reprojects_records_lost_to_a_bad_cache_and_is_idempotent(default_mappings):
    now = timezone.now()
    events_ingest(
        events=[
            EventInput(type="kintell.session.completed", user_id="a", payload={"rating": 4}),
            EventInput(
                type="program.enrollment.created",
                user_id="a",
                occurred_at=now - timedelta(days=2),
                payload={"enrollment_id": "e1", "status": "active", "cohort": "c7"},
            ),
            EventInput(
                type="program.enrollment.updated",
                user_id="a",
                occurred_at=now - timedelta(days=1),
                payload={"enrollment_id": "e1", "status": "completed"},
            ),
            EventInput(type="buddy.match.created", user_id="b", payload={"buddy": "x"}),
        ]
    )
    # A late, older event arrives on its own: it only fills in what was missing.
    events_ingest(
        events=[
            EventInput(
                type="program.enrollment.created",
                user_id="a",
                occurred_at=now - timedelta(days=3),
                payload={"enrollment_id": "e1", "status": "draft", "source": "import"},
            )
        ]
    )
    expected = _snapshot()
    EntityRecord.objects.all().delete()  # records lost, events kept

    out = StringIO()
    call_command("records_rebuild", stdout=out)
    assert _snapshot() == expected
    assert "2/2 participants" in out.getvalue()

    call_command("records_rebuild", stdout=StringIO())
    assert _snapshot() == expected
    [enrollment] = records("a", "program_enrollments")
    assert enrollment.data == {
        "enrollment_id": "e1",
        "status": "completed",
        "cohort": "c7",
        "source": "import",
    }


def test_records_rebuild_for_some_participants_leaves_the_others_alone(default_mappings):
    events_ingest(
        events=[
            EventInput(type="kintell.session.completed", user_id="a"),
            EventInput(type="kintell.session.completed", user_id="b"),
        ]
    )
    EntityMapping.objects.create(event_type="kintell.*", entity="all_kintell")

    call_command("records_rebuild", "--user-id", "a", stdout=StringIO())

    assert len(records("a", "all_kintell")) == 1
    assert records("b", "all_kintell") == []
    assert len(records("b", "kintell_sessions")) == 1


def test_records_rebuild_names_an_unknown_participant():
    with pytest.raises(CommandError, match="nobody"):
        call_command("records_rebuild", "--user-id", "nobody", stdout=StringIO())
