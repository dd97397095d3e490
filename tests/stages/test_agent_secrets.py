"""Agents' signing secrets (encrypted at rest, shown once, masked, rotated) and their endpoints
(refused when saved if they reach inside), through the API and the admin."""

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse
from standardwebhooks import Webhook

from journeys.crypto import secret_mask
from stages.models import Agent
from tests.stages.factories import agent, criteria_pipeline, start, task

pytestmark = pytest.mark.django_db

AGENTS = "/api/v1/stages/agents"


def raw_secret(agent_pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM journeys_service WHERE id = %s", [agent_pk])
        return cursor.fetchone()[0]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


# ------------------------------------------------------------------------------------------------
# At rest
# ------------------------------------------------------------------------------------------------
def test_an_agent_secret_is_stored_encrypted_and_reads_as_plain_text():
    created = agent("dataops")
    assert created.secret.startswith("whsec_")
    stored = raw_secret(created.pk)
    assert stored.startswith("fernet:") and created.secret not in stored
    assert Agent.objects.get(pk=created.pk).secret == created.secret


def test_the_data_migration_encrypts_plain_agent_secrets():
    created = agent("legacy")
    plain = "whsec_" + "C" * 32
    with connection.cursor() as cursor:  # as an older release stored it
        cursor.execute("UPDATE journeys_service SET secret = %s WHERE id = %s", [plain, created.pk])

    migration = importlib.import_module("stages.migrations.0002_encrypt_agent_secrets")
    migration.encrypt_existing_secrets(apps, None)

    assert raw_secret(created.pk).startswith("fernet:") and plain not in raw_secret(created.pk)
    assert Agent.objects.get(pk=created.pk).secret == plain


# ------------------------------------------------------------------------------------------------
# The API
# ------------------------------------------------------------------------------------------------
def test_an_agent_created_through_the_api_shows_its_secret_once(admin_api):
    body = {"agent_id": "dataops-agent", "name": "Data ops", "endpoint_url": "https://agents.example.com/d"}
    created = admin_api.post(AGENTS, body, format="json")

    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret == Agent.objects.get().secret and secret.startswith("whsec_")
    shown = admin_api.get(f"{AGENTS}/dataops-agent").json()
    assert shown["secret"] == secret_mask(secret) and secret not in str(shown)
    listed = admin_api.get(AGENTS).json()
    assert [a["agent_id"] for a in listed["results"]] == ["dataops-agent"]
    assert listed["results"][0]["secret"] == secret_mask(secret)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://10.0.0.7/agent",
        "http://localhost:8000/",
    ],
)
def test_an_internal_endpoint_is_refused_when_an_agent_is_saved_through_the_api(admin_api, settings, url):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    created = admin_api.post(
        AGENTS, {"agent_id": "probe", "name": "Probe", "endpoint_url": url}, format="json"
    )
    assert created.status_code == 400 and list(created.json()) == ["endpoint_url"]
    assert not Agent.objects.exists()

    agent("probe", url="https://agents.example.com/ok")
    changed = admin_api.patch(f"{AGENTS}/probe", {"endpoint_url": url}, format="json")
    assert changed.status_code == 400 and list(changed.json()) == ["endpoint_url"]
    assert Agent.objects.get().endpoint_url == "https://agents.example.com/ok"


