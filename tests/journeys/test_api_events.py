from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from journeys import bus
from journeys.models import ApiKey, Event, Participant
from tests.journeys.factories import ApiKeyFactory, EventFactory, ParticipantFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events"


@pytest.fixture
def seen():
    """Subscribe a recording handler to every event for the test's duration."""
    calls: list[int] = []
    bus.subscribe("*", lambda event: calls.append(event.pk), name="tests.recorder")
    yield calls
    bus.unsubscribe("tests.recorder")


def test_the_same_idempotency_key_ten_times_stores_and_processes_one_event(
    admin_api, seen, django_capture_on_commit_callbacks
):
    body = {"type": "signup", "user_id": "u-1", "idempotency_key": "signup-u-1", "source": "crm"}
    answers = []
    for _ in range(10):
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(admin_api.post(URL, body))

    assert {a.status_code for a in answers} == {202}
    first_id = answers[0].json()["id"]
    assert answers[0].json()["duplicate"] is False
    assert all(a.json() == {"id": first_id, "duplicate": True} for a in answers[1:])
    assert Event.objects.count() == 1
    assert seen == [first_id]
    assert Event.objects.get().status == Event.Status.PROCESSED


def test_the_same_key_from_another_source_is_another_event(admin_api):
    admin_api.post(URL, {"type": "signup", "user_id": "u-1", "idempotency_key": "k", "source": "a"})
    second = admin_api.post(URL, {"type": "signup", "user_id": "u-1", "idempotency_key": "k", "source": "b"})
    assert second.json()["duplicate"] is False
    assert Event.objects.count() == 2


def test_a_batch_answers_ids_in_order_and_marks_repeats_within_it(admin_api):
    batch = [
        {"type": "signup", "user_id": "u-1", "idempotency_key": "a"},
        {"type": "login", "user_id": "u-2"},
        {"type": "signup", "user_id": "u-1", "idempotency_key": "a"},
    ]
    response = admin_api.post(URL, batch)

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 1
    ids = [e["id"] for e in body["events"]]
    assert ids[0] == ids[2] and ids[0] != ids[1]
    assert [e["duplicate"] for e in body["events"]] == [False, False, True]
    assert set(Participant.objects.values_list("user_id", flat=True)) == {"u-1", "u-2"}


def test_each_answered_id_is_the_event_sent_at_its_place(admin_api):
    batch = [
        {"type": f"t-{i}", "user_id": f"u-{i % 7}", **({"idempotency_key": f"k-{i}"} if i % 3 else {})}
        for i in range(60)
    ]
    response = admin_api.post(URL, batch)

    assert response.status_code == 202
    stored = Event.objects.select_related("participant").in_bulk([e["id"] for e in response.json()["events"]])
    answered = [stored[e["id"]] for e in response.json()["events"]]
    assert [(e.type, e.participant.user_id) for e in answered] == [(i["type"], i["user_id"]) for i in batch]


def test_a_batch_costs_the_same_statements_whatever_its_size(admin_api):
    counts = []
    for size in (10, 300):
        batch = [
            {"type": "signup", "user_id": f"u-{size}-{i}", "idempotency_key": f"{size}-{i}"}
            for i in range(size)
        ]
        with CaptureQueriesContext(connection) as queries:
            assert admin_api.post(URL, batch).status_code == 202
        counts.append(len(queries))
        if connection.vendor == "postgresql":  # new keys are not looked up: the insert finds stored ones
            assert not [q for q in queries if q["sql"].startswith("SELECT e.id, e.source")]
    assert counts[0] == counts[1]
    assert Event.objects.count() == 310


def test_a_batch_with_one_bad_item_writes_nothing_and_names_the_bad_field(admin_api):
    batch = [{"type": "signup", "user_id": f"u-{i}"} for i in range(5)]
    batch[3] = {"user_id": "u-3", "payload": "not an object"}

    response = admin_api.post(URL, batch)

    assert response.status_code == 400
    assert set(response.json()) == {"3"}
    assert set(response.json()["3"]) == {"type", "payload"}
    assert Event.objects.count() == 0
    assert Participant.objects.count() == 0


def test_each_bad_item_of_a_batch_is_judged_on_its_own_fields(admin_api):
    batch = [
        {"type": "has space", "user_id": "u-0"},
        {"type": "signup", "user_id": "u-1", "payload": {"plan": "pro"}, "source": "crm"},
        {"type": "signup", "user_id": "u-2", "occurred_at": "yesterday"},
        {"type": "signup", "user_id": "u-3"},
    ]

    response = admin_api.post(URL, batch)

    assert response.status_code == 400
    assert response.json().keys() == {"0", "2"}
    assert response.json()["0"].keys() == {"type"}
    assert response.json()["2"].keys() == {"occurred_at"}
    batch[0]["type"], batch[2]["occurred_at"] = "signup", "2026-01-02T03:04:05Z"
    assert admin_api.post(URL, batch).status_code == 202
    stored = {e.participant.user_id: e for e in Event.objects.select_related("participant")}
    assert (stored["u-1"].payload, stored["u-1"].source) == ({"plan": "pro"}, "crm")
    assert (stored["u-3"].payload, stored["u-3"].source) == ({}, "api")  # defaults, not u-1's values


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "has space", "user_id": "u"}, "type"),
        ({"type": "signup", "user_id": ""}, "user_id"),
        ({"type": "signup", "user_id": "u", "occurred_at": "yesterday"}, "occurred_at"),
        ({"type": "signup", "user_id": "u", "payload": {"x": "y" * 70_000}}, "payload"),
        ({"type": "signup", "user_id": "u", "source": "bad source"}, "source"),
    ],
)
def test_a_bad_single_event_is_refused_with_a_field_message(admin_api, body, field):
    response = admin_api.post(URL, body)
    assert response.status_code == 400
    assert field in response.json()
    assert Event.objects.count() == 0


