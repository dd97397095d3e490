"""Query parameters of the analytics API: validated, with field-level messages; unknown ones refused."""

from rest_framework import serializers

from journeys.models import Journey, JourneyVersion

MAX_COMPARED = 10  # journeys per comparison


class StrictQuerySerializer(serializers.Serializer):
    """Refuses query parameters it does not declare, so a typo is a 400, not silently ignored."""

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown query parameter."] for name in unknown})
        return attrs


class RangeQuerySerializer(StrictQuerySerializer):
    since = serializers.DateField(
        required=False, help_text="First cohort day (the day user journeys started, UTC), included."
    )
    until = serializers.DateField(required=False, help_text="Last cohort day, included.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": ["Must be on or after since."]})
        return attrs


class JourneyRangeQuerySerializer(RangeQuerySerializer):
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="Only runs of this version number of the journey."
    )

    def resolve_version(self, journey: Journey) -> JourneyVersion | None:
        number = self.validated_data.get("version")
        if number is None:
            return None
        version = JourneyVersion.objects.filter(journey=journey, number=number).first()
        if version is None:
            raise serializers.ValidationError({"version": [f"Journey {journey.pk} has no version {number}."]})
        return version


class CompareQuerySerializer(RangeQuerySerializer):
    ids = serializers.CharField(
        required=False,
        help_text=f"Comma-separated journey ids (2 to {MAX_COMPARED}), e.g. 3,7. Omitted: the "
        f"{MAX_COMPARED} journeys with the most starts in the range.",
    )

    def validate_ids(self, value: str) -> list[int]:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise serializers.ValidationError("Give journey ids as integers separated by commas.")
        ids = list(dict.fromkeys(int(p) for p in parts))
        if not 2 <= len(ids) <= MAX_COMPARED:
            raise serializers.ValidationError(f"Compare between 2 and {MAX_COMPARED} journeys.")
        found = set(Journey.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [i for i in ids if i not in found]
        if missing:
            raise serializers.ValidationError(f"No journey with id {', '.join(map(str, missing))}.")
        return ids


class RulesQuerySerializer(StrictQuerySerializer):
    since = serializers.DateTimeField(required=False, help_text="Count flag changes from this instant.")
    until = serializers.DateTimeField(required=False, help_text="…up to this instant (excluded).")


class OverdueQuerySerializer(StrictQuerySerializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)
