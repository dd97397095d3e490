"""Bad input under /api/ answers a clear 4xx as JSON, never a 500 and never an HTML page."""

import base64

import pytest

from journeys.models import Event, Participant, UserJourney
from tests.journeys.factories import ParticipantFactory, make_journey

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"


def post_raw(client, url: str, body: str | bytes, content_type: str = "application/json"):
    return client.generic("POST", url, body, content_type=content_type)


def test_a_nul_character_in_a_payload_value_is_refused_with_its_path(admin_api):
    body = '{"type": "signup", "user_id": "u-1", "payload": {"note": "a\\u0000b"}}'

    answer = post_raw(admin_api, EVENTS, body)

    assert answer.status_code == 400
    assert answer.json() == {"payload.note": ["NUL characters (\\u0000) are not allowed."]}
    assert Event.objects.count() == 0


def test_a_nul_character_in_a_payload_key_is_refused(admin_api):
    body = '[{"type": "signup", "user_id": "u-1", "payload": {"k\\u0000": 1}}]'

    answer = post_raw(admin_api, EVENTS, body)

    assert answer.status_code == 400
    assert answer.json() == {"0.payload.k\\u0000": ["NUL characters (\\u0000) are not allowed in keys."]}
    assert Event.objects.count() == 0


def test_a_number_too_large_to_be_finite_is_refused(admin_api):
    body = '{"type": "signup", "user_id": "u-1", "payload": {"amount": 1e999}}'

    answer = post_raw(admin_api, EVENTS, body)

    assert answer.status_code == 400
    assert answer.json() == {"payload.amount": ["Numbers must be finite (not NaN, Infinity or 1e999)."]}
    assert Event.objects.count() == 0


def test_json_nested_ten_thousand_deep_is_refused_with_the_bound(admin_api):
    body = '{"type": "signup", "user_id": "u-1", "payload": {"x": ' + "[" * 10_000 + "]" * 10_000 + "}}"

    answer = post_raw(admin_api, EVENTS, body)

    assert answer.status_code == 400
    assert "nested deeper than 64 levels" in answer.json()["detail"]


def test_json_nested_beyond_the_bound_but_parseable_is_refused_with_its_path(admin_api):
    body = '{"type": "signup", "user_id": "u-1", "payload": {"x": ' + "[" * 100 + "]" * 100 + "}}"

    answer = post_raw(admin_api, EVENTS, body)

    assert answer.status_code == 400
    [(path, messages)] = answer.json().items()
    assert path.startswith("payload.x.0.0.")
    assert messages == ["Nested deeper than 64 levels."]


def test_a_body_that_is_not_utf8_is_a_parse_error(admin_api):
    answer = post_raw(admin_api, EVENTS, b'{"type": "\xff"}')

    assert answer.status_code == 400
    assert "not valid utf-8" in answer.json()["detail"]


def test_a_cursor_that_does_not_decode_to_an_id_is_refused(admin_api):
    cursor = base64.b64encode(b"p=xxx").decode()
    assert cursor == "cD14eHg="

    answer = admin_api.get(EVENTS, {"cursor": cursor})

    assert answer.status_code == 400
    assert answer.json() == {"cursor": ["Invalid cursor."]}


@pytest.mark.parametrize("size", ["null", "0", "501", "1.5", ""])
def test_a_page_size_that_is_not_a_whole_number_in_range_is_refused(admin_api, size):
    answer = admin_api.get(EVENTS, {"page_size": size})

    assert answer.status_code == 400
    assert answer.json() == {"page_size": ["A whole number from 1 to 500."]}


def test_a_valid_page_size_pages(admin_api):
    ParticipantFactory.create_batch(3)

    answer = admin_api.get("/api/v1/participants", {"page_size": 2})

    assert answer.status_code == 200
    assert len(answer.json()["results"]) == 2
    assert answer.json()["next"]


def test_an_overdue_threshold_beyond_any_date_is_refused(admin_api):
    answer = admin_api.get("/api/v1/step-runs", {"overdue_seconds": "1e16"})

    assert answer.status_code == 400
    assert "overdue_seconds" in answer.json()


def test_a_nul_character_in_a_path_is_refused(admin_api):
    answer = admin_api.get("/api/v1/participants/a%00b")

    assert answer.status_code == 400
    assert answer.json()["detail"] == "NUL characters (%00) are not allowed in the path."


