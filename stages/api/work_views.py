"""Views of units of work and their tasks: retry or cancel a unit, complete a task by hand."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response

from journeys.api.permissions import ApiPermissions
from stages import selectors
from stages.api.examples import (
    STAGES_TASKS_COMPLETE_EXAMPLES,
)
from stages.api.serializers import (
    ConflictSerializer,
    TaskCompleteSerializer,
    UnitOfWorkSerializer,
    WorkTaskSerializer,
)
from stages.models import UnitOfWork, WorkTask
from stages.services import work as work_services
from stages.services import work_tasks

CONFLICT = OpenApiResponse(ConflictSerializer, description="Not allowed in the current stage (or status).")


class UnitOfWorkActionView(ApiPermissions, generics.GenericAPIView):
    permission_model = UnitOfWork
    required_permission = "stages.change_unitofwork"
    serializer_class = UnitOfWorkSerializer


class UnitOfWorkRetryView(UnitOfWorkActionView):
    @extend_schema(
        operation_id="stages_units_of_work_retry",
        summary="Retry the failed tasks of a failed unit of work",
        description="Failed tasks get a fresh round of retries; the unit runs again. 409 unless it failed.",
        request=None,
        responses={200: UnitOfWorkSerializer, 409: CONFLICT},
    )
    def post(self, request, work_id):
        unit = work_services.unit_of_work_retry(
            unit=selectors.unit_of_work_get(work_id=work_id), actor=request.user.get_username()
        )
        return Response(UnitOfWorkSerializer(selectors.unit_of_work_get(work_id=unit.work_id)).data)


class UnitOfWorkCancelView(UnitOfWorkActionView):
    @extend_schema(
        operation_id="stages_units_of_work_cancel",
        summary="Cancel a unit of work",
        description="Open tasks are cancelled; an attempt still running has its outcome dropped.",
        request=None,
        responses={200: UnitOfWorkSerializer, 409: CONFLICT},
    )
    def post(self, request, work_id):
        unit = work_services.unit_of_work_cancel(
            unit=selectors.unit_of_work_get(work_id=work_id), actor=request.user.get_username()
        )
        return Response(UnitOfWorkSerializer(selectors.unit_of_work_get(work_id=unit.work_id)).data)


class WorkTaskCompleteView(ApiPermissions, generics.GenericAPIView):
    permission_model = WorkTask
    required_permission = "stages.change_worktask"
    serializer_class = WorkTaskSerializer

    @extend_schema(
        operation_id="stages_tasks_complete",
        summary="Report the outcome of a waiting task (manual, or an agent that answered 202)",
        request=TaskCompleteSerializer,
        responses={200: WorkTaskSerializer, 409: CONFLICT},
        examples=STAGES_TASKS_COMPLETE_EXAMPLES,
    )
    def post(self, request, task_id):
        serializer = TaskCompleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = work_tasks.work_task_complete(
            task=selectors.work_task_get(task_id=task_id),
            actor=request.user.get_username(),
            **serializer.validated_data,
        )
        return Response(WorkTaskSerializer(task).data)
