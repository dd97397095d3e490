"""Filters of the stages API's lists (see ``journeys.api.filters`` for the backend)."""

from django_filters import rest_framework as filters

from journeys.api.filters import BooleanFilter
from stages.models import Pipeline, StagedJourney
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


class PipelineFilterSet(filters.FilterSet):
    is_default = BooleanFilter(help_text="Only the default pipeline (true) or the others.")
    in_use = BooleanFilter(method="filter_in_use", help_text="Used by staged journeys (true) or not yet.")

    class Meta:
        model = Pipeline
        fields = ["is_default", "in_use"]

    def filter_in_use(self, queryset, name: str, value: bool):
        return queryset.filter(journeys_total__gt=0) if value else queryset.filter(journeys_total=0)
