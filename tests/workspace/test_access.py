"""Every workspace operation, as every kind of caller: owner, each role, moderator, stranger, anonymous.

The expected outcome of each operation is written here by hand (which ability it needs), and the
sweep checks that it covers every route of the workspace API, so a new endpoint cannot slip by.
"""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import URLPattern

from journeys.models import ApiKey
from tests.journeys.factories import ApiKeyFactory, UserFactory
from tests.workspace.conftest import image_bytes
from workspace.api import urls as workspace_urls
from workspace.models import (
    Attachment,
    Collaborator,
    Comment,
    Conversation,
    Decision,
    Export,
    Quote,
    ResearchItem,
    Task,
    Workspace,
)

VIEW, COMMENT, EDIT, MANAGE = "view", "comment", "edit", "manage"
HOLDERS = {  # who holds each ability, written out independently of workspace.policy
    VIEW: {"owner", "editor", "commenter", "viewer", "moderator"},
    COMMENT: {"owner", "editor", "commenter", "moderator"},
    EDIT: {"owner", "editor", "moderator"},
    MANAGE: {"owner", "moderator"},
}


def rows(workspace, owner) -> dict[str, int]:
    """Fresh rows of every kind in the workspace, so each call has something of its own to act on."""
    from django.core.files.base import ContentFile

    attachment = Attachment(
        workspace=workspace, kind="image", filename="a.png", content_type="image/png", size=3, sha256="0" * 64
    )
    attachment.file.save("a.png", ContentFile(image_bytes()), save=False)
    attachment.save()
    decision = Decision.objects.create(workspace=workspace, question="Q", chosen="A")
    revisited = Decision.objects.create(workspace=workspace, question="Q2", chosen="B", supersedes=decision)
    decision.current = False
    decision.save()
    friend = get_user_model().objects.create(username=f"friend-{attachment.pk}")  # no password to hash
    conversation = Conversation.objects.create(workspace=workspace, external_id=f"chat-{attachment.pk}")
    export = Export.objects.create(workspace=workspace, status="ready")
    export.file.save("e.pdf", ContentFile(b"%PDF-1.4 test"), save=True)
    return {
        "attachment": attachment.pk,
        "decision": revisited.pk,
        "quote": Quote.objects.create(
            workspace=workspace, category="c", vendor="v", amount=1, currency="EUR"
        ).pk,
        "research": ResearchItem.objects.create(workspace=workspace, title="t", url="https://example.com").pk,
        "collaborator": Collaborator.objects.create(workspace=workspace, user=friend, role="viewer").pk,
        "comment": Comment.objects.create(workspace=workspace, body="hi", created_by=owner).pk,
        "task": Task.objects.create(workspace=workspace, title="t").pk,
        "conversation": conversation.external_id,
        "export": export.pk,
    }


def png():
    file = io.BytesIO(image_bytes())
    file.name = "p.png"
    return file


