"""The template library over HTTP: who sees and changes what, publishing, versions, reviews,
filters, and journeys designed from a template through the API."""

import pytest

from journeys.models import Journey
from tests.journeys.template_helpers import WELCOME, staff_member, template_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(make_user, client_for):
    """Two designers, an analyst, and an analyst who is not staff; each with an API client."""
    users = {
        "alice": staff_member(make_user, "designer", "alice"),
        "bob": staff_member(make_user, "designer", "bob"),
        "carol": staff_member(make_user, "analyst", "carol"),
        "dave": staff_member(make_user, "analyst", "dave", staff=False),
    }
    return {name: client_for(user) for name, user in users.items()}


@pytest.fixture
def welcome(cast):
    """Alice's template, published once and still private."""
    assert cast["alice"].post("/api/v1/templates", template_body(), format="json").status_code == 201
    assert (
        cast["alice"]
        .post("/api/v1/templates/welcome/publish", {"changelog": "v1"}, format="json")
        .status_code
        == 201
    )
    return "/api/v1/templates/welcome"


def keys_seen(client) -> list[str]:
    response = client.get("/api/v1/templates")
    assert response.status_code == 200
    return sorted(t["key"] for t in response.json()["results"])


def share(client, url: str, visibility: str):
    return client.post(f"{url}/share", {"visibility": visibility}, format="json")


def test_a_private_template_is_seen_by_its_author_only(cast, welcome):
    assert keys_seen(cast["alice"]) == ["welcome"]
    assert [keys_seen(cast[n]) for n in ("bob", "carol", "dave")] == [[], [], []]
    assert cast["bob"].get(welcome).status_code == 404
    assert cast["bob"].patch(welcome, {"name": "Mine now"}, format="json").status_code == 404
    assert cast["bob"].get(f"{welcome}/export").status_code == 404


def test_shared_with_staff_reaches_staff_and_the_catalogue_reaches_everyone_who_reads(cast, welcome):
    assert share(cast["alice"], welcome, "staff").status_code == 200
    assert [keys_seen(cast[n]) for n in ("bob", "carol", "dave")] == [["welcome"], ["welcome"], []]

    assert share(cast["alice"], welcome, "catalogue").json()["visibility"] == "catalogue"
    assert [keys_seen(cast[n]) for n in ("bob", "carol", "dave")] == [["welcome"]] * 3


def test_only_the_author_shares_and_only_roles_that_build_change(cast, welcome):
    share(cast["alice"], welcome, "staff")
    assert share(cast["bob"], welcome, "catalogue").status_code == 403
    assert share(cast["carol"], welcome, "catalogue").status_code == 403
    assert cast["carol"].patch(welcome, {"name": "x"}, format="json").status_code == 403
    assert cast["carol"].post("/api/v1/templates", template_body("mine"), format="json").status_code == 403
    changed = cast["bob"].patch(welcome, {"description": "Edited by a colleague"}, format="json")
    assert changed.status_code == 200 and changed.json()["description"] == "Edited by a colleague"


def test_the_catalogue_needs_a_published_version(cast):
    cast["alice"].post("/api/v1/templates", template_body("draft"), format="json")
    response = share(cast["alice"], "/api/v1/templates/draft", "catalogue")
    assert response.status_code == 400 and "visibility" in response.json()


def test_bad_input_is_answered_by_field(cast):
    body = template_body(
        "broken", definition={"steps": [{"key": "a", "next_steps": ["nowhere"]}], "priority": "high"}
    )
    response = cast["alice"].post("/api/v1/templates", body, format="json")
    assert response.status_code == 400
    assert "definition.priority" in response.json()
    assert any(field.startswith("definition.steps.0") for field in response.json())
    bad_key = cast["alice"].post("/api/v1/templates", template_body("not a slug"), format="json")
    assert bad_key.status_code == 400 and "key" in bad_key.json()


def test_publish_freezes_versions_that_are_listed_newest_first(cast, welcome):
    cast["alice"].patch(welcome, {"definition": {**WELCOME, "priority": 2}}, format="json")
    published = cast["alice"].post(f"{welcome}/publish", {"changelog": "Lower priority"}, format="json")
    assert published.status_code == 201 and published.json()["number"] == 2
    again = cast["alice"].post(f"{welcome}/publish", {}, format="json")
    assert again.status_code == 409 and again.json()["current_version"] == 2

    versions = cast["alice"].get(f"{welcome}/versions").json()
    assert [(v["number"], v["changelog"], v["published_by"]) for v in versions] == [
        (2, "Lower priority", "alice"),
        (1, "v1", "alice"),
    ]
    first = cast["alice"].get(f"{welcome}/versions/1").json()
    assert first["definition"]["priority"] == 7
    assert cast["alice"].get(f"{welcome}/versions/9").status_code == 404
    assert cast["alice"].get(welcome).json()["latest_version"] == 2


