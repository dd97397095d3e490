"""Staged journeys in the admin: transition buttons (django-fsm-2's admin), routed through the
services so every button writes history, snapshots and events exactly like the API."""

import json
from typing import Any

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django_fsm.admin import FSMAdminMixin

from journeys.errors import DomainError
from stages.admin.evidence import EvidenceViews, evidence_context
from stages.criteria import exit_criteria_evaluate
from stages.models import Measurement, Snapshot, StagedJourney, StageTransition, UnitOfWork
from stages.models.stages import PIPELINE_STAGES
from stages.services import staged_journeys as journey_services
from stages.services.rollback import staged_journey_rollback

PROMOTIONS = {"promote_to_pilot", "promote_to_production", "complete"}


class StageTransitionInline(admin.TabularInline):
    model = StageTransition
    fields = [
        "transitioned_at",
        "kind",
        "from_stage",
        "to_stage",
        "actor",
        "automatic",
        "reason",
        "failed_checks",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "History"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Failed checks")
    def failed_checks(self, row: StageTransition) -> str:
        return ", ".join(c["key"] for c in row.exit_criteria_results if not c.get("passed")) or "—"


class MeasurementInline(admin.TabularInline):
    model = Measurement
    fields = ["recorded_at", "stage", "kind", "key", "value", "actor", "note", "source"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-recorded_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class SnapshotInline(admin.TabularInline):
    model = Snapshot
    fields = ["created_at", "stage", "measurement_count"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Measurements")
    def measurement_count(self, snapshot: Snapshot) -> int:
        return len(snapshot.measurements)


class UnitOfWorkInline(admin.TabularInline):
    model = UnitOfWork
    fields = ["work_id", "stage", "purpose", "status", "round", "created_at", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "Units of work"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StagedJourney)
class StagedJourneyAdmin(EvidenceViews, FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["stage"]
    change_form_template = "admin/stages/stagedjourney/change_form.html"
    fsm_transition_form_template = "admin/stages/stagedjourney/transition_form.html"
    list_display = ["client_id", "pipeline", "stage", "time_in_stage", "criteria_status", "started_at"]
    list_filter = ["stage", "pipeline"]
    search_fields = ["client_id"]
    list_select_related = ["pipeline"]
    date_hierarchy = "started_at"
    inlines = [StageTransitionInline, MeasurementInline, SnapshotInline, UnitOfWorkInline]
    readonly_fields = [
        "client_id",
        "pipeline",
        "stage",
        "rollback_from",
        "started_at",
        "stage_entered_at",
        "time_in_stage",
        "ended_at",
        "end_reason",
        "started_by",
        "exit_criteria_now",
    ]

    def get_urls(self):
        return self.evidence_urls() + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        journey = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if journey is not None:
            context.update(evidence_context(request, journey))
        return super().change_view(request, object_id, form_url, context)

    def get_inlines(self, request, obj=None):
        return [] if obj is None else self.inlines

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["client_id", "pipeline"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else tuple(self.readonly_fields)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # history is purged by retention, not by hand

    @admin.display(description="In stage for")
    def time_in_stage(self, journey: StagedJourney) -> str:
        seconds = int(journey.time_in_stage())
        days, rest = divmod(seconds, 86400)
        return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"

    @admin.display(description="Exit criteria")
    def criteria_status(self, journey: StagedJourney) -> str:
        checks = journey.last_validation.get("checks") or []
        if journey.stage not in PIPELINE_STAGES or not checks:
            return "—"
        passed = sum(1 for c in checks if c["passed"])
        colour = "#2e7d32" if passed == len(checks) else "#b71c1c"
        return format_html('<span style="color:{}">{} / {} pass</span>', colour, passed, len(checks))

    @admin.display(description="Exit criteria now")
    def exit_criteria_now(self, journey: StagedJourney):
        if journey.stage not in PIPELINE_STAGES:
            return "—"
        result = exit_criteria_evaluate(journey=journey)
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td>{}</td><td style="color:{}">{}</td><td>{}</td></tr>',
            (
                (
                    c.label,
                    c.expected,
                    "—" if c.measured is None else c.measured,
                    "#2e7d32" if c.passed else "#b71c1c",
                    "pass" if c.passed else "fail",
                    c.detail,
                )
                for c in result.checks
            ),
        )
        return format_html(
            "<table><thead><tr><th>Check</th><th>Expected</th><th>Measured</th><th>Result</th>"
            "<th>Detail</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def save_model(self, request, obj: StagedJourney, form, change) -> None:
        if change:
            return  # nothing is editable; transitions go through the buttons
        journey = journey_services.staged_journey_start(
            client_id=obj.client_id, pipeline=obj.pipeline, actor=request.user.get_username()
        )
        obj.pk = journey.pk

    def _apply_fsm_transition(
        self,
        *,
        obj: StagedJourney,
        transition_name: str,
        request,
        kwargs: dict[str, Any] | None = None,
    ) -> bool:
        """Route the buttons to the services (history, snapshot, events, units of work) instead of
        calling the bare transition and saving."""
        actor = request.user.get_username()
        reason = (kwargs or {}).get("reason", "")
        try:
            if transition_name in PROMOTIONS:
                journey_services.staged_journey_promote(journey=obj, actor=actor)
            elif transition_name == "initiate_rollback":
                staged_journey_rollback(journey=obj, reason=reason, actor=actor)
            elif transition_name == "cancel":
                journey_services.staged_journey_cancel(journey=obj, reason=reason, actor=actor)
            else:
                raise DomainError(f"{transition_name} is not available from the admin.")
        except DomainError as error:
            self.message_user(request, f"{transition_name}: {error.message}", messages.ERROR)
            return False
        obj.refresh_from_db()
        self.message_user(request, f"Done: the journey is now {obj.get_stage_display()}.", messages.SUCCESS)
        return True


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ["journey", "stage", "created_at"]
    list_filter = ["stage"]
    search_fields = ["journey__client_id"]
    list_select_related = ["journey"]
    readonly_fields = [
        "journey",
        "transition",
        "stage",
        "created_at",
        "state_view",
        "measurements_view",
        "units_view",
    ]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in {"GET", "HEAD"} and super().has_change_permission(request, obj)

    @admin.display(description="State")
    def state_view(self, snapshot: Snapshot):
        return _pretty(snapshot.state)

    @admin.display(description="Measurements of the stage")
    def measurements_view(self, snapshot: Snapshot):
        return _pretty(snapshot.measurements)

    @admin.display(description="Units of work")
    def units_view(self, snapshot: Snapshot):
        return _pretty(snapshot.units_of_work)


def _pretty(value: Any):
    return format_html("<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(value, indent=2, default=str))