# (url name, method, ability, body) — body is a function of the rows, for writes that need one
OPERATIONS = [
    ("workspace", "get", VIEW, None),
    ("workspace", "delete", MANAGE, None),
    ("attachments", "get", VIEW, None),
    ("attachments", "post", EDIT, lambda r: {"file": png()}),
    ("attachment", "get", VIEW, None),
    ("attachment", "delete", EDIT, None),
    ("attachment-content", "get", VIEW, None),
    ("near-duplicates", "get", VIEW, None),
    ("before-after", "get", VIEW, None),
    ("before-after", "post", EDIT, lambda r: {"before": r["attachment"], "after": r["attachment"]}),
    ("workspace-search", "get", VIEW, None),
    ("research", "get", VIEW, None),
    ("research", "post", EDIT, lambda r: {"title": "x", "url": "https://example.com/x"}),
    ("research-search", "get", VIEW, None),
    ("research-item", "delete", EDIT, None),
    ("decisions", "get", VIEW, None),
    ("decisions", "post", EDIT, lambda r: {"question": "q", "chosen": "c"}),
    ("decision", "get", VIEW, None),
    ("decision", "delete", EDIT, None),
    ("decision-revisit", "post", EDIT, lambda r: {"chosen": "d"}),
    ("decision-rollback", "post", EDIT, lambda r: {}),
    ("decision-history", "get", VIEW, None),
    ("budget", "get", VIEW, None),
    ("budget", "put", EDIT, lambda r: {"amount": "10.00", "currency": "EUR"}),
    ("quotes", "get", VIEW, None),
    ("quotes", "post", EDIT, lambda r: {"category": "c", "vendor": "v", "amount": "1.00", "currency": "EUR"}),
    ("quote-accept", "post", EDIT, lambda r: {}),
    ("costs", "get", VIEW, None),
    (
        "costs",
        "post",
        EDIT,
        lambda r: {
            "category": "c",
            "description": "d",
            "amount": "1.00",
            "currency": "EUR",
            "spent_on": "2026-01-02",
        },
    ),
    ("collaborators", "get", VIEW, None),
    ("collaborator", "patch", MANAGE, lambda r: {"role": "editor"}),
    ("collaborator", "delete", MANAGE, None),
    ("invitations", "get", MANAGE, None),
    ("invitations", "post", MANAGE, lambda r: {"email": "new@example.com", "role": "viewer"}),
    ("comments", "get", VIEW, None),
    ("comments", "post", COMMENT, lambda r: {"body": "hello"}),
    ("comment", "delete", MANAGE, None),  # another person's comment: owner or moderator only
    ("tasks", "get", VIEW, None),
    ("tasks", "post", EDIT, lambda r: {"title": "t"}),
    ("task", "patch", EDIT, lambda r: {"status": "done"}),
    ("task", "delete", EDIT, None),
    ("activity", "get", VIEW, None),
    ("conversations", "get", VIEW, None),
    ("conversations", "post", EDIT, lambda r: {"conversation_id": "another-chat"}),
    ("messages", "get", VIEW, None),
    ("messages", "post", EDIT, lambda r: {"sender": "participant", "body": "hi"}),
    ("resume", "get", VIEW, None),
    ("exports", "get", VIEW, None),
    ("exports", "post", EDIT, lambda r: {}),
    ("export", "get", VIEW, None),
    ("export-download", "get", VIEW, None),
]
ID_KWARG = {
    "attachment": "attachment", "attachment-content": "attachment", "near-duplicates": "attachment",
    "research-item": "research", "decision": "decision", "decision-revisit": "decision",
    "decision-rollback": "decision", "decision-history": "decision", "quote-accept": "quote",
    "collaborator": "collaborator", "comment": "comment", "task": "task", "export": "export",
    "export-download": "export",
}  # fmt: skip
QUERY = {"workspace-search": "?q=oak", "research-search": "?q=oak"}


def url_for(name: str, user_journey_id: int, r: dict) -> str:
    path = next(p for p in workspace_urls.urlpatterns if p.name == name).pattern._route
    path = path.replace("<int:user_journey_id>", str(user_journey_id))
    path = path.replace("<int:pk>", str(r.get(ID_KWARG.get(name, ""), 0)))
    path = path.replace("<str:conversation_id>", str(r["conversation"]))
    return "/api/v1/" + path + QUERY.get(name, "")


