from datetime import timedelta

import pytest
from django.utils import timezone

from journeys.models import EntityMapping, EntityRecord
from journeys.services.events import EventInput, events_ingest
from journeys.services.records import entity_mappings_load_defaults

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_mappings():
    entity_mappings_load_defaults()


def records(user_id: str, entity: str) -> list[EntityRecord]:
    return list(EntityRecord.objects.filter(participant__user_id=user_id, entity=entity).order_by("id"))


def test_an_event_is_projected_into_every_entity_its_type_matches(default_mappings):
    events_ingest(events=[EventInput(type="buddy.match.created", user_id="u", payload={"buddy": "b-1"})])

    [match] = records("u", "buddy_matches")
    [activity] = records("u", "buddy_events")
    assert match.data == activity.data == {"buddy": "b-1"}
    assert match.event_type == activity.event_type == "buddy.match.created"


def test_unkeyed_records_accumulate(default_mappings):
    for rating in (4, 5, 3):
        events_ingest(
            events=[EventInput(type="kintell.session.completed", user_id="u", payload={"rating": rating})]
        )
    assert [r.data["rating"] for r in records("u", "kintell_sessions")] == [4, 5, 3]


def test_keyed_records_are_updated_by_key_and_keep_earlier_fields(default_mappings):
    events_ingest(
        events=[
            EventInput(
                type="program.enrollment.created",
                user_id="u",
                payload={"enrollment_id": "e-1", "program": "mentoring", "status": "pending"},
            )
        ]
    )
    events_ingest(
        events=[
            EventInput(
                type="program.enrollment.updated",
                user_id="u",
                payload={"enrollment_id": "e-1", "status": "active"},
            )
        ]
    )
    events_ingest(
        events=[
            EventInput(
                type="program.enrollment.created",
                user_id="u",
                payload={"enrollment_id": "e-2", "status": "pending"},
            )
        ]
    )

    first, second = records("u", "program_enrollments")
    assert first.key == "e-1"
    assert first.data == {"enrollment_id": "e-1", "program": "mentoring", "status": "active"}
    assert second.key == "e-2"


def test_a_late_older_event_does_not_overwrite_newer_values(default_mappings):
    now = timezone.now()
    events_ingest(
        events=[
            EventInput(
                type="program.enrollment.updated",
                user_id="u",
                occurred_at=now,
                payload={"enrollment_id": "e-1", "status": "active"},
            )
        ]
    )
    events_ingest(
        events=[
            EventInput(
                type="program.enrollment.created",
                user_id="u",
                occurred_at=now - timedelta(hours=1),
                payload={"enrollment_id": "e-1", "status": "pending", "program": "mentoring"},
            )
        ]
    )

    [record] = records("u", "program_enrollments")
    assert record.data == {"enrollment_id": "e-1", "status": "active", "program": "mentoring"}
    assert record.occurred_at == now


def test_one_batch_updating_one_key_twice_keeps_the_newest(default_mappings):
    now = timezone.now()
    events_ingest(
        events=[
            EventInput(
                type="program.enrollment.updated",
                user_id="u",
                occurred_at=now,
                payload={"enrollment_id": "e-1", "status": "completed"},
            ),
            EventInput(
                type="program.enrollment.created",
                user_id="u",
                occurred_at=now - timedelta(days=1),
                payload={"enrollment_id": "e-1", "status": "active"},
            ),
        ]
    )
    [record] = records("u", "program_enrollments")
    assert record.data["status"] == "completed"


def test_a_keyed_event_without_its_key_still_counts_as_a_record(default_mappings):
    events_ingest(events=[EventInput(type="program.enrollment.created", user_id="u", payload={"x": 1})])
    [record] = records("u", "program_enrollments")
    assert record.key is None


def test_a_new_mapping_created_through_the_api_applies_to_the_next_event(admin_api):
    events_ingest(events=[EventInput(type="survey.answered", user_id="u", payload={"score": 1})])
    created = admin_api.post("/api/v1/entity-mappings", {"event_type": "survey.*", "entity": "surveys"})
    assert created.status_code == 201
    events_ingest(events=[EventInput(type="survey.answered", user_id="u", payload={"score": 2})])

    assert [r.data["score"] for r in records("u", "surveys")] == [2]


def test_a_deactivated_mapping_stops_projecting(admin_api, default_mappings):
    mapping = EntityMapping.objects.get(entity="learning_progress")
    assert admin_api.patch(f"/api/v1/entity-mappings/{mapping.pk}", {"active": False}).status_code == 200
    events_ingest(events=[EventInput(type="upskilling.course.completed", user_id="u")])
    assert records("u", "learning_progress") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_type": "a b", "entity": "things"}, "event_type"),
        ({"event_type": "a.*", "entity": "Bad-Name"}, "entity"),
        ({"event_type": "a.*", "entity": "things", "key_field": "not a path"}, "key_field"),
    ],
)
def test_a_bad_mapping_is_refused_with_a_field_message(admin_api, body, field):
    response = admin_api.post("/api/v1/entity-mappings", body)
    assert response.status_code == 400
    assert field in response.json()
    assert not EntityMapping.objects.exists()


def test_a_duplicate_mapping_is_refused(admin_api):
    body = {"event_type": "a.*", "entity": "things"}
    assert admin_api.post("/api/v1/entity-mappings", body).status_code == 201
    response = admin_api.post("/api/v1/entity-mappings", body)
    assert response.status_code == 400
    assert EntityMapping.objects.count() == 1


def test_a_participants_records_are_listed_by_entity(admin_api, default_mappings):
    events_ingest(
        events=[
            EventInput(type="kintell.session.completed", user_id="u", payload={"rating": 5}),
            EventInput(type="upskilling.course.completed", user_id="u", payload={"course": "c1"}),
        ]
    )
    response = admin_api.get("/api/v1/participants/u/records", {"entity": "learning_progress"})
    assert response.status_code == 200
    assert [r["data"] for r in response.json()["results"]] == [{"course": "c1"}]
    assert response.json()["results"][0]["event_type"] == "upskilling.course.completed"
    assert admin_api.get("/api/v1/participants/nobody/records").status_code == 404
