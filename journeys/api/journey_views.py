"""Journey definition endpoints (seed 003 and the 000 orchestrator). Each view validates, calls one
service or selector, and renders."""

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from journeys.api.examples import ENROLMENT_CONFLICT, JOURNEY_CONFLICT, UNKNOWN_TEMPLATE
from journeys.api.filters import JourneyFilterSet, UserJourneyStateFilterSet
from journeys.api.journey_serializers import (
    CustomizeInSerializer,
    DesignInSerializer,
    EnrollInSerializer,
    ExecuteInSerializer,
    ExecuteOutSerializer,
    JourneyInSerializer,
    JourneySerializer,
    JourneyTypesSerializer,
    JourneyUpdateSerializer,
    JourneyVersionSerializer,
    TemplateSerializer,
    TriggerInSerializer,
    TriggerOutSerializer,
    UserJourneySerializer,
)
from journeys.api.permissions import ApiPermissions
from journeys.models import Journey, UserJourney
from journeys.models.journeys import TriggerType
from journeys.registries import action_types, condition_types
from journeys.selectors.journeys import journey_get, journeys_list
from journeys.selectors.user_journeys import user_journey_get, user_journeys_list
from journeys.services import journeys as journey_services
from journeys.services.enrolment import journeys_trigger, user_journey_enrol
from journeys.services.templates import TEMPLATES, journey_design, journey_template_get, journey_types
from journeys.services.user_journeys import user_journey_execute

PUBLISH = "journeys.publish_journey"
OPERATE = "journeys.operate_userjourney"
USER_JOURNEY_LIST_MAX = 500  # newest user journeys returned by the 003 list (a plain array)

CREATE_EXAMPLE = {
    "name": "Onboarding Flow",
    "description": "Welcome new users with multi-step onboarding",
    "trigger_type": "signup",
    "trigger_config": {},
    "is_active": True,
    "priority": 10,
    "steps": [
        {
            "name": "Welcome Email",
            "order": 0,
            "action_type": "send_email",
            "action_config": {"template": "welcome", "subject": "Welcome!"},
            "delay_minutes": 0,
        },
        {
            "name": "Telegram Intro",
            "order": 1,
            "action_type": "send_telegram",
            "action_config": {"message": "Welcome to our platform!"},
            "delay_minutes": 5,
        },
        {
            "name": "Apply Onboarded Tag",
            "order": 2,
            "action_type": "apply_tag",
            "action_config": {"tag": "onboarded"},
            "delay_minutes": 1440,
        },
    ],
}
JOURNEY_EXAMPLE = {
    "id": 7,
    "name": "Onboarding Flow",
    "description": "Welcome new users with multi-step onboarding",
    "journey_type": "custom",
    "trigger_type": "signup",
    "trigger_conditions": None,
    "trigger_config": None,
    "priority": 10,
    "re_entry": "once",
    "goal_event": "",
    "exit_event": "",
    "quiet_hours_start": None,
    "quiet_hours_end": None,
    "cap_policy": "defer",
    "state": "published",
    "is_active": True,
    "version": 1,
    "has_unpublished_changes": False,
    "template_name": "",
    "step_count": 3,
    "steps": [
        {
            "key": "welcome_email",
            "name": "Welcome Email",
            "order": 0,
            "kind": "action",
            "action_type": "send_email",
            "config": {"template": "welcome", "subject": "Welcome!"},
            "condition": None,
            "next_steps": [],
            "delay_minutes": 0,
            "is_milestone": False,
            "completion": False,
            "max_attempts": 3,
            "on_failure": "fail",
        }
    ],
    "created_at": "2026-01-18T12:00:00Z",
    "updated_at": "2026-01-18T12:00:00Z",
}
USER_JOURNEY_EXAMPLE = {
    "id": 501,
    "user_id": "user-42",
    "journey_id": 7,
    "journey_name": "Onboarding Flow",
    "version": 1,
    "state": "active",
    "status": "active",
    "current_step": "telegram_intro",
    "current_step_id": "telegram_intro",
    "variant": "",
    "converted": False,
    "converted_at": None,
    "started_at": "2026-01-18T12:00:00Z",
    "paused_at": None,
    "ended_at": None,
    "completed_at": None,
    "end_reason": "",
    "failure_reason": "",
    "metadata": {"plan": "premium"},
    "context": {"payload": {"plan": "premium"}, "steps": {"welcome_email": {"to": "ada@example.com"}}},
    "progress": {
        "percent": 33.3,
        "milestones_completed": 1,
        "milestones_total": 3,
        "current_milestone": "telegram_intro",
    },
}
VALIDATION_EXAMPLE = OpenApiExample(
    "Invalid definition",
    response_only=True,
    status_codes=["400"],
    value={
        "steps.1.config.url": ["An http(s) URL with a host is required."],
        "steps.2.next_steps.0.step": ["No step with key 'nowhere' in this journey."],
    },
)
CONFLICT_EXAMPLE = OpenApiExample(
    "Invalid transition",
    response_only=True,
    status_codes=["409"],
    value={
        "detail": "Can't switch from state 'archived' using method 'publish'",
        "code": "invalid_transition",
        "current_state": "archived",
    },
)


