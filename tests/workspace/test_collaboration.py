"""Sharing by invitation, comments with @mentions that notify, tasks, and the activity feed."""

from django.core import mail

from tests.journeys.factories import UserFactory
from workspace.models import Collaborator, Workspace


def test_an_invited_contractor_joins_as_commenter(
    client_as, owner, base_url, user_journey, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invited = client_as(owner).post(
            f"{base_url}/invitations", {"email": "erik@builders.example", "role": "commenter"}
        )
    assert invited.status_code == 201
    token = invited.json()["token"]
    assert len(mail.outbox) == 1 and token in mail.outbox[0].body
    assert mail.outbox[0].to == ["erik@builders.example"]
    assert "token" not in client_as(owner).get(f"{base_url}/invitations").json()["results"][0] or (
        client_as(owner).get(f"{base_url}/invitations").json()["results"][0]["token"] is None
    )

    erik = UserFactory(username="erik", email="erik@builders.example")
    accepted = client_as(erik).post("/api/v1/invitations/accept", {"token": token})
    assert accepted.status_code == 201 and accepted.json()["user_journey"] == user_journey.pk
    assert client_as(erik).post("/api/v1/invitations/accept", {"token": token}).status_code == 409
    assert client_as(erik).post("/api/v1/invitations/accept", {"token": "nope"}).status_code == 404

    assert client_as(erik).post(f"{base_url}/comments", {"body": "Looks good"}).status_code == 201
    assert client_as(erik).post(f"{base_url}/decisions", {"question": "q", "chosen": "c"}).status_code == 403
    role = client_as(owner).patch(
        f"{base_url}/collaborators/{Collaborator.objects.get(user=erik).pk}", {"role": "editor"}
    )
    assert role.status_code == 200
    assert client_as(erik).post(f"{base_url}/decisions", {"question": "q", "chosen": "c"}).status_code == 201


def test_mentions_notify_the_people_named_who_can_see_the_journey(
    client_as, owner, base_url, collaborator, django_capture_on_commit_callbacks
):
    builder = collaborator("commenter", username="builder")
    UserFactory(username="outsider", email="outsider@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        posted = client_as(owner).post(
            f"{base_url}/comments",
            {"body": "@builder can you start Monday? cc @outsider @maria", "step_key": "build"},
        )
    assert posted.status_code == 201
    assert posted.json()["mentions"] == ["builder"]  # not the outsider, not the author
    assert [m.to for m in mail.outbox] == [[builder.email]]
    assert "start Monday" in mail.outbox[0].body

    reply = client_as(builder).post(f"{base_url}/comments", {"body": "Yes", "parent": posted.json()["id"]})
    assert reply.status_code == 201
    assert (reply.json()["parent"], reply.json()["step_key"]) == (posted.json()["id"], "build")
    bad_parent = client_as(builder).post(f"{base_url}/comments", {"body": "x", "parent": 999999})
    assert bad_parent.status_code == 400 and "parent" in bad_parent.json()


def test_comment_authors_delete_their_own_and_owners_any(client_as, owner, base_url, collaborator):
    builder = collaborator("commenter", username="builder")
    mine = client_as(builder).post(f"{base_url}/comments", {"body": "mine"}).json()["id"]
    theirs = client_as(owner).post(f"{base_url}/comments", {"body": "owner's"}).json()["id"]

    assert client_as(builder).delete(f"{base_url}/comments/{theirs}").status_code == 403
    assert client_as(builder).delete(f"{base_url}/comments/{mine}").status_code == 204
    assert client_as(owner).delete(f"{base_url}/comments/{theirs}").status_code == 204
    assert client_as(owner).get(f"{base_url}/comments").json()["results"] == []


def test_tasks_go_to_people_of_the_journey(client_as, owner, base_url, collaborator):
    editor = collaborator("editor", username="sister")
    UserFactory(username="stranger")
    client = client_as(owner)
    created = client.post(
        f"{base_url}/tasks", {"title": "Pick tiles", "assignee": "sister", "due_on": "2026-05-01"}
    )
    assert created.status_code == 201
    refused = client.post(f"{base_url}/tasks", {"title": "x", "assignee": "stranger"})
    assert refused.status_code == 400 and "assignee" in refused.json()

    done = client_as(editor).patch(f"{base_url}/tasks/{created.json()['id']}", {"status": "done"})
    assert done.status_code == 200 and done.json()["completed_at"]
    assert client.get(f"{base_url}/tasks", {"assignee": "sister", "status": "done"}).json()["results"][0][
        "title"
    ] == ("Pick tiles")


def test_every_change_is_in_the_activity_feed_and_moves_last_activity(client_as, owner, base_url, workspace):
    before = Workspace.objects.get(pk=workspace.pk).last_activity_at
    client = client_as(owner)
    client.post(f"{base_url}/decisions", {"question": "Floor", "chosen": "Oak"})
    client.post(f"{base_url}/comments", {"body": "Ordered"})
    client.put(f"{base_url}/budget", {"amount": "100.00", "currency": "EUR"})

    feed = client.get(f"{base_url}/activity").json()["results"]
    assert [line["verb"] for line in feed] == ["budget.set", "comment.posted", "decision.made"]
    assert feed[2]["summary"] == "Decided Floor: Oak" and feed[2]["actor"] == "maria"
    assert Workspace.objects.get(pk=workspace.pk).last_activity_at > before


def test_deleting_a_task_or_a_saved_result_hides_it_and_says_so_in_the_feed(
    client_as, owner, base_url, workspace
):
    task = client_as(owner).post(f"{base_url}/tasks", {"title": "Order tiles"}).json()
    item = (
        client_as(owner)
        .post(f"{base_url}/research", {"title": "Tile guide", "url": "https://example.com/tiles"})
        .json()
    )
    assert client_as(owner).delete(f"{base_url}/tasks/{task['id']}").status_code == 204
    assert client_as(owner).delete(f"{base_url}/research/{item['id']}").status_code == 204

    assert client_as(owner).get(f"{base_url}/tasks").json()["results"] == []
    assert client_as(owner).get(f"{base_url}/research").json()["results"] == []
    feed = [a["summary"] for a in client_as(owner).get(f"{base_url}/activity").json()["results"]]
    assert feed[:2] == ["Removed Tile guide", "Deleted the task “Order tiles”"]
    assert client_as(owner).delete(f"{base_url}/tasks/{task['id']}").status_code == 404