def test_an_allow_listed_endpoint_can_be_saved(admin_api, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["10.0.0.0/8"]
    body = {"agent_id": "inside", "name": "Inside", "endpoint_url": "http://10.1.2.3/agent"}
    assert admin_api.post(AGENTS, body, format="json").status_code == 201


def test_a_duplicate_agent_id_is_a_field_error(admin_api):
    agent("dataops")
    response = admin_api.post(AGENTS, {"agent_id": "dataops", "name": "Again"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["agent_id"]


def test_rotating_an_agents_secret_through_the_api_signs_the_next_calls_with_it(
    admin_api, webhook_sink, django_capture_on_commit_callbacks
):
    sink_agent = agent("test-agent", url=f"{webhook_sink.url}/agent")
    old = sink_agent.secret

    rotated = admin_api.post(f"{AGENTS}/test-agent/rotate-secret")

    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old and Agent.objects.get().secret == new
    assert admin_api.get(f"{AGENTS}/test-agent").json()["secret"] == secret_mask(new)
    criteria_pipeline(tasks={"sandbox": {"setup": [task("only")]}})
    with django_capture_on_commit_callbacks(execute=True):
        start("client-1")
    [request] = webhook_sink.requests
    assert Webhook(new).verify(request["body"], request["headers"])["task"] == "only"


def test_rotating_needs_the_change_permission(client_for, make_user):
    agent("dataops")
    before = Agent.objects.get().secret
    reader = client_for(make_user("reader", "stages.view_agent"))
    assert reader.get(f"{AGENTS}/dataops").status_code == 200
    assert reader.post(f"{AGENTS}/dataops/rotate-secret").status_code == 403
    assert Agent.objects.get().secret == before


# ------------------------------------------------------------------------------------------------
# The admin
# ------------------------------------------------------------------------------------------------
def test_an_agent_added_in_the_admin_shows_its_secret_once_then_masked(staff):
    data = {"key": "dataops", "name": "Data ops", "endpoint_url": "https://agents.example.com/d"}
    data.update({"kind": "http", "active": "on", "description": ""})

    response = staff.post(reverse("admin:stages_agent_add"), data, follow=True)

    secret = Agent.objects.get().secret
    assert any(secret in message and "only this once" in message for message in messages_of(response))
    page = staff.get(reverse("admin:stages_agent_change", args=[Agent.objects.get().pk])).content.decode()
    assert secret not in page and secret_mask(secret) in page and 'name="secret"' not in page


def test_an_internal_endpoint_is_a_form_error_in_the_admin(staff, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    data = {
        "key": "probe",
        "name": "Probe",
        "kind": "http",
        "endpoint_url": "http://[::ffff:169.254.169.254]/",
        "description": "",
    }

    response = staff.post(reverse("admin:stages_agent_add"), data)

    assert response.status_code == 200 and not Agent.objects.exists()
    assert "169.254.169.254" in " ".join(response.context["adminform"].form.errors["endpoint_url"])


def test_the_admin_rotates_one_agents_secret_after_confirmation_and_shows_it_once(staff):
    created = agent("dataops")
    old = created.secret
    rotate = reverse("admin:stages_agent_rotate_secret", args=[created.pk])
    assert rotate in staff.get(reverse("admin:stages_agent_change", args=[created.pk])).content.decode()

    assert "Yes, rotate" in staff.get(rotate).content.decode()
    assert Agent.objects.get().secret == old

    done = staff.post(rotate, {"confirm": "yes"}).content.decode()
    new = Agent.objects.get().secret
    assert new != old and f'<code class="new-secret">{new}</code>' in done


def test_the_admin_action_rotates_the_selected_agents_after_confirmation(staff):
    first, second, untouched = agent("a-agent"), agent("b-agent"), agent("c-agent")
    before = {a.agent_id: a.secret for a in (first, second, untouched)}
    changelist = reverse("admin:stages_agent_changelist")
    selected = {"action": "rotate_secrets", "_selected_action": [first.pk, second.pk]}

    confirm = staff.post(changelist, selected)
    assert "Yes, rotate" in confirm.content.decode()
    assert {a.agent_id: a.secret for a in Agent.objects.all()} == before

    done = staff.post(changelist, {**selected, "confirm": "yes"}).content.decode()
    after = {a.agent_id: a.secret for a in Agent.objects.all()}
    assert after["c-agent"] == before["c-agent"]
    for agent_id in ("a-agent", "b-agent"):
        assert after[agent_id] != before[agent_id] and after[agent_id] in done


def test_an_ingest_key_cannot_read_or_rotate_agent_secrets(api_client, admin_user):
    from tests.journeys.factories import ApiKeyFactory

    agent("dataops")
    before = Agent.objects.get().secret
    key = ApiKeyFactory(user=admin_user)  # an ingest key of an account that may do everything
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory.full_key(key)}")

    assert api_client.get(AGENTS).status_code == 403
    assert api_client.post(f"{AGENTS}/dataops/rotate-secret").status_code == 403
    assert Agent.objects.get().secret == before
