"""Read-side queries of participants and their entity records."""

from django.db.models import QuerySet

from journeys.errors import NotFound
from journeys.models import EntityRecord, Participant


def participant_get(*, user_id: str) -> Participant:
    try:
        return Participant.objects.get(user_id=user_id)
    except Participant.DoesNotExist:
        raise NotFound(f"No participant with user_id {user_id!r}.") from None


def participants_list() -> QuerySet[Participant]:
    """Filtered by ``journeys.api.filters.ParticipantFilterSet``."""
    return Participant.objects.all()


def records_list(*, participant: Participant) -> QuerySet[EntityRecord]:
    """Filtered by ``journeys.api.filters.EntityRecordFilterSet``."""
    return EntityRecord.objects.filter(participant=participant)
