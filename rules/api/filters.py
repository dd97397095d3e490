"""Filters of the rules list (see ``journeys.api.filters`` for the backend)."""

from django_filters import rest_framework as filters

from journeys.api.filters import BooleanFilter
from rules.models import Rule


class RuleFilterSet(filters.FilterSet):
    active = BooleanFilter(help_text="Only active (true) or inactive (false) rules.")
    flag = filters.CharFilter(help_text="Only rules that set this flag.")

    class Meta:
        model = Rule
        fields = ["active", "flag"]
