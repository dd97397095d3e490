import pytest
from django.urls import reverse

from journeys.models import ApiKey, EntityMapping, Event
from tests.journeys.factories import EventFactory, ParticipantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def test_creating_an_api_key_in_the_admin_shows_the_key_once_and_stores_a_hash(staff, admin_user):
    response = staff.post(
        reverse("admin:journeys_apikey_add"),
        {"name": "crm", "user": admin_user.pk, "scope": "ingest"},
        follow=True,
    )
    assert response.status_code == 200
    shown = next(str(m) for m in response.context["messages"] if "shown only this once" in str(m))
    full_key = shown.split("<code>")[1].split("</code>")[0]
    api_key = ApiKey.objects.get(name="crm")
    assert full_key.startswith(f"jo_{api_key.prefix}.")
    assert full_key.split(".", 1)[1] not in api_key.hashed_secret

    from rest_framework.test import APIClient

    service = APIClient()
    service.credentials(HTTP_AUTHORIZATION=f"Api-Key {full_key}")
    assert service.post("/api/v1/events", {"type": "signup", "user_id": "u"}).status_code == 202


def test_the_event_admin_is_read_only_and_reprocesses_on_request(staff, django_capture_on_commit_callbacks):
    event = EventFactory(status=Event.Status.FAILED, attempts=8, error="boom")
    page = staff.get(reverse("admin:journeys_event_change", args=[event.pk]))
    assert page.status_code == 200
    assert 'name="type"' not in page.content.decode()  # no editable inputs
    assert staff.get(reverse("admin:journeys_event_add")).status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        staff.post(
            reverse("admin:journeys_event_changelist"),
            {"action": "reprocess", "_selected_action": [event.pk]},
        )
    event.refresh_from_db()
    assert event.status == Event.Status.PROCESSED
    assert event.attempts == 1


def test_a_bad_mapping_in_the_admin_is_a_form_error(staff):
    response = staff.post(
        reverse("admin:journeys_entitymapping_add"),
        {"event_type": "bad type", "entity": "x", "key_field": "", "active": "on"},
    )
    assert response.status_code == 200
    assert "event_type" in response.context["adminform"].form.errors
    assert not EntityMapping.objects.exists()


def test_the_participant_page_shows_events_and_records(staff):
    participant = ParticipantFactory(user_id="ada")
    EventFactory(participant=participant, type="kintell.session.completed")
    page = staff.get(reverse("admin:journeys_participant_change", args=[participant.pk]))
    assert page.status_code == 200
    assert "kintell.session.completed" in page.content.decode()
    assert staff.get(reverse("admin:journeys_participant_changelist") + "?q=ada").status_code == 200
