"""Read-side queries of the event spine."""

from django.db.models import QuerySet

from journeys.models import Event


def events_list() -> QuerySet[Event]:
    """Filtered by ``journeys.api.filters.EventFilterSet``."""
    return Event.objects.select_related("participant")