def test_an_event_far_in_the_future_is_refused(admin_api):
    future = (timezone.now() + timedelta(days=3)).isoformat()
    response = admin_api.post(URL, {"type": "signup", "user_id": "u", "occurred_at": future})
    assert response.status_code == 400
    assert "occurred_at" in response.json()


def test_more_than_a_thousand_events_in_one_batch_are_refused(admin_api):
    response = admin_api.post(URL, [{"type": "t", "user_id": "u"}] * 1001)
    assert response.status_code == 400
    assert "1000" in response.json()["non_field_errors"][0]
    assert Event.objects.count() == 0


def test_an_empty_batch_is_refused(admin_api):
    response = admin_api.post(URL, [])
    assert response.status_code == 400


def test_anonymous_requests_are_refused(api_client):
    assert api_client.post(URL, {"type": "signup", "user_id": "u"}).status_code == 401
    assert api_client.get(URL).status_code == 401
    assert api_client.get("/api/v1/participants").status_code == 401
    assert Event.objects.count() == 0


def test_an_ingest_key_may_post_events_and_nothing_else(api_client):
    api_key = ApiKeyFactory(scope=ApiKey.Scope.INGEST)
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory.full_key(api_key)}")

    assert api_client.post(URL, {"type": "signup", "user_id": "u"}).status_code == 202
    assert api_client.get(URL).status_code == 403
    assert api_client.get("/api/v1/participants").status_code == 403
    assert api_client.post("/api/v1/participants", {"user_id": "x"}).status_code == 403


def test_a_wrong_revoked_or_expired_key_is_refused(api_client):
    good = ApiKeyFactory()
    revoked = ApiKeyFactory(revoked_at=timezone.now())
    expired = ApiKeyFactory(expires_at=timezone.now() - timedelta(minutes=1))
    for raw in [
        f"jo_{good.prefix}.wrong-secret",
        ApiKeyFactory.full_key(revoked),
        ApiKeyFactory.full_key(expired),
        "garbage",
    ]:
        api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        assert api_client.post(URL, {"type": "signup", "user_id": "u"}).status_code == 401
    assert Event.objects.count() == 0


def test_a_full_key_acts_with_its_users_permissions(api_client, make_user):
    reader = make_user("reader", "journeys.view_event")
    api_key = ApiKeyFactory(scope=ApiKey.Scope.FULL, user=reader)
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory.full_key(api_key)}")

    assert api_client.get(URL).status_code == 200
    assert api_client.post(URL, {"type": "signup", "user_id": "u"}).status_code == 403


def test_a_user_without_view_permission_cannot_browse_events(client_for, make_user):
    outsider = make_user("outsider")
    assert client_for(outsider).get(URL).status_code == 403


def test_jwt_obtains_a_token_that_authenticates(api_client, make_user):
    make_user("jwt-user", "journeys.view_event")
    token = api_client.post(
        "/api/v1/auth/token/", {"username": "jwt-user", "password": "pw-for-tests-1"}
    ).json()["access"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get(URL).status_code == 200


def test_the_event_log_filters_by_user_type_status_and_time(admin_api):
    ada, bob = ParticipantFactory(user_id="ada"), ParticipantFactory(user_id="bob")
    old = timezone.now() - timedelta(days=10)
    EventFactory(participant=ada, type="kintell.session.completed", occurred_at=old)
    EventFactory(participant=ada, type="kintell.session.booked")
    EventFactory(participant=bob, type="signup", status=Event.Status.PROCESSED)

    def types(**params):
        return sorted(e["type"] for e in admin_api.get(URL, params).json()["results"])

    assert types(user_id="ada") == ["kintell.session.booked", "kintell.session.completed"]
    assert types(type="kintell.*") == ["kintell.session.booked", "kintell.session.completed"]
    assert types(type="signup") == ["signup"]
    assert types(status="processed") == ["signup"]
    assert types(occurred_after=(old + timedelta(days=1)).isoformat()) == ["kintell.session.booked", "signup"]
    bad = admin_api.get(URL, {"status": "nonsense"})
    assert bad.status_code == 400 and "status" in bad.json()


def test_the_event_log_pages_with_a_cursor(admin_api):
    participant = ParticipantFactory()
    EventFactory.create_batch(7, participant=participant)
    first = admin_api.get(URL, {"page_size": 5}).json()
    second = admin_api.get(first["next"]).json()
    ids = [e["id"] for e in first["results"] + second["results"]]
    assert len(ids) == 7 == len(set(ids))
    assert ids == sorted(ids, reverse=True)
    assert second["next"] is None


def test_ingestion_is_throttled_per_client(admin_api, settings):
    from rest_framework.throttling import ScopedRateThrottle

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ingest": "3/min"}
    original = ScopedRateThrottle.THROTTLE_RATES
    ScopedRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [admin_api.post(URL, {"type": "signup", "user_id": "u"}).status_code for _ in range(4)]
    finally:
        ScopedRateThrottle.THROTTLE_RATES = original
    assert codes == [202, 202, 202, 429]
    assert Event.objects.count() == 3
