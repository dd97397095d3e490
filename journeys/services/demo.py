"""The demo loaded by ``bin/run``: a journey that visibly moves, participants, events.

``demo_load`` (a bootstrap step, skipped by ``bootstrap --no-demo``) publishes a short welcome
tour and sends three demo sign-ups through the bus, plus Kintell sessions for one participant so
the default ``mentor_ready_001`` rule sets a flag. Once the worker runs, the console shows the
emails (the default email backend prints them) and, half a minute later, the second one. Every
event carries a fixed idempotency key, so running bootstrap again adds nothing.
"""

from django.db import transaction

from journeys.models import Journey
from journeys.services.events import EventInput, events_ingest
from journeys.services.journeys import journey_create
from journeys.services.participants import participants_get_or_create

DEMO_JOURNEY = "Demo: welcome tour"
DEMO_SOURCE = "demo"
DEMO_PARTICIPANTS = {
    "demo-ada": {"first_name": "Ada", "email": "ada@example.com", "timezone": "Europe/London"},
    "demo-grace": {"first_name": "Grace", "email": "grace@example.com", "timezone": "America/New_York"},
    "demo-linus": {"first_name": "Linus", "email": "linus@example.com", "timezone": "Europe/Helsinki"},
}

DEMO_STEPS = [
    {
        "key": "welcome",
        "name": "Welcome email",
        "action_type": "send_email",
        "config": {"template": "welcome", "subject": "Welcome, {{ attributes.first_name }}!"},
        "is_milestone": True,
    },
    {"key": "pause", "name": "Wait half a minute", "kind": "wait", "config": {"duration": "30 seconds"}},
    {
        "key": "tag",
        "name": "Mark as toured",
        "action_type": "apply_tag",
        "config": {"tag": "toured"},
    },
    {
        "key": "tips",
        "name": "Tips email",
        "action_type": "send_email",
        "config": {
            "subject": "Three tips for your first week",
            "body": "Hi {{ attributes.first_name }},\n\nThe demo journey reached its last step: open "
            "the admin, Journeys → User journeys, to see this run's timeline and why each step ran.\n",
        },
        "is_milestone": True,
        "completion": True,
    },
]


@transaction.atomic
def demo_load() -> str:
    created = []
    if not Journey.objects.filter(name=DEMO_JOURNEY).exists():
        journey_create(
            data={
                "name": DEMO_JOURNEY,
                "description": "Loaded by the quick start: a welcome email, half a minute of waiting, "
                "a tag, a tips email. Trigger it with an event of type demo.signup.",
                "journey_type": "onboarding",
                "trigger_type": "demo.signup",
                "re_entry": Journey.ReEntry.ONCE,
            },
            steps=DEMO_STEPS,
            publish=True,
        )
        created.append("journey")
    participants = participants_get_or_create(user_ids=DEMO_PARTICIPANTS)
    for user_id, attributes in DEMO_PARTICIPANTS.items():
        participant = participants[user_id]
        if not participant.attributes:
            participant.attributes = attributes
            participant.save(update_fields=["attributes", "updated_at"])
    events = [
        EventInput(
            type="demo.signup", user_id=user_id, source=DEMO_SOURCE, idempotency_key=f"signup-{user_id}"
        )
        for user_id in DEMO_PARTICIPANTS
    ]
    events += [
        EventInput(
            type="kintell.session.completed",
            user_id="demo-ada",
            payload={"session_type": "language", "rating": rating},
            source=DEMO_SOURCE,
            idempotency_key=f"kintell-demo-ada-{n}",
        )
        for n, rating in enumerate((5, 4, 5))
    ]
    results = events_ingest(events=events)
    new_events = sum(not r.duplicate for r in results)
    return (
        f"{'published the demo journey, ' if created else ''}{len(DEMO_PARTICIPANTS)} demo participants, "
        f"{new_events} demo events sent"
    )
