"""Shapes of the template library API (``/api/v1/templates``): input and output kept apart."""

from rest_framework import serializers

from journeys.models import JourneyTemplate, TemplateReview, TemplateVersion
from journeys.models.journeys import JourneyType
from journeys.services.template_files import FILE_FORMATS


class JourneyTemplateSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    average_rating = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Of its reviews (1 to 5)."
    )
    review_count = serializers.IntegerField(read_only=True)
    latest_version = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Journeys are designed from it; null: never published."
    )

    class Meta:
        model = JourneyTemplate
        fields = [
            "key",
            "name",
            "journey_type",
            "description",
            "visibility",
            "author",
            "definition",
            "latest_version",
            "average_rating",
            "review_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class JourneyTemplateInSerializer(serializers.Serializer):
    """A new template; its definition is checked as a whole by the service (``definition.*``)."""

    key = serializers.SlugField(max_length=80)
    name = serializers.CharField(max_length=200)
    journey_type = serializers.ChoiceField(choices=JourneyType.choices, default=JourneyType.CUSTOM)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    definition = serializers.JSONField(
        required=False, help_text='Journey settings (trigger_type, priority, re_entry, …) and "steps".'
    )


class JourneyTemplateUpdateSerializer(JourneyTemplateInSerializer):
    key = serializers.SlugField(max_length=80, required=False)
    name = serializers.CharField(max_length=200, required=False)
    journey_type = serializers.ChoiceField(choices=JourneyType.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class TemplatePublishInSerializer(serializers.Serializer):
    changelog = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class TemplateShareInSerializer(serializers.Serializer):
    visibility = serializers.ChoiceField(choices=JourneyTemplate.Visibility.choices)


class TemplateVersionSerializer(serializers.ModelSerializer):
    published_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = TemplateVersion
        fields = ["number", "published_at", "published_by", "changelog", "definition"]
        read_only_fields = fields


class TemplateReviewSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TemplateReview
        fields = ["user", "rating", "text", "created_at", "updated_at"]
        read_only_fields = ["user", "created_at", "updated_at"]


class TemplateReviewInSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class TemplateImportInSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A template file (.yaml, .yml or .json) as exported.")
    file_format = serializers.ChoiceField(
        choices=FILE_FORMATS, required=False, help_text="Default: from the file name (JSON for .json)."
    )


class TemplateExportQuerySerializer(serializers.Serializer):
    file_format = serializers.ChoiceField(choices=FILE_FORMATS, default="yaml")


class JourneyFromTemplateInSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, required=False, help_text="Default: the latest.")
    customizations = serializers.DictField(required=False, default=dict)
    publish = serializers.BooleanField(required=False, default=False)