def _require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"This needs the {perm} permission.")


class JourneyListCreateView(ApiPermissions, generics.GenericAPIView):
    queryset = Journey.objects.all()
    serializer_class = JourneySerializer
    filterset_class = JourneyFilterSet

    @extend_schema(
        operation_id="journeys_list",
        summary="List journeys (filters: trigger_type, is_active, state)",
        responses={200: JourneySerializer(many=True)},
        examples=[
            OpenApiExample(
                "Journeys",
                response_only=True,
                value={"next": None, "previous": None, "results": [JOURNEY_EXAMPLE]},
            )
        ],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(journeys_list()))
        return self.get_paginated_response(JourneySerializer(page, many=True).data)

    @extend_schema(
        operation_id="journeys_create",
        summary="Create a journey with its steps",
        description=(
            "The whole definition is validated (action configs, conditions, next steps); with "
            "`is_active: true` it is published at once, which also checks the graph (reachability, "
            "cycles without a wait) and needs the publish permission. A webhook step's signing "
            "secret (`config.secret`, generated when left out) is in full in this answer only and "
            "masked after; a target that reaches an internal address is refused (`steps.N.config.url`)."
        ),
        request=JourneyInSerializer,
        responses={201: JourneySerializer},
        examples=[
            OpenApiExample("The 003 onboarding journey", request_only=True, value=CREATE_EXAMPLE),
            OpenApiExample("Created", response_only=True, status_codes=["201"], value=JOURNEY_EXAMPLE),
            VALIDATION_EXAMPLE,
        ],
    )
    def post(self, request):
        serializer = JourneyInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        steps = data.pop("steps", [])
        publish = data.pop("is_active", False)
        if publish:
            _require(request, PUBLISH)
        journey = journey_services.journey_create(data=data, steps=steps, actor=request.user, publish=publish)
        shown = JourneySerializer(
            journey_get(pk=journey.pk), context={"revealed_secrets": journey.revealed_secrets}
        )
        return Response(shown.data, status=status.HTTP_201_CREATED)


