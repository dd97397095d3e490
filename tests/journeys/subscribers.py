"""Handlers that tests subscribe to the bus (in-process, or via EVENT_SUBSCRIBERS in a worker)."""

import os
import time

from journeys.models import Event, Participant


def mark_participant_seen(event: Event) -> None:
    """Writes where the test can see it: the participant's ``seen_events`` attribute.

    ``TEST_SUBSCRIBER_SLEEP`` (seconds) makes it slow, so a test can kill the worker mid-way.
    """
    time.sleep(float(os.environ.get("TEST_SUBSCRIBER_SLEEP", "0")))
    participant = Participant.objects.select_for_update().get(pk=event.participant_id)
    seen = participant.attributes.get("seen_events", [])
    participant.attributes["seen_events"] = [*seen, event.pk]
    participant.save(update_fields=["attributes"])


def mark_database_session(event: Event) -> None:
    """Records the Postgres session (``pg_backend_pid()``) that handled the event, in the
    participant's ``sessions`` attribute."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [pid] = cursor.fetchone()
    participant = Participant.objects.select_for_update().get(pk=event.participant_id)
    participant.attributes["sessions"] = [*participant.attributes.get("sessions", []), pid]
    participant.save(update_fields=["attributes"])
