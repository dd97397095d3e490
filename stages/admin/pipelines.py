"""Pipelines as staff build them. Task templates are validated as a whole (intents, agents,
params, and a DAG per purpose) before anything is saved, and drawn as a picture."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from journeys.directory_admin import ServiceAdmin
from stages.models import Agent, ExitCriterion, Pipeline, PipelineStage, TaskTemplate
from stages.services.pipeline_edits import CRITERION_FIELDS, TEMPLATE_FIELDS
from stages.services.pipelines import TemplateSpec, criterion_errors, task_templates_errors
from stages.svg import Node, dag_svg


@admin.register(Agent)
class AgentAdmin(ServiceAdmin):
    """Stage agents: the service directory's entries, seen from stages (one registry)."""


class PipelineStageInline(admin.TabularInline):
    model = PipelineStage
    fields = ["stage", "auto_promote", "description"]
    extra = 0
    max_num = 3
    show_change_link = True
    verbose_name_plural = "Stages (open one to edit its exit criteria and tasks)"


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_default", "stage_summary", "updated_at"]
    list_filter = ["is_default"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PipelineStageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("stages__criteria", "stages__task_templates")

    @admin.display(description="Stages")
    def stage_summary(self, pipeline: Pipeline) -> str:
        return " → ".join(
            f"{s.get_stage_display()} ({len(s.criteria.all())} criteria, {len(s.task_templates.all())} tasks)"
            for s in pipeline.stages.all()
        )


class ExitCriterionForm(forms.ModelForm):
    class Meta:
        model = ExitCriterion
        fields = list(CRITERION_FIELDS)

    def clean(self):
        data = super().clean()
        errors = criterion_errors(
            kind=data.get("kind", ""),
            operator=data.get("operator", ""),
            threshold=data.get("threshold"),
            event_type=data.get("event_type", ""),
            payload_filter=data.get("payload_filter"),
        )
        if errors:
            raise ValidationError(errors)
        return data


class ExitCriterionInline(admin.StackedInline):
    model = ExitCriterion
    form = ExitCriterionForm
    extra = 0
    fieldsets = [
        (None, {"fields": [("key", "label", "kind", "position"), "triggers_rollback"]}),
        ("Metric", {"fields": [("operator", "threshold")]}),
        ("No event of a type", {"fields": [("event_type", "window_days"), "payload_filter"]}),
    ]


class TaskTemplateFormSet(forms.BaseInlineFormSet):
    """Checks the stage's templates together: a task's dependencies live in other rows."""

    def clean(self):
        super().clean()
        forms_by_key: dict[str, forms.Form] = {}
        specs: list[TemplateSpec] = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("key"):
                continue
            forms_by_key[data["key"]] = form
            specs.append(
                TemplateSpec(
                    key=data["key"],
                    intent=data.get("intent", ""),
                    depends_on=data.get("depends_on") or [],
                    agent_id=data.get("agent_id", ""),
                    params=data.get("params") or {},
                    purpose=data.get("purpose", TaskTemplate.Purpose.SETUP),
                )
            )
        errors = task_templates_errors(specs)
        for key, messages in errors.items():
            if key in forms_by_key:
                for message in messages:
                    forms_by_key[key].add_error(None, message)
        if "__all__" in errors:
            raise ValidationError(errors["__all__"])


class TaskTemplateForm(forms.ModelForm):
    """Compact widgets: the table of a stage's tasks fits a 1,400-px window."""

    purpose = forms.ChoiceField(choices=[("setup", "Setup"), ("rollback", "Rollback")], initial="setup")

    class Meta:
        model = TaskTemplate
        fields = list(TEMPLATE_FIELDS)
        widgets = {
            "key": forms.TextInput(attrs={"size": 9}),
            "name": forms.TextInput(attrs={"size": 9}),
            "intent": forms.TextInput(attrs={"size": 7}),
            "agent_id": forms.TextInput(attrs={"size": 7}),
            "depends_on": forms.Textarea(attrs={"rows": 2, "cols": 10}),
            "params": forms.Textarea(attrs={"rows": 2, "cols": 14}),
            "max_retries": forms.NumberInput(attrs={"style": "width: 3em"}),
            "retry_backoff_seconds": forms.NumberInput(attrs={"style": "width: 3.5em"}),
            "position": forms.NumberInput(attrs={"style": "width: 3em"}),
        }
        labels = {
            "retry_backoff_seconds": "Backoff (s)",
            "max_retries": "Retries",
            "agent_id": "Agent",
            "position": "#",
        }


class TaskTemplateInline(admin.TabularInline):
    model = TaskTemplate
    form = TaskTemplateForm
    classes = ["task-templates"]

    class Media:
        css = {"all": ["stages/admin.css"]}

    formset = TaskTemplateFormSet
    extra = 0
    fields = list(TEMPLATE_FIELDS)


@admin.register(PipelineStage)
class PipelineStageAdmin(admin.ModelAdmin):
    list_display = ["__str__", "promotion", "criteria_count", "task_count"]
    list_filter = ["pipeline", "stage"]
    fields = ["pipeline", "stage", "auto_promote", "description", "task_graph"]
    readonly_fields = ["task_graph"]
    inlines = [ExitCriterionInline, TaskTemplateInline]

    @admin.display(description="Promotion", ordering="auto_promote")
    def promotion(self, stage: PipelineStage) -> str:
        return "automatic" if stage.auto_promote else "by hand"

    @admin.display(description="Criteria")
    def criteria_count(self, stage: PipelineStage) -> int:
        return stage.criteria.count()

    @admin.display(description="Tasks")
    def task_count(self, stage: PipelineStage) -> int:
        return stage.task_templates.count()

    @admin.display(description="Task graphs")
    def task_graph(self, stage: PipelineStage):
        if stage.pk is None:
            return "Saved templates are drawn here."
        blocks = []
        for purpose, label in TaskTemplate.Purpose.choices:
            templates = [t for t in stage.task_templates.all() if t.purpose == purpose]
            nodes = [
                Node(
                    key=t.key,
                    label=t.name or t.key,
                    depends_on=t.depends_on,
                    detail=f"{t.intent} · {t.agent_id}",
                )
                for t in templates
            ]
            blocks.append((label, dag_svg(nodes, title=f"{stage} — {label}")))
        return format_html_join("", "<h4>{}</h4><div>{}</div>", blocks) or format_html("")
