"""Pipelines through the API, as the admin edits them: the pipeline, its stages, their exit
criteria and task templates. Each view validates the shape, calls one service (which validates
the whole: criteria per kind, intents, agents, params, a DAG per purpose) and renders.

A pipeline that staged journeys used is not deleted (409 naming how many); see
``stages.services.pipeline_edits``.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from journeys.api.pagination import IdCursorPagination
from journeys.api.permissions import ApiPermissions
from stages import selectors
from stages.api.agent_contracts import agent_callbacks
from stages.api.examples import (
    CRITERION_EXAMPLE,
    PIPELINE_EXAMPLE,
    PIPELINE_IN_EXAMPLE,
    PIPELINE_IN_USE_EXAMPLE,
    PIPELINE_INVALID_EXAMPLE,
    STAGE_EXAMPLE,
    STAGE_IN_EXAMPLE,
    TASK_HAS_DEPENDANTS_EXAMPLE,
    TASK_TEMPLATE_EXAMPLE,
    TASK_TEMPLATE_INVALID_EXAMPLE,
)
from stages.api.filters import PipelineFilterSet
from stages.api.pipeline_serializers import (
    ExitCriterionInSerializer,
    ExitCriterionSerializer,
    PipelineInSerializer,
    PipelineSerializer,
    PipelineStageSerializer,
    PipelineStageUpdateSerializer,
    PipelineUpdateSerializer,
    StageInSerializer,
    TaskTemplateInSerializer,
    TaskTemplateSerializer,
)
from stages.api.serializers import ConflictSerializer
from stages.models import ExitCriterion, Pipeline, PipelineStage, TaskTemplate
from stages.services import pipeline_edits
from stages.services.pipelines import pipeline_create

CONFLICT = OpenApiResponse(ConflictSerializer, description="Refused in the current state (see code).")
DELETED = {204: None, 409: CONFLICT}


class PipelinePagination(IdCursorPagination):
    ordering = "id"  # oldest first: the default pipeline usually leads


class PipelineListCreateView(ApiPermissions, generics.GenericAPIView):
    queryset = Pipeline.objects.all()
    serializer_class = PipelineSerializer
    filterset_class = PipelineFilterSet
    pagination_class = PipelinePagination

    @extend_schema(
        operation_id="stages_pipelines_list",
        summary="List pipelines with their stages, criteria and task templates (cursor pagination)",
        responses={200: PipelineSerializer(many=True)},
        examples=[
            OpenApiExample(
                "A page",
                response_only=True,
                value={"next": None, "previous": None, "results": [PIPELINE_EXAMPLE]},
            )
        ],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(selectors.pipelines_list()))
        return self.get_paginated_response(PipelineSerializer(page, many=True).data)

    @extend_schema(
        operation_id="stages_pipelines_create",
        callbacks=list(agent_callbacks()),
        summary="Create a pipeline from its whole definition",
        description="Stages keyed by name (sandbox, pilot, production), each with `criteria` and "
        "`setup`/`rollback` task templates, as `manage.py bootstrap` loads the default pipeline. "
        "Validated as a whole before anything is written: each criterion for its kind, each task's "
        "intent, agent and params, and each stage's tasks as a DAG; errors are keyed by dotted path. "
        "The callbacks show what each task's agent receives and must answer.",
        request=PipelineInSerializer,
        responses={201: PipelineSerializer},
        examples=[
            OpenApiExample("Definition", request_only=True, value=PIPELINE_IN_EXAMPLE),
            OpenApiExample("Created", response_only=True, status_codes=["201"], value=PIPELINE_EXAMPLE),
            PIPELINE_INVALID_EXAMPLE,
        ],
    )
    def post(self, request):
        serializer = PipelineInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        definition = serializer.validated_data
        pipeline = pipeline_create(definition=definition, is_default=definition["is_default"])
        body = PipelineSerializer(selectors.pipeline_get(slug=pipeline.slug)).data
        return Response(body, status=status.HTTP_201_CREATED)


class PipelineDetailView(ApiPermissions, generics.GenericAPIView):
    queryset = Pipeline.objects.all()
    serializer_class = PipelineSerializer

    def pipeline(self) -> Pipeline:
        return selectors.pipeline_get(slug=self.kwargs["slug"])

    @extend_schema(
        operation_id="stages_pipelines_retrieve",
        summary="One pipeline with its stages, criteria and task templates",
        examples=[OpenApiExample("Pipeline", response_only=True, value=PIPELINE_EXAMPLE)],
    )
    def get(self, request, slug: str):
        return Response(PipelineSerializer(self.pipeline()).data)

    @extend_schema(
        operation_id="stages_pipelines_update",
        summary="Rename a pipeline, change its slug or description, or make it the default",
        request=PipelineUpdateSerializer,
        responses={200: PipelineSerializer},
        examples=[OpenApiExample("Make default", request_only=True, value={"is_default": True})],
    )
    def patch(self, request, slug: str):
        serializer = PipelineUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        pipeline = pipeline_edits.pipeline_update(pipeline=self.pipeline(), data=serializer.validated_data)
        return Response(PipelineSerializer(selectors.pipeline_get(slug=pipeline.slug)).data)

    @extend_schema(
        operation_id="stages_pipelines_destroy",
        summary="Delete a pipeline no staged journey has used",
        description="A pipeline staged journeys used stays with their history (409 naming how many); "
        "so does the default (make another the default first).",
        responses=DELETED,
        examples=[PIPELINE_IN_USE_EXAMPLE],
    )
    def delete(self, request, slug: str):
        pipeline_edits.pipeline_delete(pipeline=self.pipeline())
        return Response(status=status.HTTP_204_NO_CONTENT)


class PipelineStageCreateView(ApiPermissions, generics.GenericAPIView):
    permission_model = PipelineStage
    serializer_class = PipelineStageSerializer

    @extend_schema(
        operation_id="stages_pipeline_stages_create",
        summary="Add a stage the pipeline lacks, with its criteria and task templates",
        request=StageInSerializer,
        responses={201: PipelineStageSerializer},
        examples=[
            OpenApiExample("Stage", request_only=True, value={"stage": "sandbox", **STAGE_IN_EXAMPLE}),
            OpenApiExample("Added", response_only=True, status_codes=["201"], value=STAGE_EXAMPLE),
        ],
    )
    def post(self, request, slug: str):
        serializer = StageInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        spec = dict(serializer.validated_data)
        stage = pipeline_edits.pipeline_stage_create(
            pipeline=selectors.pipeline_get(slug=slug), stage=spec.pop("stage"), spec=spec
        )
        body = PipelineStageSerializer(selectors.pipeline_stage_get(slug=slug, stage=stage.stage)).data
        return Response(body, status=status.HTTP_201_CREATED)


class PipelineStageDetailView(ApiPermissions, generics.GenericAPIView):
    permission_model = PipelineStage
    serializer_class = PipelineStageSerializer

    def stage(self) -> PipelineStage:
        return selectors.pipeline_stage_get(slug=self.kwargs["slug"], stage=self.kwargs["stage"])

    @extend_schema(
        operation_id="stages_pipeline_stages_retrieve",
        summary="One stage: its exit criteria and its setup and rollback tasks",
        examples=[OpenApiExample("Stage", response_only=True, value=STAGE_EXAMPLE)],
    )
    def get(self, request, slug: str, stage: str):
        return Response(PipelineStageSerializer(self.stage()).data)

    @extend_schema(
        operation_id="stages_pipeline_stages_update",
        summary="Change whether the stage promotes automatically, or its description",
        request=PipelineStageUpdateSerializer,
        responses={200: PipelineStageSerializer},
        examples=[OpenApiExample("By hand", request_only=True, value={"auto_promote": False})],
    )
    def patch(self, request, slug: str, stage: str):
        serializer = PipelineStageUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        pipeline_edits.pipeline_stage_update(pipeline_stage=self.stage(), data=serializer.validated_data)
        return Response(PipelineStageSerializer(self.stage()).data)

    @extend_schema(
        operation_id="stages_pipeline_stages_destroy",
        summary="Remove a stage (its gate and work); 409 while journeys are active on the pipeline",
        responses=DELETED,
    )
    def delete(self, request, slug: str, stage: str):
        pipeline_edits.pipeline_stage_delete(pipeline_stage=self.stage())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExitCriterionCreateView(ApiPermissions, generics.GenericAPIView):
    permission_model = ExitCriterion
    serializer_class = ExitCriterionSerializer

    @extend_schema(
        operation_id="stages_pipeline_criteria_create",
        summary="Add an exit criterion to a stage",
        request=ExitCriterionInSerializer,
        responses={201: ExitCriterionSerializer},
        examples=[
            OpenApiExample(
                "No incidents",
                request_only=True,
                value={
                    "key": "no_p0_p1_incidents",
                    "label": "No P0/P1 incidents",
                    "kind": "no_events",
                    "event_type": "incident.reported",
                    "payload_filter": {"severity": ["P0", "P1"]},
                    "triggers_rollback": True,
                },
            ),
            OpenApiExample(
                "Metric without threshold",
                response_only=True,
                status_codes=["400"],
                value={"threshold": ["A metric criterion needs a threshold."]},
            ),
        ],
    )
    def post(self, request, slug: str, stage: str):
        serializer = ExitCriterionInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        criterion = pipeline_edits.exit_criterion_create(
            pipeline_stage=selectors.pipeline_stage_get(slug=slug, stage=stage),
            data=serializer.validated_data,
        )
        return Response(ExitCriterionSerializer(criterion).data, status=status.HTTP_201_CREATED)


class ExitCriterionDetailView(ApiPermissions, generics.GenericAPIView):
    permission_model = ExitCriterion
    serializer_class = ExitCriterionSerializer

    def criterion(self) -> ExitCriterion:
        kwargs = self.kwargs
        return selectors.exit_criterion_get(
            slug=kwargs["slug"], stage=kwargs["stage"], key=kwargs["criterion_key"]
        )

    @extend_schema(
        operation_id="stages_pipeline_criteria_retrieve",
        summary="One exit criterion",
        examples=[OpenApiExample("Criterion", response_only=True, value=CRITERION_EXAMPLE)],
    )
    def get(self, request, slug: str, stage: str, criterion_key: str):
        return Response(ExitCriterionSerializer(self.criterion()).data)

    @extend_schema(
        operation_id="stages_pipeline_criteria_update",
        summary="Change an exit criterion (checked again for its kind)",
        request=ExitCriterionInSerializer,
        responses={200: ExitCriterionSerializer},
        examples=[OpenApiExample("Stricter", request_only=True, value={"threshold": 0.85})],
    )
    def patch(self, request, slug: str, stage: str, criterion_key: str):
        serializer = ExitCriterionInSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        criterion = pipeline_edits.exit_criterion_update(
            criterion=self.criterion(), data=serializer.validated_data
        )
        return Response(ExitCriterionSerializer(criterion).data)

    @extend_schema(
        operation_id="stages_pipeline_criteria_destroy",
        summary="Remove an exit criterion",
        responses={204: None},
    )
    def delete(self, request, slug: str, stage: str, criterion_key: str):
        pipeline_edits.exit_criterion_delete(criterion=self.criterion())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskTemplateCreateView(ApiPermissions, generics.GenericAPIView):
    permission_model = TaskTemplate
    serializer_class = TaskTemplateSerializer

    @extend_schema(
        operation_id="stages_pipeline_tasks_create",
        callbacks=list(agent_callbacks()),
        summary="Add a task to a stage's setup or rollback work",
        description="The intent must exist, its agent too when it calls one, its params must meet "
        "the intent's contract, and the stage's tasks of that purpose must stay a DAG. The callbacks "
        "show what the agent receives for each intent and must answer.",
        request=TaskTemplateInSerializer,
        responses={201: TaskTemplateSerializer},
        examples=[
            OpenApiExample("Task", request_only=True, value=TASK_TEMPLATE_EXAMPLE),
            TASK_TEMPLATE_INVALID_EXAMPLE,
        ],
    )
    def post(self, request, slug: str, stage: str):
        serializer = TaskTemplateInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = pipeline_edits.task_template_create(
            pipeline_stage=selectors.pipeline_stage_get(slug=slug, stage=stage),
            data=serializer.validated_data,
        )
        return Response(TaskTemplateSerializer(template).data, status=status.HTTP_201_CREATED)


class TaskTemplateDetailView(ApiPermissions, generics.GenericAPIView):
    permission_model = TaskTemplate
    serializer_class = TaskTemplateSerializer

    def template(self) -> TaskTemplate:
        kwargs = self.kwargs
        return selectors.task_template_get(
            slug=kwargs["slug"], stage=kwargs["stage"], purpose=kwargs["purpose"], key=kwargs["task_key"]
        )

    @extend_schema(
        operation_id="stages_pipeline_tasks_retrieve",
        summary="One task template",
        examples=[OpenApiExample("Task", response_only=True, value=TASK_TEMPLATE_EXAMPLE)],
    )
    def get(self, request, slug: str, stage: str, purpose: str, task_key: str):
        return Response(TaskTemplateSerializer(self.template()).data)

    @extend_schema(
        operation_id="stages_pipeline_tasks_update",
        summary="Change a task template (the stage's graph is checked again)",
        request=TaskTemplateInSerializer,
        responses={200: TaskTemplateSerializer},
        examples=[
            OpenApiExample("More retries", request_only=True, value={"max_retries": 5}),
            TASK_TEMPLATE_INVALID_EXAMPLE,
        ],
    )
    def patch(self, request, slug: str, stage: str, purpose: str, task_key: str):
        serializer = TaskTemplateInSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        template = pipeline_edits.task_template_update(
            template=self.template(), data=serializer.validated_data
        )
        return Response(TaskTemplateSerializer(template).data)

    @extend_schema(
        operation_id="stages_pipeline_tasks_destroy",
        summary="Remove a task template unless others of the stage depend on it",
        responses=DELETED,
        examples=[TASK_HAS_DEPENDANTS_EXAMPLE],
    )
    def delete(self, request, slug: str, stage: str, purpose: str, task_key: str):
        pipeline_edits.task_template_delete(template=self.template())
        return Response(status=status.HTTP_204_NO_CONTENT)
