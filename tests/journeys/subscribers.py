"""Handlers that tests subscribe to the bus (in-process, or via EVENT_SUBSCRIBERS in a worker)."""

from journeys.models import Event, Participant


def mark_participant_seen(event: Event) -> None:
    """Writes where the test can see it: the participant's ``seen_events`` attribute."""
    participant = Participant.objects.select_for_update().get(pk=event.participant_id)
    seen = participant.attributes.get("seen_events", [])
    participant.attributes["seen_events"] = [*seen, event.pk]
    participant.save(update_fields=["attributes"])
