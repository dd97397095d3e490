"""The journey's own pages: the change page (graph, readiness, transitions), the canvas's JSON,
the dry run and the rotation of a webhook step's signing secret."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from journeys.builder.canvas import canvas_endpoint
from journeys.builder.forms import DryRunForm
from journeys.builder.graph.svg import draft_svg, render_svg
from journeys.builder.journey_admin.parts import (
    editable,
    editor_context,
    readable_errors,
)
from journeys.builder.traces import trace_html
from journeys.engine.definition import step_as_dict
from journeys.engine.validation import implicit_transitions, validate_definition
from journeys.errors import Conflict, TransitionRefused, ValidationFailed
from journeys.models import Journey, Step
from journeys.services.dry_run import journey_dry_run
from journeys.services.journeys import (
    JOURNEY_FIELDS,
    has_unpublished_changes,
    journey_archive,
    journey_publish,
    journey_restore,
)
from journeys.services.webhook_secrets import WEBHOOK_ACTION, webhook_step_secret_rotate

TRANSITIONS = {
    "publish": (journey_publish, "Published"),
    "archive": (journey_archive, "Archived"),
    "restore": (journey_restore, "Restored to draft"),
}
TRANSITION_LABELS = {"publish": "Publish", "archive": "Archive", "restore": "Restore to draft"}
TRANSITION_PERMISSION = "journeys.publish_journey"


class JourneyPages:
    """The pages a ``ModelAdmin`` of journeys adds to the admin's own (see ``JourneyAdmin``)."""

    # ------------------------------------------------------------------------------------------
    # The change page: graph, readiness, transitions
    # ------------------------------------------------------------------------------------------
    def _transitions(self, request, journey: Journey) -> list[dict[str, str]]:
        if not request.user.has_perm(TRANSITION_PERMISSION):
            return []
        available = [t.name for t in journey.get_available_state_transitions()]
        buttons = []
        for name in ("publish", "archive", "restore"):
            if name in available:
                label = TRANSITION_LABELS[name]
                if name == "publish" and journey.state == Journey.State.PUBLISHED:
                    label = "Publish changes"
                buttons.append({"name": name, "label": label})
        return buttons

    def change_view(self, request, object_id, form_url="", extra_context=None):
        journey = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if journey is not None:
            steps = list(journey.steps.order_by("order", "id"))
            problems = validate_definition(
                steps=[step_as_dict(s) for s in steps],
                journey={name: getattr(journey, name) for name in JOURNEY_FIELDS},
                for_publish=True,
            )
            context.update(
                graph=draft_svg(steps),
                canvas_url=reverse("admin:journeys_journey_canvas", args=[journey.pk]),
                publish_problems=readable_errors(problems, steps),
                implicit_paths=readable_errors(implicit_transitions(steps), steps),
                unpublished_changes=journey.state == Journey.State.PUBLISHED
                and has_unpublished_changes(journey),
                draft_pending=editable(journey) and has_unpublished_changes(journey),
                transitions=self._transitions(request, journey),
                dry_run_url=reverse("admin:journeys_journey_dry_run", args=[journey.pk]),
            )
        return super().change_view(request, object_id, form_url, {**context, **editor_context()})

    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, {**(extra_context or {}), **editor_context()})

    def response_change(self, request, obj: Journey):
        name = request.POST.get("_transition")
        if not name:
            return super().response_change(request, obj)
        self._apply_transition(request, obj, name)
        return HttpResponseRedirect(reverse("admin:journeys_journey_change", args=[obj.pk]))

    def _apply_transition(self, request, journey: Journey, name: str) -> None:
        """Publish / archive / restore through the services; every refusal becomes a message."""
        if name not in TRANSITIONS:
            self.message_user(request, f"Unknown transition {name!r}.", messages.ERROR)
            return
        if not request.user.has_perm(TRANSITION_PERMISSION):
            self.message_user(request, "You may not publish or archive journeys.", messages.ERROR)
            return
        service, done = TRANSITIONS[name]
        before = journey.live_version_id
        try:
            saved = service(journey=journey, actor=request.user)
        except ValidationFailed as exc:
            steps = list(Journey.objects.get(pk=journey.pk).steps.all())
            self.message_user(request, "Not published: fix these problems first.", messages.ERROR)
            for line in readable_errors(exc.errors, steps):
                self.message_user(request, line, messages.ERROR)
            return
        except TransitionRefused:
            current = Journey.objects.get(pk=journey.pk).state
            self.message_user(request, f"Cannot {name} a journey that is {current}.", messages.ERROR)
            return
        except Conflict as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        if name == "publish":
            number = saved.live_version.number
            if saved.live_version_id == before:
                self.message_user(request, f"Nothing changed since v{number}; it stays live.", messages.INFO)
            else:
                self.message_user(
                    request,
                    f"Published as v{number}. New participants enter v{number}; "
                    "runs in flight keep their version.",
                    messages.SUCCESS,
                )
        else:
            self.message_user(request, f"{done}: {saved.name} is now {saved.state}.", messages.SUCCESS)

    # ------------------------------------------------------------------------------------------
    # Dry run
    # ------------------------------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:pk>/canvas/",
                self.admin_site.admin_view(self.canvas_view),
                name="journeys_journey_canvas",
            ),
            path(
                "<int:pk>/dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="journeys_journey_dry_run",
            ),
            path(
                "<int:pk>/steps/<str:key>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name="journeys_journey_rotate_secret",
            ),
            *super().get_urls(),
        ]

    def canvas_view(self, request, pk: int):
        """The canvas's JSON: the draft to edit (GET) and saving it (POST), see ``builder.canvas``."""
        return canvas_endpoint(self, request, pk)

    def dry_run_view(self, request, pk: int):
        """ "Test with this participant": the path and every condition, without side effects."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        journey = get_object_or_404(Journey.objects.select_related("live_version"), pk=pk)
        form = DryRunForm(request.GET if "user_id" in request.GET else None, journey=journey)
        result = None
        problems: list[str] = []
        if form.is_valid():
            chosen = form.cleaned_data["version"]
            version = None if chosen == "draft" else journey.versions.filter(pk=chosen).first()
            try:
                result = journey_dry_run(
                    journey=journey,
                    user_id=form.cleaned_data["user_id"],
                    payload=form.cleaned_data["payload"],
                    step_results=form.cleaned_data["step_results"],
                    version=version,
                    event_waits=form.cleaned_data["event_waits"],
                )
            except ValidationFailed as exc:
                problems = readable_errors(exc.errors, list(journey.steps.all()))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": journey,
            "title": f"Dry run of {journey.name}",
            "form": form,
            "result": result,
            "problems": problems,
            "media": self.media + form.media,
        }
        if result is not None:
            context["graph"] = render_svg(result.definition, highlight=result.highlight)
            context["trigger_trace"] = (
                trace_html({"condition": result.trigger["trace"]}) if result.trigger["trace"] else ""
            )
            context["rows"] = [
                {
                    "step": step,
                    "trace": trace_html(step.trace),
                    "preview": json.dumps(step.preview, indent=2, ensure_ascii=False, default=str)
                    if step.preview
                    else "",
                    "offset": step.at - result.now,
                }
                for step in result.steps
            ]
        return TemplateResponse(request, "admin/journeys/journey/dry_run.html", context)

    def rotate_secret_view(self, request, pk: int, key: str):
        """Confirm, then give a webhook step a new signing secret and show it this once."""
        journey = get_object_or_404(Journey, pk=pk)
        if not self.has_change_permission(request, journey):
            raise PermissionDenied
        step = get_object_or_404(Step, journey=journey, key=key, action_type=WEBHOOK_ACTION)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": journey,
            "title": f"Rotate the signing secret of step {step.key}",
            "subjects": [f"step {step.key} ({step.name}) of {journey.name}"],
            "subject_label": "Step",
            "back_url": reverse("admin:journeys_journey_change", args=[journey.pk]),
        }
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            secret = webhook_step_secret_rotate(journey=journey, step_key=step.key, actor=request.user)
            context["secrets"] = [(step.key, secret)]
        return TemplateResponse(request, "admin/secret_rotate.html", context)
