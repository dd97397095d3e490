"""Handlers the quick-start tests subscribe to the bus through ``EVENT_SUBSCRIBERS``."""

import os
import time
from pathlib import Path

from journeys.models import Event, Participant


def note_then_record_slowly(event: Event) -> None:
    """Say it started (a file the test waits for), take ``SLOW_SUBSCRIBER_SECONDS``, then record.

    The record is what a user would see: the event's id in the participant's ``handled_events``.
    """
    notes = Path(os.environ["SLOW_SUBSCRIBER_NOTES"])
    (notes / f"started-{event.pk}").touch()
    time.sleep(float(os.environ.get("SLOW_SUBSCRIBER_SECONDS", "0")))
    participant = Participant.objects.select_for_update().get(pk=event.participant_id)
    handled = participant.attributes.get("handled_events", [])
    participant.attributes["handled_events"] = [*handled, event.pk]
    participant.save(update_fields=["attributes"])
