"""Domain events (seed §7) onto the bus. Emitted inside the transaction that made the change,
so an event exists exactly when its cause committed; its idempotency key is derived from the
cause (a history row, a task attempt), so a retried cause never emits twice."""

from typing import Any

from journeys.services.events import event_emit
from stages.models import StagedJourney

EVENT_SOURCE = "stages"


def stage_event_emit(*, type: str, journey: StagedJourney, key: str, payload: dict[str, Any]) -> int:
    result = event_emit(
        type=type,
        user_id=journey.client_id,
        payload={"client_id": journey.client_id, "journey_id": journey.pk, **payload},
        source=EVENT_SOURCE,
        idempotency_key=key,
    )
    return result.id