def test_the_sweep_covers_every_workspace_operation():
    routes = set()
    for pattern in workspace_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if "user_journey_id" not in pattern.pattern._route:
            continue
        view = pattern.callback.view_class
        routes |= {(pattern.name, m) for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
    assert routes == {(name, method) for name, method, _, _ in OPERATIONS}


@pytest.fixture
def callers(workspace, owner, collaborator):
    moderator = UserFactory(username="staff-moderator")
    moderator.user_permissions.add(Permission.objects.get(codename="moderate_workspace"))
    return {
        "owner": owner,
        "editor": collaborator("editor"),
        "commenter": collaborator("commenter"),
        "viewer": collaborator("viewer"),
        "moderator": moderator,
        "stranger": UserFactory(username="stranger"),
        "anonymous": None,
    }


@pytest.mark.parametrize(
    ("name", "method", "ability", "body"), OPERATIONS, ids=lambda v: v if isinstance(v, str) else ""
)
def test_each_caller_gets_exactly_what_their_role_allows(
    name, method, ability, body, callers, workspace, owner, user_journey, client_as, settings
):
    settings.WORKSPACE_SEARCH_PROVIDER_URL = ""  # research-search answers 400 to everyone allowed
    for who, user in callers.items():
        workspace.refresh_from_db()
        if workspace.deleted_at:
            Workspace.objects.filter(pk=workspace.pk).update(deleted_at=None)
        r = rows(workspace, owner)
        data = body(r) if body else None
        fmt = "multipart" if name == "attachments" else "json"
        response = getattr(client_as(user), method)(url_for(name, user_journey.pk, r), data, format=fmt)
        status = response.status_code
        if who == "anonymous":
            assert status == 401, (who, status)
        elif who == "stranger":
            assert status == 404, (who, status)  # the journey does not exist for them
        elif who in HOLDERS[ability]:
            assert status < 500 and status not in {401, 403, 404}, (
                who,
                status,
                getattr(response, "data", ""),
            )
        else:
            assert status == 403, (who, status)


def test_an_ingest_key_reaches_no_workspace_operation(workspace, owner, user_journey, client_as):
    key = ApiKeyFactory(user=owner, scope=ApiKey.Scope.INGEST)
    client = client_as(None)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory.full_key(key)}")
    r = rows(workspace, owner)
    for name, method, _, body in OPERATIONS:
        fmt = "multipart" if name == "attachments" else "json"
        response = getattr(client, method)(
            url_for(name, user_journey.pk, r), body(r) if body else None, format=fmt
        )
        assert response.status_code in {401, 403}, (name, method, response.status_code)


def test_rows_of_another_journey_are_not_found_through_ones_own(
    workspace, owner, user_journey, renovation, client_as
):
    from journeys.services.enrolment import user_journey_enrol

    theirs = rows(workspace, owner)
    mine = user_journey_enrol(journey=renovation, user_id="olav")
    olav = UserFactory(username="olav")
    client = client_as(olav)
    for name, method, _, body in OPERATIONS:
        if name not in ID_KWARG and name != "messages":
            continue
        response = getattr(client, method)(url_for(name, mine.pk, theirs), body(theirs) if body else None)
        assert response.status_code in {400, 404}, (name, method, response.status_code)
    assert Attachment.objects.filter(pk=theirs["attachment"], deleted_at=None).exists()
    assert Task.objects.get(pk=theirs["task"]).status == "open"


def test_protected_fields_cannot_be_set_by_the_caller(client_as, owner, base_url, workspace):
    other = Decision.objects.create(workspace=workspace, question="old", chosen="x")
    response = client_as(owner).post(
        f"{base_url}/decisions",
        {"question": "q", "chosen": "c", "current": False, "supersedes": other.pk, "rolled_back": True,
         "created_by": 999, "workspace": 12345},
    )  # fmt: skip
    assert response.status_code == 201
    decision = Decision.objects.get(pk=response.json()["id"])
    assert (decision.current, decision.supersedes_id, decision.rolled_back) == (True, None, False)
    assert decision.created_by == owner and decision.workspace == workspace


def test_my_journeys_lists_owned_and_shared_journeys_with_the_role(
    client_as, owner, user_journey, collaborator, workspace
):
    viewer = collaborator("viewer")
    assert [(j["id"], j["role"]) for j in client_as(owner).get("/api/v1/me/journeys").json()["results"]] == [
        (user_journey.pk, "owner")
    ]
    assert [(j["id"], j["role"]) for j in client_as(viewer).get("/api/v1/me/journeys").json()["results"]] == [
        (user_journey.pk, "viewer")
    ]
    assert client_as(UserFactory(username="nobody")).get("/api/v1/me/journeys").json()["results"] == []


def test_a_strangers_probe_opens_no_workspace_and_the_owner_finds_an_empty_one(
    client_as, owner, user_journey
):
    url = f"/api/v1/user-journeys/{user_journey.pk}"
    stranger = UserFactory(username="stranger")
    assert client_as(stranger).get(f"{url}/workspace").status_code == 404
    assert client_as(stranger).post(f"{url}/tasks", {"title": "x"}).status_code == 404
    assert not Workspace.objects.filter(user_journey=user_journey).exists()

    assert client_as(owner).get(f"{url}/tasks").json()["results"] == []
    assert client_as(owner).get(f"{url}/workspace").json()["role"] == "owner"
    assert Workspace.objects.filter(user_journey=user_journey).count() == 1
