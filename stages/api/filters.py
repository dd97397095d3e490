"""Filters of the stages API's lists (see ``journeys.api.filters`` for the backend)."""

from django_filters import rest_framework as filters

from journeys.api.filters import BooleanFilter
from stages.models import StagedJourney
from stages.models.stages import ACTIVE_STAGES


class StagedJourneyFilterSet(filters.FilterSet):
    stage = filters.ChoiceFilter(choices=StagedJourney.Stage.choices)
    pipeline = filters.CharFilter(field_name="pipeline__slug", help_text="The pipeline's slug.")
    active = BooleanFilter(method="filter_active", help_text="Still moving through stages (true) or not.")

    class Meta:
        model = StagedJourney
        fields = ["stage", "pipeline", "active"]

    def filter_active(self, queryset, name: str, value: bool):
        if value:
            return queryset.filter(stage__in=ACTIVE_STAGES)
        return queryset.exclude(stage__in=ACTIVE_STAGES)
