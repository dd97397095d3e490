import pytest

from journeys.models import Participant
from tests.journeys.factories import ParticipantFactory

pytestmark = pytest.mark.django_db


def test_a_participant_is_created_with_attributes_and_tags(admin_api):
    response = admin_api.post(
        "/api/v1/participants",
        {"user_id": "ada", "attributes": {"timezone": "Europe/Oslo"}, "tags": ["beta"]},
    )
    assert response.status_code == 201
    assert response.json()["attributes"] == {"timezone": "Europe/Oslo"}
    assert Participant.objects.get(user_id="ada").tags == ["beta"]


def test_creating_an_existing_participant_is_a_conflict(admin_api):
    ParticipantFactory(user_id="ada")
    response = admin_api.post("/api/v1/participants", {"user_id": "ada"})
    assert response.status_code == 409
    assert Participant.objects.count() == 1


def test_patch_merges_attributes_and_removes_nulls(admin_api):
    ParticipantFactory(user_id="ada", attributes={"email": "a@example.com", "phone": "1"})
    response = admin_api.patch(
        "/api/v1/participants/ada", {"attributes": {"timezone": "Asia/Tokyo", "phone": None}, "tags": ["vip"]}
    )
    assert response.status_code == 200
    assert response.json()["attributes"] == {"email": "a@example.com", "timezone": "Asia/Tokyo"}
    assert response.json()["tags"] == ["vip"]


def test_patch_with_a_bad_body_changes_nothing(admin_api):
    ParticipantFactory(user_id="ada", attributes={"email": "a@example.com"})
    response = admin_api.patch("/api/v1/participants/ada", {"attributes": "nope", "tags": "x"})
    assert response.status_code == 400
    assert set(response.json()) == {"attributes", "tags"}
    assert Participant.objects.get(user_id="ada").attributes == {"email": "a@example.com"}


def test_an_unknown_participant_is_404(admin_api):
    assert admin_api.get("/api/v1/participants/ghost").status_code == 404
    assert admin_api.patch("/api/v1/participants/ghost", {"tags": []}).status_code == 404


def test_participants_can_be_listed_by_tag(admin_api):
    ParticipantFactory(user_id="a", tags=["vip"])
    ParticipantFactory(user_id="b", tags=["vipx"])
    ParticipantFactory(user_id="c")
    response = admin_api.get("/api/v1/participants", {"tag": "vip"})
    assert [p["user_id"] for p in response.json()["results"]] == ["a"]


def test_viewing_participants_needs_the_view_permission(client_for, make_user):
    assert client_for(make_user("nobody")).get("/api/v1/participants").status_code == 403
    viewer = make_user("viewer", "journeys.view_participant")
    assert client_for(viewer).get("/api/v1/participants").status_code == 200
    assert client_for(viewer).post("/api/v1/participants", {"user_id": "x"}).status_code == 403
