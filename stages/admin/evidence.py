"""The staged journey page's working tools: check the gate now, record a measurement or an
approval for the current stage's criteria, and watch the current unit of work's tasks.

Each is a small POST view routed through the stages services (the same ones the API calls), so a
measurement recorded here can promote or roll back the journey exactly as one sent by an agent.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from journeys.errors import DomainError, ValidationFailed
from stages.models import ExitCriterion, StagedJourney, UnitOfWork
from stages.models.stages import PIPELINE_STAGES
from stages.services.measurements import approval_record, measurements_record
from stages.services.staged_journeys import staged_journey_validate
from stages.svg import Node, dag_svg

LIVE_UNIT_STATES = {"pending", "running"}  # a graph of these is refreshed while the page is open


def criteria_of(journey: StagedJourney, kind: str) -> list[ExitCriterion]:
    return list(
        ExitCriterion.objects.filter(
            pipeline_stage__pipeline_id=journey.pipeline_id, pipeline_stage__stage=journey.stage, kind=kind
        ).order_by("key")
    )


def current_unit(journey: StagedJourney) -> UnitOfWork | None:
    return journey.units_of_work.order_by("-created_at", "-pk").prefetch_related("tasks").first()


def unit_graph(unit: UnitOfWork | None) -> str:
    if unit is None:
        return ""
    nodes = [
        Node(key=t.key, label=t.name or t.key, depends_on=t.depends_on, status=t.status, detail=t.intent)
        for t in unit.tasks.all()
    ]
    return dag_svg(nodes, title=f"Unit of work {unit.work_id} ({unit.status})")


def evidence_context(request: HttpRequest, journey: StagedJourney) -> dict[str, Any]:
    """What the change page shows under the fields: forms for evidence, the live task graph."""
    measurable = journey.stage in PIPELINE_STAGES
    unit = current_unit(journey)
    return {
        "measurable": measurable,
        "metric_criteria": criteria_of(journey, ExitCriterion.Kind.METRIC) if measurable else [],
        "approval_criteria": criteria_of(journey, ExitCriterion.Kind.APPROVAL) if measurable else [],
        "unit": unit,
        "unit_graph": unit_graph(unit),
        "unit_live": unit is not None and unit.status in LIVE_UNIT_STATES,
        "can_record": request.user.has_perm("stages.change_stagedjourney"),
    }


class EvidenceViews:
    """Mixed into the staged journey admin: the URLs and views of the evidence tools."""

    def evidence_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/validate/", wrap(self.validate_view), name="stages_stagedjourney_validate"),
            path("<int:pk>/measure/", wrap(self.measure_view), name="stages_stagedjourney_measure"),
            path("<int:pk>/approve/", wrap(self.approve_view), name="stages_stagedjourney_approve"),
            path("<int:pk>/work-graph/", wrap(self.work_graph_view), name="stages_stagedjourney_work_graph"),
        ]

    def _journey(self, request: HttpRequest, pk: int, *, change: bool) -> StagedJourney:
        journey = get_object_or_404(StagedJourney, pk=pk)
        allowed = (
            self.has_change_permission(request, journey)
            if change
            else self.has_view_permission(request, journey)
        )
        if not allowed or (change and request.method != "POST"):
            raise PermissionDenied
        return journey

    def _back(self, journey: StagedJourney) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:stages_stagedjourney_change", args=[journey.pk]))

    def _refused(self, request: HttpRequest, what: str, error: DomainError) -> None:
        if isinstance(error, ValidationFailed):
            for field, problems in error.errors.items():
                for problem in problems:
                    self.message_user(request, f"{what} refused: {field}: {problem}", messages.ERROR)
        else:
            self.message_user(request, f"{what} refused: {error.message}", messages.ERROR)

    def validate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        journey = self._journey(request, pk, change=True)
        try:
            result = staged_journey_validate(journey=journey)
        except DomainError as error:
            self._refused(request, "Validation", error)
            return self._back(journey)
        passed = sum(1 for check in result.checks if check.passed)
        level = messages.SUCCESS if result.passed else messages.WARNING
        verdict = "the gate is open: it can be promoted" if result.passed else "not ready to promote"
        self.message_user(request, f"Checked now: {passed} of {len(result.checks)} pass — {verdict}.", level)
        return self._back(journey)

    def measure_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        journey = self._journey(request, pk, change=True)
        key = request.POST.get("measure_key", "")
        try:
            value = float(request.POST.get("measure_value", ""))
        except ValueError:
            self.message_user(request, "Measurement refused: the value must be a number.", messages.ERROR)
            return self._back(journey)
        try:
            measurements_record(
                journey=journey, values={key: value}, actor=request.user.get_username(), source="admin"
            )
        except DomainError as error:
            self._refused(request, "Measurement", error)
            return self._back(journey)
        journey.refresh_from_db()
        self.message_user(
            request,
            f"Recorded {key} = {value:g}; the journey is {journey.get_stage_display()}.",
            messages.SUCCESS,
        )
        return self._back(journey)

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        journey = self._journey(request, pk, change=True)
        key = request.POST.get("approval_key", "")
        approved = request.POST.get("approval_decision") == "yes"
        try:
            approval_record(
                journey=journey,
                key=key,
                approved=approved,
                actor=request.user.get_username(),
                note=request.POST.get("approval_note", "")[:1000],
                source="admin",
            )
        except DomainError as error:
            self._refused(request, "Approval", error)
            return self._back(journey)
        journey.refresh_from_db()
        word = "approved" if approved else "rejected"
        self.message_user(
            request,
            f"Recorded: {key} {word}; the journey is {journey.get_stage_display()}.",
            messages.SUCCESS,
        )
        return self._back(journey)

    def work_graph_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The current unit of work's graph alone, for the page to refresh while tasks run."""
        journey = self._journey(request, pk, change=False)
        unit = current_unit(journey)
        response = HttpResponse(unit_graph(unit) or "")
        response["X-Unit-Live"] = "1" if unit is not None and unit.status in LIVE_UNIT_STATES else "0"
        return response
