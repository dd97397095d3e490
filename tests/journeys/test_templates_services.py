"""The template library's services: drafts, frozen versions, sharing, reviews, soft delete, and
journeys designed from a version that remember it."""

import pytest

from journeys.errors import Conflict, NotFound, ValidationFailed
from journeys.models import JourneyTemplate, TemplateVersion
from journeys.selectors import templates as selectors
from journeys.services.template_files import templates_bundled_load
from journeys.services.templates import (
    journey_design,
    template_create,
    template_delete,
    template_publish,
    template_review,
    template_share,
    template_update,
)
from tests.journeys.template_helpers import WELCOME, template_body

pytestmark = pytest.mark.django_db
Visibility = JourneyTemplate.Visibility


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def welcome(alice):
    return template_create(data=template_body(), actor=alice)


def test_a_new_template_is_a_private_draft_of_its_author(welcome, alice):
    assert (welcome.visibility, welcome.author, welcome.versions.count()) == (Visibility.PRIVATE, alice, 0)


def test_a_definition_that_would_not_make_a_journey_is_refused_by_field():
    body = template_body(
        definition={"colour": "red", "re_entry": "sometimes", "steps": [{"next_steps": ["x"]}]}
    )

    with pytest.raises(ValidationFailed) as refused:
        template_create(data=body)

    errors = refused.value.errors
    assert {"definition.colour", "definition.re_entry", "definition.steps.0.key"} <= set(errors)
    assert not JourneyTemplate.objects.exists()


def test_a_key_is_unique_among_templates_not_deleted(welcome, alice):
    with pytest.raises(ValidationFailed) as refused:
        template_create(data=template_body(), actor=alice)
    assert "key" in refused.value.errors

    template_delete(template=welcome, actor=alice)
    assert template_create(data=template_body(), actor=alice).pk != welcome.pk


def test_publishing_freezes_the_draft_and_later_edits_wait_for_the_next_version(welcome, alice):
    first = template_publish(template=welcome, changelog="First cut", actor=alice)
    template_update(template=welcome, data={"name": "Welcome v2", "definition": {**WELCOME, "priority": 9}})
    second = template_publish(template=welcome, actor=alice)

    first.refresh_from_db()
    assert (first.number, first.definition["name"], first.definition["priority"]) == (1, "Welcome journey", 7)
    assert (second.number, second.definition["name"], second.definition["priority"]) == (2, "Welcome v2", 9)
    assert first.changelog == "First cut" and first.published_by == alice


def test_a_published_version_cannot_be_changed(welcome):
    version = template_publish(template=welcome)
    version.changelog = "rewritten history"

    with pytest.raises(Exception, match="cannot be changed"):
        version.save()
    assert TemplateVersion.objects.get(pk=version.pk).changelog == ""


def test_publishing_an_unchanged_draft_again_is_a_conflict(welcome):
    template_publish(template=welcome)
    with pytest.raises(Conflict) as conflict:
        template_publish(template=welcome)
    assert conflict.value.extra["current_version"] == 1


def test_a_template_without_steps_is_not_published(alice):
    empty = template_create(data=template_body(definition={"steps": []}), actor=alice)
    with pytest.raises(ValidationFailed) as refused:
        template_publish(template=empty)
    assert "definition.steps" in refused.value.errors


def test_the_catalogue_takes_only_published_templates(welcome):
    with pytest.raises(ValidationFailed) as refused:
        template_share(template=welcome, visibility=Visibility.CATALOGUE)
    assert "visibility" in refused.value.errors

    template_publish(template=welcome)
    assert (
        template_share(template=welcome, visibility=Visibility.CATALOGUE).visibility == Visibility.CATALOGUE
    )


def test_who_sees_a_template_follows_its_visibility(welcome, alice, make_user):
    staff = make_user("sam")
    staff.is_staff = True
    staff.save()
    outsider = make_user("olga")

    def seen_by(user) -> bool:
        return selectors.templates_visible_to(user).filter(pk=welcome.pk).exists()

    assert [seen_by(u) for u in (alice, staff, outsider, None)] == [True, False, False, False]
    template_share(template=welcome, visibility=Visibility.STAFF)
    assert [seen_by(u) for u in (alice, staff, outsider, None)] == [True, True, False, False]
    template_publish(template=welcome)
    template_share(template=welcome, visibility=Visibility.CATALOGUE)
    assert [seen_by(u) for u in (alice, staff, outsider, None)] == [True, True, True, True]


def test_one_review_per_person_and_the_average_rating(welcome, make_user):
    bob, carol = make_user("bob"), make_user("carol")
    template_review(template=welcome, user=bob, rating=2, text="meh")
    template_review(template=welcome, user=bob, rating=4, text="better after v2")
    template_review(template=welcome, user=carol, rating=5)

    shown = selectors.templates_live().get(pk=welcome.pk)
    assert (shown.average_rating, shown.review_count) == (4.5, 2)
    assert welcome.reviews.get(user=bob).text == "better after v2"


def test_ratings_outside_one_to_five_and_self_reviews_are_refused(welcome, alice, make_user):
    for rating in (0, 6, 2.5, True):
        with pytest.raises(ValidationFailed):
            template_review(template=welcome, user=make_user(), rating=rating)
    with pytest.raises(ValidationFailed) as refused:
        template_review(template=welcome, user=alice, rating=5)
    assert "non_field_errors" in refused.value.errors


def test_a_journey_designed_from_a_template_records_the_version_it_came_from(welcome, alice):
    template_publish(template=welcome)
    template_update(template=welcome, data={"definition": {**WELCOME, "priority": 1}})
    template_publish(template=welcome)

    latest = journey_design(template="welcome", actor=alice)
    pinned = journey_design(template="welcome", version=1, customizations={"name": "Pinned"}, actor=alice)

    assert (latest.template_version.number, latest.priority, latest.template_name) == (2, 1, "welcome")
    assert (pinned.template_version.number, pinned.priority, pinned.name) == (1, 7, "Pinned")
    assert [s.key for s in pinned.steps.order_by("order")] == ["hello", "check"]


def test_a_private_template_designs_nothing_for_others(welcome, make_user):
    template_publish(template=welcome)
    with pytest.raises(NotFound):
        journey_design(template="welcome", actor=make_user("mallory"))


def test_deleting_a_template_keeps_the_journeys_made_from_it(welcome, alice):
    template_publish(template=welcome)
    journey = journey_design(template="welcome", actor=alice)

    template_delete(template=welcome, actor=alice)

    journey.refresh_from_db()
    assert journey.template_version.template == welcome
    assert not selectors.templates_visible_to(alice).exists()


def test_bootstrap_puts_the_bundled_templates_in_the_catalogue_once():
    templates_bundled_load()
    templates_bundled_load()

    catalogue = selectors.catalogue_templates()
    assert sorted(t.key for t in catalogue) == [
        "content_migration",
        "onboarding",
        "payment_recovery",
        "re_engagement",
    ]
    assert {t.latest_version for t in catalogue} == {1}
    assert TemplateVersion.objects.count() == 4


def test_design_by_type_takes_the_catalogue_template_of_that_type():
    templates_bundled_load()
    journey = journey_design(journey_type="dunning", customizations={"priority": 3})
    assert (journey.name, journey.priority, journey.template_name) == (
        "Payment Failure Recovery",
        3,
        "payment_recovery",
    )
    assert journey.template_version.template.key == "payment_recovery"