def test_reviews_one_per_person_with_the_average_shown(cast, welcome):
    share(cast["alice"], welcome, "catalogue")
    assert (
        cast["bob"].post(f"{welcome}/reviews", {"rating": 3, "text": "ok"}, format="json").status_code == 201
    )
    assert (
        cast["bob"].post(f"{welcome}/reviews", {"rating": 4, "text": "good"}, format="json").status_code
        == 201
    )
    assert cast["carol"].post(f"{welcome}/reviews", {"rating": 5}, format="json").status_code == 403
    assert cast["bob"].post(f"{welcome}/reviews", {"rating": 6}, format="json").status_code == 400
    assert cast["alice"].post(f"{welcome}/reviews", {"rating": 5}, format="json").status_code == 400

    reviews = cast["carol"].get(f"{welcome}/reviews").json()["results"]
    assert [(r["user"], r["rating"], r["text"]) for r in reviews] == [("bob", 4, "good")]
    shown = cast["carol"].get(welcome).json()
    assert (shown["average_rating"], shown["review_count"]) == (4.0, 1)


def test_the_list_filters_by_type_visibility_and_search_and_refuses_unknown_filters(cast, template_library):
    cast["alice"].post("/api/v1/templates", template_body("welcome"), format="json")

    def keys(query: str) -> list[str]:
        return sorted(t["key"] for t in cast["alice"].get(f"/api/v1/templates?{query}").json()["results"])

    assert keys("journey_type=onboarding") == ["onboarding", "welcome"]
    assert keys("visibility=private") == ["welcome"]
    assert keys("search=payment") == ["payment_recovery"]
    assert cast["alice"].get("/api/v1/templates?colour=red").status_code == 400
    assert cast["alice"].get("/api/v1/templates?visibility=everyone").status_code == 400
    page = cast["alice"].get("/api/v1/templates?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]


def test_deleting_is_soft_and_frees_the_key(cast, welcome):
    assert cast["alice"].delete(welcome).status_code == 204
    assert cast["alice"].get(welcome).status_code == 404
    assert cast["alice"].post("/api/v1/templates", template_body(), format="json").status_code == 201


def test_a_journey_from_a_template_names_its_version(cast, welcome):
    cast["alice"].patch(welcome, {"definition": {**WELCOME, "priority": 2}}, format="json")
    cast["alice"].post(f"{welcome}/publish", {}, format="json")

    body = {"version": 1, "customizations": {"name": "From v1", "steps": {"hello": {"name": "Hi"}}}}
    response = cast["alice"].post(f"{welcome}/journeys", body, format="json")

    assert response.status_code == 201, response.json()
    journey = Journey.objects.get(pk=response.json()["id"])
    assert (journey.name, journey.priority, journey.template_version.number) == ("From v1", 7, 1)
    assert response.json()["steps"][0]["name"] == "Hi"
    assert response.json()["template_version"] == {"template": "welcome", "number": 1}
    missing = cast["alice"].post(f"{welcome}/journeys", {"version": 5}, format="json")
    assert missing.status_code == 400 and "version" in missing.json()


def test_design_by_type_keeps_working_from_the_catalogue(admin_api, template_library):
    body = {"journey_type": "content_migration", "requirements": {"name": "Migrate ACME", "priority": 5}}
    response = admin_api.post("/api/v1/journeys/design", body, format="json")
    assert response.status_code == 201
    journey = Journey.objects.get(pk=response.json()["id"])
    assert journey.template_version.template.key == "content_migration"
    listed = admin_api.get("/api/v1/journeys/templates").json()
    assert {t["template"] for t in listed} == {
        "content_migration",
        "onboarding",
        "payment_recovery",
        "re_engagement",
    }


def test_people_without_template_permissions_are_refused(make_user, client_for, welcome):
    nobody = client_for(make_user("nobody"))
    assert nobody.get("/api/v1/templates").status_code == 403
    assert nobody.post("/api/v1/templates", template_body("x"), format="json").status_code == 403
