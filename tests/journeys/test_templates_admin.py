"""The template library in the admin: the list, editing through the services, versions shown
read-only, reviews, the publish/share/export actions and importing a file."""

import io
import zipfile

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from journeys.models import JourneyTemplate, TemplateReview
from journeys.services.template_files import BUNDLED_DIR
from journeys.services.templates import template_create, template_publish, template_share
from tests.journeys.builder_helpers import form_data
from tests.journeys.template_helpers import staff_member, template_body

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:journeys_journeytemplate_changelist"


@pytest.fixture
def alice(make_user):
    return staff_member(make_user, "designer", "alice")


@pytest.fixture
def designer(client, alice):
    client.force_login(alice)
    return client


def change_url(template: JourneyTemplate) -> str:
    return reverse("admin:journeys_journeytemplate_change", args=[template.pk])


def act(client, action: str, *templates: JourneyTemplate):
    body = {"action": action, "_selected_action": [t.pk for t in templates]}
    return client.post(reverse(CHANGELIST), body, follow=action.startswith(("publish", "share", "put")))


def test_the_list_shows_what_the_user_may_see_with_rating_and_latest_version(
    designer, make_user, template_library
):
    template_create(data=template_body("secret"), actor=make_user("bob"))
    onboarding = JourneyTemplate.objects.get(key="onboarding")
    TemplateReview.objects.create(template=onboarding, user=make_user("carol"), rating=4)

    page = designer.get(reverse(CHANGELIST)).content.decode()

    assert "Onboarding Flow" in page and "4.0 (1)" in page
    assert "secret" not in page
    assert reverse("admin:journeys_journeytemplate_import") in page


def test_a_template_is_created_and_edited_through_the_services(designer, alice):
    page = designer.get(reverse("admin:journeys_journeytemplate_add"))
    data = {**form_data(page), **template_body("welcome"), "definition": '{"steps": []}'}

    response = designer.post(reverse("admin:journeys_journeytemplate_add"), data)

    assert response.status_code == 302
    template = JourneyTemplate.objects.get(key="welcome")
    assert (template.author, template.visibility) == (alice, "private")


def test_a_bad_definition_is_shown_next_to_the_field(designer):
    page = designer.get(reverse("admin:journeys_journeytemplate_add"))
    body = {
        **form_data(page),
        **template_body("welcome"),
        "definition": '{"steps": [{"key": "a", "next_steps": ["b"]}]}',
    }

    response = designer.post(reverse("admin:journeys_journeytemplate_add"), body)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["definition"]
    assert any("definition.steps.0" in e for e in errors)
    assert not JourneyTemplate.objects.exists()


def test_versions_are_shown_read_only_and_the_publish_action_freezes_one(designer, alice):
    template = template_create(data=template_body(), actor=alice)

    response = act(designer, "publish", template)

    assert "version 1 published" in response.content.decode()
    page = designer.get(change_url(template))
    versions = next(
        f for f in page.context["inline_admin_formsets"] if f.formset.model.__name__ == "TemplateVersion"
    )
    assert (
        not versions.has_add_permission
        and not versions.has_change_permission
        and not versions.has_delete_permission
    )
    assert "Hello" in page.content.decode()
    again = act(designer, "publish", template)
    assert "not published: Nothing changed since version 1" in again.content.decode()


def test_share_actions_follow_the_rules(designer, alice):
    template = template_create(data=template_body(), actor=alice)

    refused = act(designer, "put_in_catalogue", template)
    assert "Publish a version" in refused.content.decode()
    template_publish(template=template)
    shared = act(designer, "put_in_catalogue", template)
    assert [str(m) for m in shared.context["messages"]] == ["welcome: published to the catalogue."]
    assert JourneyTemplate.objects.get(pk=template.pk).visibility == "catalogue"


def test_only_its_author_shares_a_template_in_the_admin_too(client, make_user, alice):
    template = template_create(data=template_body(), actor=alice)
    template_share(template=template, visibility="staff", actor=alice)
    client.force_login(staff_member(make_user, "designer", "bob"))

    refused = act(client, "share_with_staff", template)

    assert "Only its author shares a template." in refused.content.decode()


def test_export_one_file_or_a_zip_of_several(designer, template_library):
    onboarding, dunning = JourneyTemplate.objects.filter(key__in=["onboarding", "payment_recovery"]).order_by(
        "key"
    )

    single = act(designer, "export_yaml", onboarding)
    assert single["Content-Disposition"] == 'attachment; filename="onboarding.yaml"'
    assert yaml.safe_load(single.content)["versions"][0]["number"] == 1

    archive = zipfile.ZipFile(io.BytesIO(act(designer, "export_json", onboarding, dunning).content))
    assert sorted(archive.namelist()) == ["onboarding.json", "payment_recovery.json"]


def test_import_a_file_and_see_every_problem_of_a_bad_one(designer, alice):
    url = reverse("admin:journeys_journeytemplate_import")
    assert designer.get(url).status_code == 200
    good = SimpleUploadedFile("onboarding.yaml", (BUNDLED_DIR / "onboarding.yaml").read_bytes())

    response = designer.post(url, {"file": good, "visibility": "staff"})

    imported = JourneyTemplate.objects.get(key="onboarding")
    assert response.status_code == 302 and response["Location"] == change_url(imported)
    assert (imported.author, imported.visibility) == (alice, "staff")
    again = SimpleUploadedFile("onboarding.yaml", (BUNDLED_DIR / "onboarding.yaml").read_bytes())
    refused = designer.post(url, {"file": again, "visibility": "private"})
    assert refused.status_code == 200
    assert any("key:" in e for e in refused.context["form"].errors["file"])


def test_deleting_in_the_admin_is_soft(designer, alice):
    template = template_create(data=template_body(), actor=alice)
    response = designer.post(
        reverse("admin:journeys_journeytemplate_delete", args=[template.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.deleted_at is not None and template.deleted_by == alice


def test_analysts_read_templates_but_do_not_import(client, make_user, template_library):
    client.force_login(staff_member(make_user, "analyst", "carol"))
    assert client.get(reverse(CHANGELIST)).status_code == 200
    assert client.get(reverse("admin:journeys_journeytemplate_import")).status_code == 403
