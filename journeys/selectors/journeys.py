"""Read-side queries of journeys."""

from django.db.models import QuerySet

from journeys.errors import NotFound
from journeys.models import Journey


def journeys_list() -> QuerySet[Journey]:
    """Journeys not deleted; filtered by ``journeys.api.filters.JourneyFilterSet``."""
    return (
        Journey.objects.filter(deleted_at__isnull=True)
        .select_related("live_version", "template_version__template")
        .prefetch_related("steps")
    )


def journey_get(*, pk: int) -> Journey:
    try:
        return (
            Journey.objects.filter(deleted_at__isnull=True)
            .select_related("live_version", "template_version__template")
            .prefetch_related("steps")
            .get(pk=pk)
        )
    except Journey.DoesNotExist:
        raise NotFound(f"No journey {pk}.") from None
