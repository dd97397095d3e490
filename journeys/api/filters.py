"""Filtering of list endpoints: django-filter ``FilterSet``s, strict about what they are given.

``StrictFilterBackend`` is the project's filter backend (``DEFAULT_FILTER_BACKENDS``): a list
view passes its selector's queryset through ``self.filter_queryset``; the view's
``filterset_class`` validates and applies the query parameters and documents them in the
schema. A parameter the list does not know answers 400 naming the ones it does (a misspelt
``?journey_id=`` silently returning everything is how wrong numbers end up in reports).
"""

from datetime import timedelta

from django import forms
from django.db.models import Q
from django.utils import timezone
from django_filters import rest_framework as filters
from rest_framework.exceptions import ValidationError

from journeys.models import (
    EntityRecord,
    Event,
    Journey,
    Participant,
    Service,
    ServiceCall,
    StepRun,
    UserJourney,
)

ALWAYS_KNOWN = {"format"}  # DRF's renderer override (?format=json)
OVERDUE_SECONDS_MAX = 10 * 366 * 24 * 3600  # ten years; far past it the date arithmetic overflows


class StrictFilterBackend(filters.DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        known = self.known_parameters(view, queryset)
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            listed = ", ".join(sorted(known - ALWAYS_KNOWN)) or "none"
            raise ValidationError(
                {name: [f"Unknown query parameter; this list knows: {listed}."] for name in unknown}
            )
        return super().filter_queryset(request, queryset, view)

    def known_parameters(self, view, queryset) -> set[str]:
        known = set(ALWAYS_KNOWN)
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            known.update(filterset_class.base_filters)
        paginator = getattr(view, "paginator", None)
        for name in ("cursor_query_param", "page_size_query_param", "page_query_param", "limit_query_param"):
            if paginator is not None and getattr(paginator, name, None):
                known.add(getattr(paginator, name))
        return known


class StrictBooleanField(forms.NullBooleanField):
    """``true``/``false`` (or 1/0); anything else is an error, not a silently dropped filter."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).lower()
        if text in {"true", "1"}:
            return True
        if text in {"false", "0"}:
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")

    def validate(self, value) -> None:
        pass


class BooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", forms.TextInput)  # django-filter's widget turns "maybe" into None
        super().__init__(*args, **kwargs)


class IntegerFilter(filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class EventFilterForm(forms.Form):
    def clean(self):
        data = super().clean()
        after, before = data.get("occurred_after"), data.get("occurred_before")
        if after and before and after > before:
            raise forms.ValidationError({"occurred_before": "Must not be before occurred_after."})
        return data


class EventFilterSet(filters.FilterSet):
    user_id = filters.CharFilter(field_name="participant__user_id", help_text="The participant's user_id.")
    type = filters.CharFilter(
        method="filter_type", help_text="An exact type, or a prefix glob such as kintell.*"
    )
    status = filters.ChoiceFilter(choices=Event.Status.choices)
    occurred_after = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Event
        fields = ["user_id", "type", "status", "occurred_after", "occurred_before"]
        form = EventFilterForm

    def filter_type(self, queryset, name: str, value: str):
        if value.endswith("*"):
            return queryset.filter(type__startswith=value[:-1])
        return queryset.filter(type=value)


class ParticipantFilterSet(filters.FilterSet):
    tag = filters.CharFilter(method="filter_tag", help_text="Only participants with this tag.")

    class Meta:
        model = Participant
        fields = ["tag"]

    def filter_tag(self, queryset, name: str, value: str):
        # JSON containment is not portable to SQLite; the tag list is short, so match the text.
        return queryset.filter(tags__icontains=f'"{value}"')


class EntityRecordFilterSet(filters.FilterSet):
    entity = filters.CharFilter(help_text="Only this entity.")

    class Meta:
        model = EntityRecord
        fields = ["entity"]


class JourneyFilterSet(filters.FilterSet):
    trigger_type = filters.CharFilter()
    state = filters.ChoiceFilter(choices=Journey.State.choices)
    is_active = BooleanFilter(method="filter_is_active", help_text="Published (true) or not (false).")

    class Meta:
        model = Journey
        fields = ["trigger_type", "is_active", "state"]

    def filter_is_active(self, queryset, name: str, value: bool):
        published = Journey.State.PUBLISHED
        return queryset.filter(state=published) if value else queryset.exclude(state=published)


class UserJourneyFilterSet(filters.FilterSet):
    journey = IntegerFilter(field_name="journey_id", help_text="The journey's id.")
    state = filters.ChoiceFilter(choices=UserJourney.State.choices)
    user_id = filters.CharFilter(field_name="participant__user_id", help_text="The participant's user_id.")

    class Meta:
        model = UserJourney
        fields = ["journey", "state", "user_id"]


class UserJourneyStateFilterSet(filters.FilterSet):
    status_filter = filters.ChoiceFilter(
        field_name="state", choices=UserJourney.State.choices, help_text="Only user journeys in this state."
    )

    class Meta:
        model = UserJourney
        fields = ["status_filter"]


class StepRunFilterSet(filters.FilterSet):
    dead_lettered = BooleanFilter(
        field_name="dead_lettered_at", lookup_expr="isnull", exclude=True, help_text="The dead-letter queue."
    )
    status = filters.ChoiceFilter(choices=StepRun.Status.choices)
    journey = IntegerFilter(field_name="user_journey__journey_id", help_text="The journey's id.")
    overdue_seconds = filters.NumberFilter(
        method="filter_overdue",
        min_value=0,
        max_value=OVERDUE_SECONDS_MAX,
        help_text="Waiting runs of active journeys due more than this many seconds ago (at most ten years).",
    )

    class Meta:
        model = StepRun
        fields = ["dead_lettered", "status", "journey", "overdue_seconds"]

    def filter_overdue(self, queryset, name: str, value):
        return queryset.filter(
            status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED],
            due_at__lt=timezone.now() - timedelta(seconds=float(value)),
            user_journey__state=UserJourney.State.ACTIVE,
        )


class ServiceFilterSet(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=Service.Kind.choices)
    active = BooleanFilter()
    health_status = filters.ChoiceFilter(choices=Service.Health.choices)
    search = filters.CharFilter(method="filter_search", help_text="Part of the key or the name.")

    class Meta:
        model = Service
        fields = ["kind", "active", "health_status", "search"]

    def filter_search(self, queryset, name: str, value: str):
        return queryset.filter(Q(key__icontains=value) | Q(name__icontains=value))


class ServiceCallFilterSet(filters.FilterSet):
    user_journey = filters.NumberFilter(help_text="Calls made for this user journey.")
    service = filters.CharFilter(field_name="service__key", help_text="Calls of this service (its key).")
    status = filters.ChoiceFilter(choices=ServiceCall.Status.choices)

    class Meta:
        model = ServiceCall
        fields = ["user_journey", "service", "status"]
