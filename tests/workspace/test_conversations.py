"""A chat links its conversation to a journey, keeps its messages there, and resumes from it."""

from workspace.models import Message


def test_a_chat_resumes_where_the_person_left_off(client_as, owner, base_url, user_journey):
    client = client_as(owner)
    assert (
        client.post(f"{base_url}/conversations", {"conversation_id": "chat-77", "channel": "web"}).status_code
        == 201
    )
    assert (
        client.post(f"{base_url}/conversations", {"conversation_id": "chat-77"}).status_code == 201
    )  # idempotent
    for i, body in enumerate(["Where was I?", "You were collecting quotes.", "Right, two more to go."]):
        sender = "assistant" if i == 1 else "participant"
        response = client.post(
            f"{base_url}/conversations/chat-77/messages",
            {"sender": sender, "body": body, "message_id": f"m-{i}"},
        )
        assert response.status_code == 201 and response.json()["user_journey"] == user_journey.pk
    repeated = client.post(
        f"{base_url}/conversations/chat-77/messages",
        {"sender": "participant", "body": "Where was I?", "message_id": "m-0"},
    )
    assert repeated.status_code == 201 and Message.objects.count() == 3
    client.post(f"{base_url}/tasks", {"title": "Call the plumber"})
    client.post(f"{base_url}/decisions", {"question": "Sink", "chosen": "Undermount"})

    resume = client.get(f"{base_url}/conversations/resume").json()
    assert (resume["user_journey"], resume["journey"], resume["current_step"]) == (
        user_journey.pk,
        "Kitchen renovation",
        user_journey.current_step,
    )
    assert [t["title"] for t in resume["open_tasks"]] == ["Call the plumber"]
    assert [d["chosen"] for d in resume["decisions"]] == ["Undermount"]
    assert [m["body"] for m in resume["messages"]][-1] == "Right, two more to go."


def test_a_conversation_belongs_to_one_journey(client_as, owner, base_url, renovation):
    from journeys.services.enrolment import user_journey_enrol

    other = user_journey_enrol(journey=renovation, user_id=owner.username)
    client = client_as(owner)
    client.post(f"{base_url}/conversations", {"conversation_id": "chat-1"})
    moved = client.post(f"/api/v1/user-journeys/{other.pk}/conversations", {"conversation_id": "chat-1"})
    assert moved.status_code == 409
    unknown = client.post(f"{base_url}/conversations/nope/messages", {"sender": "participant", "body": "x"})
    assert unknown.status_code == 404
