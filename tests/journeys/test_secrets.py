"""Webhook steps' signing secrets: encrypted at rest, shown once, masked after, rotated; the
encryption keys: a development default, required in production, rotated with MultiFernet."""

import importlib
import io
import json

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from standardwebhooks import Webhook, WebhookVerificationError

from config.environment import secrets_encryption_keys
from journeys.crypto import SecretUnreadable, secret_decrypt, secret_encrypt, secret_mask
from journeys.models import Journey, JourneyVersion, Step, StepRun
from journeys.services.journeys import has_unpublished_changes
from tests.journeys.builder_helpers import messages_of
from tests.journeys.factories import action, make_journey

pytestmark = pytest.mark.django_db


def raw_step_config(step_pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT config FROM journeys_step WHERE id = %s", [step_pk])
        value = cursor.fetchone()[0]
    return value if isinstance(value, str) else json.dumps(value)


def raw_definition(version_pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT definition FROM journeys_journeyversion WHERE id = %s", [version_pk])
        value = cursor.fetchone()[0]
    return value if isinstance(value, str) else json.dumps(value)


def hook_body(url: str, **config) -> dict:
    return {
        "name": "Hooked",
        "trigger_type": "signup",
        "is_active": True,
        "steps": [
            {
                "key": "hook",
                "name": "Hook",
                "action_type": "trigger_webhook",
                "config": {"url": url, **config},
            }
        ],
    }


def config_of(response) -> dict:
    return response.json()["steps"][0]["config"]


# ------------------------------------------------------------------------------------------------
# Keys
# ------------------------------------------------------------------------------------------------
def test_production_refuses_to_start_without_an_encryption_key(monkeypatch):
    monkeypatch.delenv("SECRETS_ENCRYPTION_KEYS", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SECRETS_ENCRYPTION_KEYS must be set"):
        secrets_encryption_keys(production=True, secret_key="k" * 50)


def test_a_key_that_is_not_a_fernet_key_is_refused(monkeypatch):
    monkeypatch.setenv("SECRETS_ENCRYPTION_KEYS", "not-a-key")
    with pytest.raises(ImproperlyConfigured, match="Fernet keys"):
        secrets_encryption_keys(production=False, secret_key="k" * 50)


def test_development_derives_a_stable_key_from_the_secret_key_and_production_uses_the_configured_ones(
    monkeypatch,
):
    monkeypatch.delenv("SECRETS_ENCRYPTION_KEYS", raising=False)
    derived = secrets_encryption_keys(production=False, secret_key=settings.SECRET_KEY)
    assert derived == secrets_encryption_keys(production=False, secret_key=settings.SECRET_KEY)
    assert len(derived) == 1
    Fernet(derived[0])  # a usable key, and not the secret key itself
    assert derived[0] != settings.SECRET_KEY

    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("SECRETS_ENCRYPTION_KEYS", f"{new},{old}")
    assert secrets_encryption_keys(production=True, secret_key=settings.SECRET_KEY) == [new, old]


def test_keys_rotate_old_values_stay_readable_until_reencrypted(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.SECRETS_ENCRYPTION_KEYS = [old]
    journey = make_journey([action("hook", "trigger_webhook", {"url": "https://crm.example.com/a"})])
    plain = secret_decrypt(journey.steps.get().config["secret"])

    settings.SECRETS_ENCRYPTION_KEYS = [new, old]  # the new key first, the old one kept
    assert secret_decrypt(journey.steps.get().config["secret"]) == plain
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "re-encrypted 2 webhook step secrets" in out.getvalue()  # the draft and its version

    settings.SECRETS_ENCRYPTION_KEYS = [new]  # the old key dropped
    step = journey.steps.get()
    assert secret_decrypt(step.config["secret"]) == plain
    assert not has_unpublished_changes(Journey.objects.get(pk=journey.pk))  # draft and version agree
    settings.SECRETS_ENCRYPTION_KEYS = [old]
    with pytest.raises(SecretUnreadable):
        secret_decrypt(step.config["secret"])


# ------------------------------------------------------------------------------------------------
# At rest, through the API: shown once, masked after
# ------------------------------------------------------------------------------------------------
def test_a_new_webhook_secret_is_shown_once_and_stored_encrypted(admin_api):
    created = admin_api.post("/api/v1/journeys", hook_body("https://crm.example.com/h"), format="json")

    assert created.status_code == 201
    secret = config_of(created)["secret"]
    assert secret.startswith("whsec_") and "•" not in secret
    journey = Journey.objects.get()
    step = journey.steps.get()
    assert secret not in raw_step_config(step.pk)
    assert secret not in raw_definition(journey.live_version_id)
    assert "fernet:" in raw_step_config(step.pk)

    shown = admin_api.get(f"/api/v1/journeys/{journey.pk}")
    assert config_of(shown)["secret"] == secret_mask(secret) == f"whsec_••••••••{secret[-4:]}"
    versions = admin_api.get(f"/api/v1/journeys/{journey.pk}/versions").content.decode()
    assert secret not in versions and "fernet:" not in versions and secret[-4:] in versions
    listed = admin_api.get("/api/v1/journeys").content.decode()
    assert secret not in listed and "fernet:" not in listed


def test_a_read_modify_write_round_trip_keeps_the_secret(admin_api):
    created = admin_api.post("/api/v1/journeys", hook_body("https://crm.example.com/h"), format="json")
    secret = config_of(created)["secret"]
    journey_id = created.json()["id"]
    steps = admin_api.get(f"/api/v1/journeys/{journey_id}").json()["steps"]
    steps[0]["config"]["url"] = "https://crm.example.com/v2"  # the masked secret is sent back as read

    updated = admin_api.patch(f"/api/v1/journeys/{journey_id}", {"steps": steps}, format="json")

    assert updated.status_code == 200
    assert config_of(updated) == {"url": "https://crm.example.com/v2", "secret": secret_mask(secret)}
    assert secret_decrypt(Step.objects.get().config["secret"]) == secret
    left_out = [{**steps[0], "config": {"url": "https://crm.example.com/v3"}}]
    admin_api.patch(f"/api/v1/journeys/{journey_id}", {"steps": left_out}, format="json")
    assert secret_decrypt(Step.objects.get().config["secret"]) == secret


def test_a_masked_secret_that_stands_for_nothing_is_refused(admin_api):
    body = hook_body("https://crm.example.com/h", secret="whsec_••••••••abcd")
    response = admin_api.post("/api/v1/journeys", body, format="json")
    assert response.status_code == 400
    assert "masked" in response.json()["steps.0.config.secret"][0]


def test_a_secret_given_by_the_designer_is_stored_encrypted_and_signs(admin_api, webhook_sink, emit):
    mine = "whsec_" + "A" * 32
    body = hook_body(f"{webhook_sink.url}/h", secret=mine)
    created = admin_api.post("/api/v1/journeys", body, format="json")
    assert created.status_code == 201 and config_of(created)["secret"] == mine
    assert mine not in raw_step_config(Step.objects.get().pk)

    emit("signup")

    [request] = webhook_sink.requests
    assert (
        Webhook(mine).verify(request["body"], request["headers"])["step_run_id"] == StepRun.objects.get().pk
    )


# ------------------------------------------------------------------------------------------------
# Rotation
# ------------------------------------------------------------------------------------------------
def test_rotating_through_the_api_signs_runs_in_flight_with_the_new_secret(admin_api, webhook_sink, emit):
    created = admin_api.post("/api/v1/journeys", hook_body(f"{webhook_sink.url}/h"), format="json")
    old = config_of(created)["secret"]
    journey_id = created.json()["id"]
    emit("signup", user_id="before")  # the version's definition is now loaded (and cached)

    rotated = admin_api.post(f"/api/v1/journeys/{journey_id}/steps/hook/rotate-secret")

    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert rotated.json() == {"journey_id": journey_id, "step": "hook", "secret": new}
    assert new.startswith("whsec_") and new != old
    shown = admin_api.get(f"/api/v1/journeys/{journey_id}").json()
    assert config_of_step(shown) == secret_mask(new) and shown["has_unpublished_changes"] is False
    emit("signup", user_id="after")
    before, after = webhook_sink.requests
    assert Webhook(old).verify(before["body"], before["headers"])["user_id"] == "before"
    assert Webhook(new).verify(after["body"], after["headers"])["user_id"] == "after"
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after["body"], after["headers"])


def config_of_step(journey: dict) -> str:
    return journey["steps"][0]["config"]["secret"]


def test_rotating_a_step_that_is_not_a_webhook_answers_404(admin_api):
    journey = make_journey([action("tag", "apply_tag", {"tag": "t"})])
    response = admin_api.post(f"/api/v1/journeys/{journey.pk}/steps/tag/rotate-secret")
    assert response.status_code == 404
    assert admin_api.post(f"/api/v1/journeys/{journey.pk}/steps/nope/rotate-secret").status_code == 404


def test_rotating_needs_the_change_permission(client_for, make_user):
    journey = make_journey([action("hook", "trigger_webhook", {"url": "https://crm.example.com/a"})])
    reader = client_for(make_user("reader", "journeys.view_journey"))
    before = journey.steps.get().config["secret"]
    assert reader.post(f"/api/v1/journeys/{journey.pk}/steps/hook/rotate-secret").status_code == 403
    assert journey.steps.get().config["secret"] == before


# ------------------------------------------------------------------------------------------------
# The admin
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_admin_shows_the_secret_masked_and_rotates_it_showing_the_new_one_once(staff):
    journey = make_journey([action("hook", "trigger_webhook", {"url": "https://crm.example.com/a"})])
    secret = secret_decrypt(journey.steps.get().config["secret"])
    change = reverse("admin:journeys_journey_change", args=[journey.pk])
    page = staff.get(change).content.decode()
    rotate = reverse("admin:journeys_journey_rotate_secret", args=[journey.pk, "hook"])
    assert secret not in page and "fernet:" not in page
    assert f'hook: <code>{secret_mask(secret)}</code> <a href="{rotate}" class="rotate-secret">' in page

    confirm = staff.get(rotate)
    assert confirm.status_code == 200 and "Yes, rotate" in confirm.content.decode()
    assert secret_decrypt(journey.steps.get().config["secret"]) == secret  # nothing changed yet

    done = staff.post(rotate, {"confirm": "yes"}).content.decode()
    new = secret_decrypt(journey.steps.get().config["secret"])
    assert new != secret and f'<code class="new-secret">{new}</code>' in done
    page = staff.get(change).content.decode()
    assert new not in page and secret_mask(new) in page
    version = staff.get(reverse("admin:journeys_journeyversion_change", args=[journey.live_version_id]))
    assert new not in version.content.decode() and secret_mask(new) in version.content.decode()


def test_a_webhook_step_added_in_the_admin_shows_its_secret_once(staff):
    from tests.journeys.builder_helpers import add_step, form_data

    data = form_data(staff.get(reverse("admin:journeys_journey_add")))
    data.update({"name": "Built", "trigger_type": "signup", "re_entry": "after_end", "cap_policy": "defer"})
    data.update({"journey_type": "custom", "priority": "0"})
    add_step(
        data, key="hook", name="Hook", action_type="trigger_webhook", config={"url": "https://x.example/h"}
    )

    response = staff.post(reverse("admin:journeys_journey_add"), data, follow=True)

    secret = secret_decrypt(Step.objects.get().config["secret"])
    assert any(secret in message and "only this once" in message for message in messages_of(response))
    again = staff.get(reverse("admin:journeys_journey_change", args=[Journey.objects.get().pk]))
    assert secret not in again.content.decode()


def test_an_internal_webhook_target_is_a_form_error_in_the_admin(staff, settings):
    from tests.journeys.builder_helpers import add_step, form_data

    settings.WEBHOOK_ALLOWED_HOSTS = []
    data = form_data(staff.get(reverse("admin:journeys_journey_add")))
    data.update({"name": "Probe", "trigger_type": "signup", "re_entry": "after_end", "cap_policy": "defer"})
    data.update({"journey_type": "custom", "priority": "0"})
    add_step(
        data,
        key="hook",
        name="Hook",
        action_type="trigger_webhook",
        config={"url": "http://[::ffff:169.254.169.254]/"},
    )

    response = staff.post(reverse("admin:journeys_journey_add"), data)

    assert response.status_code == 200 and not Journey.objects.exists()
    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert "169.254.169.254" in " ".join(form.errors["config"])


# ------------------------------------------------------------------------------------------------
# Existing plain secrets are encrypted by the data migration
# ------------------------------------------------------------------------------------------------
def test_the_data_migration_encrypts_plain_secrets_and_signing_still_works(webhook_sink, emit):
    journey = make_journey([action("hook", "trigger_webhook", {"url": f"{webhook_sink.url}/h"})])
    plain = "whsec_" + "B" * 32
    step = journey.steps.get()
    Step.objects.filter(pk=step.pk).update(config={**step.config, "secret": plain})
    version = journey.live_version
    definition = version.definition
    definition["steps"][0]["config"]["secret"] = plain
    JourneyVersion.objects.filter(pk=version.pk).update(definition=definition)
    assert plain in raw_step_config(step.pk)  # as an older release stored it

    migration = importlib.import_module("journeys.migrations.0006_encrypt_webhook_step_secrets")
    migration.encrypt_existing_secrets(apps, None)

    assert plain not in raw_step_config(step.pk) and plain not in raw_definition(version.pk)
    assert secret_decrypt(Step.objects.get(pk=step.pk).config["secret"]) == plain
    assert not has_unpublished_changes(Journey.objects.get(pk=journey.pk))
    emit("signup")
    [request] = webhook_sink.requests
    assert Webhook(plain).verify(request["body"], request["headers"])["type"] == "journey.step"


def test_a_stored_secret_is_not_the_plain_text():
    stored = secret_encrypt("whsec_abc")
    assert stored.startswith("fernet:") and "whsec_abc" not in stored
    assert secret_decrypt(stored) == "whsec_abc" and secret_encrypt("whsec_abc") != stored


def test_a_webhook_step_added_on_the_canvas_shows_its_secret_once(staff):
    journey = make_journey([action("tag", "apply_tag", {"tag": "t"})], publish=False)
    hook = {"key": "hook", "name": "Hook", "kind": "action", "action_type": "trigger_webhook"}
    body = {"steps": [{**hook, "config": {"url": "https://crm.example.com/h"}}]}
    canvas = reverse("admin:journeys_journey_canvas", args=[journey.pk])

    saved = staff.post(canvas, body, content_type="application/json")

    assert saved.status_code == 200
    secret = secret_decrypt(Step.objects.get(journey=journey).config["secret"])
    assert secret not in saved.content.decode()  # the canvas's JSON never carries it
    page = staff.get(reverse("admin:journeys_journey_change", args=[journey.pk]))
    assert any(secret in message and "only this once" in message for message in messages_of(page))
    again = staff.get(reverse("admin:journeys_journey_change", args=[journey.pk])).content.decode()
    assert secret not in again
