"""Serializers of journey types and templates, and designing journeys from them."""

from rest_framework import serializers

from journeys.models import Journey


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
