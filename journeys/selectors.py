"""Read-side queries of the event spine."""

from datetime import datetime

from django.db.models import QuerySet

from journeys.errors import NotFound
from journeys.models import EntityRecord, Event, Participant


def participant_get(*, user_id: str) -> Participant:
    try:
        return Participant.objects.get(user_id=user_id)
    except Participant.DoesNotExist:
        raise NotFound(f"No participant with user_id {user_id!r}.") from None


def participants_list(*, tag: str | None = None) -> QuerySet[Participant]:
    participants = Participant.objects.all()
    if tag:
        # JSON containment is not portable to SQLite; the tag list is short, so match the text.
        participants = participants.filter(tags__icontains=f'"{tag}"')
    return participants


def events_list(
    *,
    user_id: str | None = None,
    type: str | None = None,
    status: str | None = None,
    occurred_after: datetime | None = None,
    occurred_before: datetime | None = None,
) -> QuerySet[Event]:
    events = Event.objects.select_related("participant")
    if user_id:
        events = events.filter(participant__user_id=user_id)
    if type:
        events = events.filter(type__startswith=type[:-1]) if type.endswith("*") else events.filter(type=type)
    if status:
        events = events.filter(status=status)
    if occurred_after:
        events = events.filter(occurred_at__gte=occurred_after)
    if occurred_before:
        events = events.filter(occurred_at__lt=occurred_before)
    return events


def records_list(*, participant: Participant, entity: str | None = None) -> QuerySet[EntityRecord]:
    records = EntityRecord.objects.filter(participant=participant)
    if entity:
        records = records.filter(entity=entity)
    return records
