"""Serializers of journey types and templates, designing journeys from them, and the template
library (``/api/v1/templates``: input and output kept apart)."""

from rest_framework import serializers

from journeys.models import Journey, JourneyTemplate, TemplateReview, TemplateVersion
from journeys.models.journeys import JourneyType
from journeys.services.template_files import FILE_FORMATS


class DesignInSerializer(serializers.Serializer):
    """``{template, customizations}``, or the journey realm's ``{journey_type, requirements}``."""

    template = serializers.CharField(
        max_length=200, required=False, help_text="A template key or name (see /journeys/types)."
    )
    journey_type = serializers.ChoiceField(
        choices=Journey._meta.get_field("journey_type").choices,
        required=False,
        help_text="Design from this journey type's template (instead of naming a template).",
    )
    customizations = serializers.DictField(required=False, default=dict)
    requirements = serializers.DictField(
        required=False,
        help_text="The journey realm's name for customizations (journey fields, steps, add_steps, "
        "remove_steps).",
    )
    publish = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("template") and not attrs.get("journey_type"):
            raise serializers.ValidationError({"journey_type": ["Give a journey_type or a template."]})
        if "requirements" in attrs:
            if attrs["customizations"]:
                raise serializers.ValidationError(
                    {"requirements": ["Give requirements or customizations, not both."]}
                )
            attrs["customizations"] = attrs.pop("requirements")
        return attrs


class CustomizeInSerializer(serializers.Serializer):
    customizations = serializers.DictField()


class JourneyTypeSerializer(serializers.Serializer):
    journey_type = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    templates = serializers.ListField(child=serializers.CharField())


class NamedItemSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()


class JourneyTypesSerializer(serializers.Serializer):
    journey_types = JourneyTypeSerializer(many=True)
    trigger_types = NamedItemSerializer(many=True)
    action_types = NamedItemSerializer(many=True)
    condition_types = NamedItemSerializer(many=True)
    step_kinds = NamedItemSerializer(many=True)


class TemplateSerializer(serializers.Serializer):
    template = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    journey_type = serializers.CharField()
    trigger_type = serializers.CharField(allow_blank=True)
    steps = serializers.ListField(child=serializers.DictField())


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