class JourneyDetailView(ApiPermissions, generics.GenericAPIView):
    queryset = Journey.objects.all()
    serializer_class = JourneySerializer

    @extend_schema(
        operation_id="journeys_retrieve",
        summary="One journey with its draft steps",
        examples=[OpenApiExample("Journey", response_only=True, value=JOURNEY_EXAMPLE)],
    )
    def get(self, request, pk: int):
        return Response(JourneySerializer(journey_get(pk=pk)).data)

    @extend_schema(
        operation_id="journeys_update",
        summary="Change a journey (and replace its draft steps when given)",
        description=(
            "Runs in flight keep their version. `steps` replaces the draft steps; changes to a "
            "published journey take effect when it is published again (`has_unpublished_changes`). "
            "`is_active: true` publishes, `false` archives."
        ),
        request=JourneyUpdateSerializer,
        responses={200: JourneySerializer},
        examples=[
            OpenApiExample("Raise the priority", request_only=True, value={"priority": 20}),
            OpenApiExample("Deactivate", request_only=True, value={"is_active": False}),
            VALIDATION_EXAMPLE,
            CONFLICT_EXAMPLE,
        ],
    )
    def patch(self, request, pk: int):
        journey = journey_get(pk=pk)
        serializer = JourneyUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        steps = data.pop("steps", None)
        is_active = data.pop("is_active", None)
        if is_active is not None:
            _require(request, PUBLISH)
        revealed: dict[str, str] = {}
        with transaction.atomic():
            if data or steps is not None:
                journey = journey_services.journey_update(
                    journey=journey, data=data, steps=steps, actor=request.user
                )
                revealed = journey.revealed_secrets
            if is_active is True:
                journey = journey_services.journey_publish(journey=journey, actor=request.user)
            elif is_active is False and journey.state != Journey.State.ARCHIVED:
                journey = journey_services.journey_archive(journey=journey, actor=request.user)
        shown = JourneySerializer(journey_get(pk=pk), context={"revealed_secrets": revealed})
        return Response(shown.data)

    @extend_schema(
        operation_id="journeys_delete",
        summary="Delete a journey (softly: restorable from the admin)",
        description=(
            "The journey leaves lists and the API at once and enrols nobody any more; its runs in "
            "flight are cancelled with the end reason `journey deleted`; finished runs and all "
            "history stay. Staff restore it from the admin (Journeys, filter *Deleted*)."
        ),
        responses={204: None},
    )
    def delete(self, request, pk: int):
        journey_services.journey_delete(journey=journey_get(pk=pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _JourneyTransitionView(ApiPermissions, generics.GenericAPIView):
    permission_model = Journey
    required_permission = PUBLISH
    serializer_class = JourneySerializer
    service = None

    def post(self, request, pk: int):
        type(self).service(journey=journey_get(pk=pk), actor=request.user)
        return Response(JourneySerializer(journey_get(pk=pk)).data)


class JourneyPublishView(_JourneyTransitionView):
    service = staticmethod(journey_services.journey_publish)

    @extend_schema(
        operation_id="journeys_publish",
        summary="Publish: validate the whole definition and freeze it as a new version",
        request=None,
        responses={200: JourneySerializer},
        examples=[
            OpenApiExample("Published", response_only=True, value=JOURNEY_EXAMPLE),
            VALIDATION_EXAMPLE,
            CONFLICT_EXAMPLE,
        ],
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class JourneyArchiveView(_JourneyTransitionView):
    service = staticmethod(journey_services.journey_archive)

    @extend_schema(
        operation_id="journeys_archive",
        summary="Archive: no new enrolments; runs in flight go on",
        request=None,
        responses={200: JourneySerializer},
        examples=[
            OpenApiExample(
                "Archived",
                response_only=True,
                value={**JOURNEY_EXAMPLE, "state": "archived", "is_active": False},
            ),
            CONFLICT_EXAMPLE,
        ],
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class JourneyRestoreView(_JourneyTransitionView):
    service = staticmethod(journey_services.journey_restore)

    @extend_schema(
        operation_id="journeys_restore",
        summary="Restore an archived journey as a draft",
        request=None,
        responses={200: JourneySerializer},
        examples=[
            OpenApiExample(
                "Restored",
                response_only=True,
                value={**JOURNEY_EXAMPLE, "state": "draft", "is_active": False},
            ),
            CONFLICT_EXAMPLE,
        ],
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class JourneyVersionsView(ApiPermissions, generics.GenericAPIView):
    permission_model = Journey
    serializer_class = JourneyVersionSerializer
    pagination_class = None

    @extend_schema(
        operation_id="journeys_versions",
        summary="The published versions of a journey, newest first",
        responses={200: JourneyVersionSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Versions",
                response_only=True,
                value=[
                    {
                        "number": 2,
                        "published_at": "2026-02-01T09:00:00Z",
                        "published_by": "designer",
                        "definition": {
                            "entry": "welcome_email",
                            "steps": [],
                            "goal_event": "",
                            "exit_event": "",
                            "quiet_hours": None,
                            "cap_policy": "defer",
                        },
                    }
                ],
            )
        ],
    )
    def get(self, request, pk: int):
        journey = journey_get(pk=pk)
        versions = self.filter_queryset(journey.versions.select_related("published_by").order_by("-number"))
        return Response(JourneyVersionSerializer(versions, many=True).data)


class UserJourneysOfUserView(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    queryset = UserJourney.objects.all()
    serializer_class = UserJourneySerializer
    filterset_class = UserJourneyStateFilterSet
    pagination_class = None

    @extend_schema(
        operation_id="journeys_user_journeys",
        summary="A participant's user journeys, newest first (at most 500)",
        responses={200: UserJourneySerializer(many=True)},
        examples=[OpenApiExample("User journeys", response_only=True, value=[USER_JOURNEY_EXAMPLE])],
    )
    def get(self, request, user_id: str):
        runs = self.filter_queryset(user_journeys_list(user_id=user_id))[:USER_JOURNEY_LIST_MAX]
        return Response(UserJourneySerializer(runs, many=True).data)


class JourneyTriggerView(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    required_permission = OPERATE
    serializer_class = TriggerInSerializer

    @extend_schema(
        operation_id="journeys_trigger",
        summary="Evaluate a trigger by hand: enter every matching published journey",
        description="Like an event of `trigger_type` with `context` as its payload; no event is stored.",
        request=TriggerInSerializer,
        responses={200: TriggerOutSerializer},
        examples=[
            OpenApiExample(
                "Trigger",
                request_only=True,
                value={"trigger_type": "signup", "user_id": "user-42", "context": {"plan": "premium"}},
            ),
            OpenApiExample(
                "Started",
                response_only=True,
                value={
                    "trigger_type": "signup",
                    "user_id": "user-42",
                    "started_journeys": [7, 9],
                    "user_journeys": [501, 502],
                },
            ),
        ],
    )
    def post(self, request):
        serializer = TriggerInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        started = journeys_trigger(**serializer.validated_data)
        body = {
            "trigger_type": serializer.validated_data["trigger_type"],
            "user_id": serializer.validated_data["user_id"],
            "started_journeys": [uj.journey_id for uj in started],
            "user_journeys": [uj.pk for uj in started],
        }
        return Response(TriggerOutSerializer(body).data)


class JourneyExecuteView(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    required_permission = OPERATE
    serializer_class = ExecuteInSerializer

    @extend_schema(
        operation_id="journeys_execute",
        summary="Execute a user journey's due steps now, in this request",
        request=ExecuteInSerializer,
        responses={200: ExecuteOutSerializer},
        examples=[
            OpenApiExample("Force the delays", request_only=True, value={"force": True}),
            OpenApiExample(
                "Executed", response_only=True, value={"executed": 2, "user_journey": USER_JOURNEY_EXAMPLE}
            ),
            CONFLICT_EXAMPLE,
        ],
    )
    def post(self, request, user_journey_id: int):
        serializer = ExecuteInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        uj = user_journey_get(pk=user_journey_id)
        stats = user_journey_execute(user_journey=uj, **serializer.validated_data)
        body = {"executed": stats.executed, "user_journey": user_journey_get(pk=user_journey_id)}
        return Response(ExecuteOutSerializer(body).data)


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
        summary="The built-in journey templates",
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
        return Response(TemplateSerializer([journey_template_get(name=k) for k in TEMPLATES], many=True).data)


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
        return Response(TemplateSerializer(journey_template_get(name=name)).data)


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
            _require(request, PUBLISH)
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


class JourneyEnrollView(ApiPermissions, generics.GenericAPIView):
    permission_model = UserJourney
    required_permission = OPERATE
    serializer_class = EnrollInSerializer

    @extend_schema(
        operation_id="journeys_enroll",
        summary="Enrol a participant into this journey (created on first sight)",
        request=EnrollInSerializer,
        responses={201: UserJourneySerializer},
        examples=[
            ENROLMENT_CONFLICT,
            OpenApiExample(
                "Enrol", request_only=True, value={"user_id": "user-42", "context": {"plan": "premium"}}
            ),
            OpenApiExample("Enrolled", response_only=True, status_codes=["201"], value=USER_JOURNEY_EXAMPLE),
            OpenApiExample(
                "Re-entry refused",
                response_only=True,
                status_codes=["409"],
                value={
                    "detail": "The re-entry policy (once) does not allow 'user-42' to enter again now.",
                    "code": "re_entry_refused",
                    "current_state": "completed",
                    "user_journey_id": 501,
                },
            ),
        ],
    )
    def post(self, request, pk: int):
        serializer = EnrollInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        uj = user_journey_enrol(journey=journey_get(pk=pk), actor=request.user, **serializer.validated_data)
        return Response(
            UserJourneySerializer(user_journey_get(pk=uj.pk)).data, status=status.HTTP_201_CREATED
        )
