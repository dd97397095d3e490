"""Journey types and templates (``/api/v1/journeys/types``, ``…/templates``), designing a journey
from a template and customising one."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from journeys.api.examples import JOURNEY_CONFLICT, JOURNEY_EXAMPLE, UNKNOWN_TEMPLATE, VALIDATION_EXAMPLE
from journeys.api.permissions import PUBLISH_JOURNEY, ApiPermissions, require_permission
from journeys.api.serializers.journeys import JourneySerializer
from journeys.api.serializers.templates import (
    CustomizeInSerializer,
    DesignInSerializer,
    JourneyTypesSerializer,
    TemplateSerializer,
)
from journeys.models import Journey
from journeys.models.journeys import TriggerType
from journeys.registries import action_types, condition_types
from journeys.selectors.journeys import journey_get
from journeys.selectors.templates import templates_visible_to
from journeys.services import journeys as journey_services
from journeys.services.templates import journey_design, journey_template_get, journey_types


class JourneyTypesView(ApiPermissions, generics.GenericAPIView):
    permission_model = Journey
    serializer_class = JourneyTypesSerializer

    @extend_schema(
        operation_id="journeys_types",
        summary="What journeys can be made of: journey types (with templates), triggers, actions, conditions",
        examples=[
            OpenApiExample(
                "Types",
                response_only=True,
                value={
                    "journey_types": [
                        {
                            "journey_type": "onboarding",
                            "label": "Onboarding",
                            "description": "Welcome and activate new participants.",
                            "templates": ["onboarding"],
                        }
                    ],
                    "trigger_types": [{"name": "signup", "description": "User signed up"}],
                    "action_types": [{"name": "send_email", "description": "Send an email."}],
                    "condition_types": [{"name": "flag", "description": "A participant flag."}],
                    "step_kinds": [{"name": "action", "description": "Action"}],
                },
            )
        ],
    )
    def get(self, request):
        body = {
            "journey_types": journey_types(),
            "trigger_types": [{"name": v, "description": label} for v, label in TriggerType.choices],
            "action_types": [{"name": n, "description": a.description} for n, a in action_types.items()],
            "condition_types": [
                {"name": n, "description": c.description} for n, c in condition_types.items()
            ],
            "step_kinds": [
                {"name": v, "description": label} for v, label in Journey.steps.rel.related_model.Kind.choices
            ],
        }
        return Response(JourneyTypesSerializer(body).data)


class JourneyTemplateListView(ApiPermissions, generics.GenericAPIView):
    permission_model = Journey
    serializer_class = TemplateSerializer
    pagination_class = None

    @extend_schema(
        operation_id="journeys_templates_list",
        summary="The published journey templates the caller may see (the library's latest versions)",
        responses={200: TemplateSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Templates",
                response_only=True,
                value=[
                    {
                        "template": "onboarding",
                        "name": "Onboarding Flow",
                        "description": "…",
                        "journey_type": "onboarding",
                        "trigger_type": "signup",
                        "steps": [],
                    }
                ],
            )
        ],
    )
    def get(self, request):
        published = templates_visible_to(request.user).filter(latest_version__isnull=False)
        shown = [journey_template_get(name=t.key, user=request.user) for t in published]
        return Response(TemplateSerializer(shown, many=True).data)


class JourneyTemplateView(ApiPermissions, generics.GenericAPIView):
    permission_model = Journey
    serializer_class = TemplateSerializer

    @extend_schema(
        operation_id="journeys_templates_retrieve",
        summary="One template, by key or name (e.g. content_migration or 'Content Migration Journey')",
        examples=[
            OpenApiExample(
                "Template",
                response_only=True,
                value={
                    "template": "content_migration",
                    "name": "Content Migration Journey",
                    "description": "…",
                    "journey_type": "content_migration",
                    "trigger_type": "",
                    "steps": [
                        {
                            "key": "upload",
                            "name": "Upload Content",
                            "kind": "manual",
                            "next_steps": ["analyze"],
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request, name: str):
        return Response(TemplateSerializer(journey_template_get(name=name, user=request.user)).data)


class JourneyDesignView(ApiPermissions, generics.GenericAPIView):
    permission_model = Journey
    required_permission = "journeys.add_journey"
    serializer_class = DesignInSerializer

    @extend_schema(
        operation_id="journeys_design",
        summary="Design a journey from a template, with customisations",
        request=DesignInSerializer,
        responses={201: JourneySerializer},
        examples=[
            UNKNOWN_TEMPLATE,
            OpenApiExample(
                "By journey type, with requirements",
                request_only=True,
                value={
                    "journey_type": "content_migration",
                    "requirements": {"name": "Migrate ACME content", "priority": 5},
                },
            ),
            OpenApiExample(
                "From the content migration template",
                request_only=True,
                value={
                    "template": "content_migration",
                    "customizations": {
                        "name": "Migrate ACME content",
                        "steps": {"upload": {"name": "Upload ACME files"}},
                    },
                },
            ),
            OpenApiExample("Designed", response_only=True, status_codes=["201"], value=JOURNEY_EXAMPLE),
            VALIDATION_EXAMPLE,
        ],
    )
    def post(self, request):
        serializer = DesignInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["publish"]:
            require_permission(request, PUBLISH_JOURNEY)
        journey = journey_design(**serializer.validated_data, actor=request.user)
        shown = JourneySerializer(
            journey_get(pk=journey.pk), context={"revealed_secrets": journey.revealed_secrets}
        )
        return Response(shown.data, status=status.HTTP_201_CREATED)


class JourneyCustomizeView(ApiPermissions, generics.GenericAPIView):
    permission_model = Journey
    required_permission = "journeys.change_journey"
    serializer_class = CustomizeInSerializer

    @extend_schema(
        operation_id="journeys_customize",
        summary="Customise a journey's draft (settings, step changes, added and removed steps)",
        request=CustomizeInSerializer,
        responses={200: JourneySerializer},
        examples=[
            JOURNEY_CONFLICT,
            OpenApiExample(
                "Customise",
                request_only=True,
                value={
                    "customizations": {
                        "priority": 5,
                        "steps": {"welcome_email": {"config": {"subject": "Welcome to ACME!"}}},
                        "remove_steps": ["telegram_intro"],
                    }
                },
            ),
            OpenApiExample("Customised", response_only=True, value=JOURNEY_EXAMPLE),
            VALIDATION_EXAMPLE,
        ],
    )
    def post(self, request, pk: int):
        serializer = CustomizeInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        journey = journey_services.journey_customize(
            journey=journey_get(pk=pk),
            customizations=serializer.validated_data["customizations"],
            actor=request.user,
        )
        shown = JourneySerializer(journey_get(pk=pk), context={"revealed_secrets": journey.revealed_secrets})
        return Response(shown.data)
