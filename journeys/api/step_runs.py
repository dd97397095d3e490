"""Step run endpoints (``/api/v1/step-runs…``): the dead-letter queue, overdue runs, retry and skip."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics
from rest_framework.response import Response

from journeys.api.examples import STEP_RUN_EXAMPLE
from journeys.api.filters import StepRunFilterSet
from journeys.api.permissions import ApiPermissions
from journeys.api.serializers.step_runs import StepRunSerializer
from journeys.errors import NotFound
from journeys.models import StepRun
from journeys.selectors.step_runs import step_runs_list
from journeys.services import user_journeys as services


class StepRunListView(ApiPermissions, generics.GenericAPIView):
    queryset = StepRun.objects.all()
    serializer_class = StepRunSerializer
    filterset_class = StepRunFilterSet

    @extend_schema(
        operation_id="step_runs_list",
        summary="Step runs: the dead-letter queue (dead_lettered=true), overdue runs (overdue_seconds=5)…",
        responses={200: StepRunSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Dead letters",
                response_only=True,
                value={"next": None, "previous": None, "results": [STEP_RUN_EXAMPLE]},
            )
        ],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(step_runs_list()))
        return self.get_paginated_response(StepRunSerializer(page, many=True).data)


def _step_run_view(name: str, service, summary: str):
    @extend_schema(
        operation_id=f"step_runs_{name}",
        summary=summary,
        request=None,
        responses={200: StepRunSerializer},
        examples=[
            OpenApiExample(
                "Done",
                response_only=True,
                value={**STEP_RUN_EXAMPLE, "status": "scheduled", "dead_lettered_at": None},
            ),
            OpenApiExample(
                "Not dead-lettered",
                response_only=True,
                status_codes=["409"],
                value={
                    "detail": "Milestone 'notify_crm' has no failed step run to retry or skip.",
                    "code": "not_failed",
                    "current_state": "active",
                    "current_step": "notify_crm",
                },
            ),
        ],
    )
    def post(self, request, pk: int):
        run = StepRun.objects.select_related("user_journey").filter(pk=pk).first()
        if run is None:
            raise NotFound(f"No step run {pk}.")
        service(step_run=run, actor=request.user)
        return Response(StepRunSerializer(StepRun.objects.get(pk=pk)).data)

    return type(
        f"StepRun{name.title()}View",
        (ApiPermissions, generics.GenericAPIView),
        {
            "post": post,
            "__doc__": summary,
            "permission_model": StepRun,
            "required_permission": "journeys.retry_steprun",
            "serializer_class": StepRunSerializer,
        },
    )


StepRunRetryView = _step_run_view("retry", services.step_run_retry, "Retry a dead-lettered step run now")


StepRunSkipView = _step_run_view("skip", services.step_run_skip, "Skip a dead-lettered step run and go on")
