"""The two journeys people live through for weeks, end to end through the API: a kitchen
renovation and a bathroom upgrade — photos before and after, quotes compared, decisions revisited,
a contractor invited to comment, a chat resumed, and the journey exported as a PDF."""

import io

from django.core import mail
from pypdf import PdfReader

from journeys.services.enrolment import user_journey_enrol
from journeys.services.user_journeys import user_journey_advance
from tests.journeys.factories import UserFactory, make_journey
from tests.workspace.conftest import image_bytes, pdf_bytes
from tests.workspace.test_uploads import upload

BATHROOM_STEPS = [
    {"key": "plan", "name": "Plan", "kind": "manual", "is_milestone": True, "next_steps": ["demolition"]},
    {
        "key": "demolition",
        "name": "Demolition",
        "kind": "manual",
        "is_milestone": True,
        "next_steps": ["tiling"],
    },
    {"key": "tiling", "name": "Tiling", "kind": "manual", "is_milestone": True, "completion": True},
]


def live_through(
    client, base_url, *, user_journey, contractor, quotes, decision, revisit, photos_step, background
):
    """What the seed's people do on their journey; returns the exported PDF's text."""
    # Photos of the room before, a quote document, and the decision.
    before = upload(
        client, base_url, image_bytes(color=(90, 70, 50)), "before.jpg", step_key=photos_step
    ).json()
    with background(execute=True):  # the text extraction task runs after the upload commits
        document = upload(client, base_url, pdf_bytes(quotes[0][2]), "quote.pdf", step_key=photos_step).json()
    for vendor, amount, _ in quotes:
        response = client.post(
            f"{base_url}/quotes",
            {"category": "contractor", "vendor": vendor, "amount": amount, "currency": "EUR",
             "attachment": document["id"]},
        )  # fmt: skip
        assert response.status_code == 201, response.json()
    compared = client.get(f"{base_url}/quotes", {"category": "contractor"}).json()
    cheapest = compared[0]
    client.post(f"{base_url}/quotes/{cheapest['id']}/accept")
    client.put(
        f"{base_url}/budget", {"category": "contractor", "amount": cheapest["amount"], "currency": "EUR"}
    )
    made = client.post(f"{base_url}/decisions", {**decision, "step_key": photos_step}).json()
    client.post(f"{base_url}/decisions/{made['id']}/revisit", revisit)

    # The contractor is invited to comment, and is asked a question.
    invitation = client.post(
        f"{base_url}/invitations", {"email": contractor.email, "role": "commenter"}
    ).json()
    from rest_framework.test import APIClient

    as_contractor = APIClient()
    as_contractor.force_authenticate(contractor)
    assert as_contractor.post("/api/v1/invitations/accept", {"token": invitation["token"]}).status_code == 201
    with background(execute=True):
        asked = client.post(f"{base_url}/comments", {"body": f"@{contractor.username} when can you start?"})
    assert mail.outbox[-1].to == [contractor.email] and "when can you start" in mail.outbox[-1].body
    assert asked.json()["mentions"] == [contractor.username]
    assert (
        as_contractor.post(
            f"{base_url}/comments", {"body": "Monday", "parent": asked.json()["id"]}
        ).status_code
        == 201
    )
    assert as_contractor.post(f"{base_url}/costs", {}).status_code == 403  # commenters don't touch money

    # Work happens; the journey moves on; the after photo is paired with the before.
    user_journey_advance(user_journey=user_journey, step_result={"ok": True})
    client.post(
        f"{base_url}/costs",
        {
            "category": "contractor",
            "description": "Final invoice",
            "amount": cheapest["amount"],
            "currency": "EUR",
            "spent_on": "2026-05-10",
            "quote": cheapest["id"],
        },
    )
    after = upload(
        client, base_url, image_bytes(color=(235, 235, 240), pattern=False), "after.jpg", step_key=photos_step
    )
    client.post(f"{base_url}/before-after", {"before": before["id"], "after": after.json()["id"]})

    # A chat picks up where the person left off.
    client.post(f"{base_url}/conversations", {"conversation_id": f"chat-{user_journey.pk}"})
    client.post(
        f"{base_url}/conversations/chat-{user_journey.pk}/messages",
        {"sender": "participant", "body": "Contractor starts Monday"},
    )
    resume = client.get(f"{base_url}/conversations/resume").json()
    assert resume["current_step"] == user_journey.__class__.objects.get(pk=user_journey.pk).current_step
    assert resume["messages"][-1]["body"] == "Contractor starts Monday"
    assert resume["decisions"][0]["chosen"] == revisit["chosen"]

    # Found by search, then exported.
    assert [hit["id"] for hit in client.get(f"{base_url}/search", {"q": quotes[0][2].split()[0]}).json()] == [
        document["id"]
    ]
    with background(execute=True):
        export = client.post(f"{base_url}/exports").json()
    export = client.get(f"{base_url}/exports/{export['id']}").json()
    assert export["status"] == "ready"
    pdf = b"".join(client.get(export["download"]).streaming_content)
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_kitchen_renovation(client_as, owner, base_url, user_journey, django_capture_on_commit_callbacks):
    text = live_through(
        client_as(owner),
        base_url,
        user_journey=user_journey,
        contractor=UserFactory(username="nordic-kitchens", email="hello@nordic.example"),
        quotes=[("Nordic Kitchens", "8700.00", "Cabinets oak fitted"), ("Budget Fitters", "9900.00", "x")],
        decision={"question": "Countertop", "chosen": "Granite", "reasoning": "Classic"},
        revisit={"chosen": "Quartz", "reasoning": "No sealing"},
        photos_step="design",
        background=django_capture_on_commit_callbacks,
    )
    for expected in [
        "Kitchen renovation",
        "Countertop",
        "Quartz",
        "superseded",
        "8700.00",
        "Before and after",
    ]:
        assert expected in text, expected


def test_a_bathroom_upgrade(client_as, owner, django_capture_on_commit_callbacks):
    journey = make_journey(BATHROOM_STEPS, name="Bathroom upgrade", trigger_type="", re_entry="always")
    user_journey = user_journey_enrol(journey=journey, user_id=owner.username)
    text = live_through(
        client_as(owner),
        f"/api/v1/user-journeys/{user_journey.pk}",
        user_journey=user_journey,
        contractor=UserFactory(username="tile-masters", email="post@tiles.example"),
        quotes=[("Tile Masters", "4300.00", "Tiling walls and floor"), ("Quick Tiles", "5200.00", "y")],
        decision={"question": "Shower", "chosen": "Bathtub"},
        revisit={"chosen": "Walk-in shower"},
        photos_step="plan",
        background=django_capture_on_commit_callbacks,
    )
    for expected in ["Bathroom upgrade", "Walk-in shower", "Bathtub", "4300.00", "plan"]:
        assert expected in text, expected