def test_a_nul_character_in_a_query_parameter_is_refused_naming_it(admin_api):
    answer = admin_api.get(EVENTS + "?user_id=a%00b")

    assert answer.status_code == 400
    assert answer.json() == {"user_id": ["NUL characters (%00) are not allowed."]}


def test_a_body_over_the_upload_limit_answers_413_as_json(admin_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = '{"type": "signup", "user_id": "u-1", "payload": {"x": "' + "a" * 5000 + '"}}'

    answer = post_raw(admin_api, EVENTS, body)

    assert answer.status_code == 413
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["code"] == "request_too_large"
    assert Event.objects.count() == 0


def test_a_five_megabyte_body_answers_413_as_json(admin_api):
    body = '{"type": "signup", "user_id": "u-1", "payload": {"x": "' + "a" * 5_000_000 + '"}}'

    answer = post_raw(admin_api, EVENTS, body)

    assert answer.status_code == 413
    assert answer.json()["code"] == "request_too_large"


def test_an_unknown_api_url_answers_404_as_json(admin_api):
    answer = admin_api.get("/api/v1/no-such-thing")

    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"detail": "No API endpoint at /api/v1/no-such-thing.", "code": "not_found"}


def test_an_unknown_page_outside_the_api_keeps_the_html_page(client):
    answer = client.get("/no-such-page")

    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("text/html")


def test_a_method_the_endpoint_does_not_have_answers_405_as_json(admin_api):
    answer = admin_api.put(EVENTS, {})

    assert answer.status_code == 405
    assert answer.json() == {"detail": 'Method "PUT" not allowed.'}


def test_a_crash_under_the_api_answers_500_as_json(admin_api, monkeypatch):
    from journeys.api import participants

    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(participants, "participants_list", explode)
    admin_api.raise_request_exception = False

    answer = admin_api.get("/api/v1/participants")

    assert answer.status_code == 500
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["code"] == "server_error"


def test_a_form_encoded_body_is_refused_as_unsupported(admin_api):
    answer = admin_api.post("/api/v1/participants", {"user_id": "u-1"}, format="multipart")

    assert answer.status_code == 415
    assert Participant.objects.count() == 0


def test_a_priority_beyond_the_database_integer_is_refused(admin_api):
    answer = admin_api.post("/api/v1/journeys", {"name": "Big", "priority": 2**40})

    assert answer.status_code == 400
    assert answer.json() == {"priority": ["Ensure this value is less than or equal to 1000000."]}


def test_retrying_a_failed_run_while_the_participant_runs_the_journey_again_is_409(
    admin_api, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # saved while allowed; refused when sent below
    hook = {
        "key": "hook",
        "name": "Hook",
        "action_type": "trigger_webhook",
        "config": {"url": "http://127.0.0.1:9/x"},
    }
    journey = make_journey(
        [hook, {"key": "w", "name": "W", "kind": "manual", "order": 1}], re_entry="after_end"
    )
    settings.WEBHOOK_ALLOWED_HOSTS = []
    enroll = f"/api/v1/journeys/{journey.pk}/enroll"
    with django_capture_on_commit_callbacks(execute=True):
        admin_api.post(enroll, {"user_id": "u-1"})
    [dead] = admin_api.get("/api/v1/step-runs", {"dead_lettered": "true"}).json()["results"]
    assert UserJourney.objects.get().state == UserJourney.State.FAILED
    second = admin_api.post(enroll, {"user_id": "u-1"})
    assert second.status_code == 201

    answer = admin_api.post(f"/api/v1/step-runs/{dead['id']}/retry")

    assert answer.status_code == 409
    assert answer.json()["code"] == "live_run_exists"
    assert UserJourney.objects.filter(state=UserJourney.State.FAILED).count() == 1


@pytest.mark.parametrize("field", ["trigger_type", "goal_event", "exit_event"])
def test_an_event_type_with_other_characters_is_refused_when_a_journey_is_changed(admin_api, field):
    journey = make_journey([{"key": "w", "name": "W", "kind": "manual"}])

    answer = admin_api.patch(f"/api/v1/journeys/{journey.pk}", {field: "\u0083v"})

    assert answer.status_code == 400
    assert field in answer.json()
