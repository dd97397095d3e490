"""Forms of the journey builder: the journey, its steps (a validated JSON editor per step) and the
dry run. Validation is the engine's: each action type's ``validate_config`` and the validation
of the whole definition (``journeys.engine.validation``); the forms only put each message next
to the field it is about."""

import json
from typing import Any

from django import forms
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from journeys.crypto import secret_mask
from journeys.engine.validation import validate_definition
from journeys.models import Journey, Step
from journeys.models.journeys import TriggerType
from journeys.registries import FieldErrors, action_types
from journeys.services.dry_run import EventWaits
from journeys.services.journeys import JOURNEY_FIELDS, STEP_ROW_FIELDS

JSON_ATTRS = {"class": "json-editor", "rows": 4, "cols": 70, "spellcheck": "false"}
SECRET_KEYS = ("secret",)  # config keys kept out of the editor (a webhook's signing secret)


BUILDER_MEDIA = forms.Media(css={"all": ["journeys/builder.css"]}, js=["journeys/builder.js"])


class JsonEditor(forms.Textarea):
    """A textarea for JSON, pretty-printed, checked as staff type (``journeys/builder.js``)."""

    def __init__(self, rows: int = 4) -> None:
        super().__init__(attrs={**JSON_ATTRS, "rows": rows})

    def format_value(self, value: Any) -> str | None:
        # forms.JSONField hands over compact JSON text; show it indented, one setting a line.
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value  # what staff typed, kept as typed so they can fix it
        if value in (None, "", {}, []):
            return ""
        return json.dumps(value, indent=2, ensure_ascii=False)


def _field_for(path: str, fields: set[str]) -> tuple[str | None, str]:
    """``config.url`` → (``config``, ``url``); a path outside the form → (None, the path)."""
    head, _, rest = path.partition(".")
    if head in fields:
        return head, rest
    return None, path


def add_errors(form: forms.BaseForm, errors: FieldErrors, *, prefix: str = "") -> None:
    """Put engine errors (dot paths) on the form fields they are about."""
    for path, messages in errors.items():
        field, rest = _field_for(path, set(form.fields))
        for message in messages:
            text = f"{rest}: {message}" if rest else message
            if field is None:
                form.add_error(None, f"{prefix}{path}: {message}")
            else:
                form.add_error(field, text)


def action_type_choices() -> list[tuple[str, str]]:
    """The registered action types (built-ins and those of other apps), read at form time."""
    return [("", "—")] + [(name, f"{name} — {action.description}") for name, action in action_types.items()]


class JourneyForm(forms.ModelForm):
    """A journey's settings; its trigger conditions and quiet hours are checked by the engine."""

    class Meta:
        model = Journey
        fields = list(JOURNEY_FIELDS)
        widgets = {
            "trigger_conditions": JsonEditor(rows=3),
            "description": forms.Textarea(attrs={"rows": 2, "cols": 70}),
            "trigger_type": forms.TextInput(attrs={"list": "journey-trigger-types", "size": 40}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "trigger_type" in self.fields:
            built_in = ", ".join(choice.value for choice in TriggerType)
            self.fields["trigger_type"].help_text += f" Built-in triggers: {built_in}; any event type works."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        values = {name: cleaned.get(name) for name in JOURNEY_FIELDS}
        errors = validate_definition(steps=[], journey=values, for_publish=False)
        add_errors(self, errors)
        return cleaned


class StepForm(forms.ModelForm):
    """One step. ``config``, ``condition`` and ``next_steps`` are JSON, validated as a whole by the
    step formset (the engine validates steps together: next steps must name existing keys)."""

    action_type = forms.ChoiceField(choices=(), required=False)
    config = forms.JSONField(required=False, widget=JsonEditor(rows=5))
    condition = forms.JSONField(required=False, widget=JsonEditor(rows=2))
    next_steps = forms.JSONField(required=False, widget=JsonEditor(rows=2))

    class Meta:
        model = Step
        fields = list(STEP_ROW_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action_type"].choices = action_type_choices()
        self.fields["action_type"].widget.attrs["class"] = "step-action-type"
        self.fields["action_type"].help_text = "For action steps: what to do (the example config is shown)."
        self.fields["kind"].widget.attrs["class"] = "step-kind"
        self.fields["config"].help_text = (
            'JSON. Actions: the action\'s settings. wait: {"duration": "2 hours"} or {"until": "09:00"}; '
            'wait_for_event: {"event", "timeout", "timeout_step"}; split: {"variants": '
            '[{"name", "weight", "step"}]}.'
        )
        self.fields[
            "condition"
        ].help_text = (
            'JSON; when false the step is skipped: {"field": "attributes.plan", "op": "eq", "value": "pro"}.'
        )
        self.fields[
            "next_steps"
        ].help_text = (
            'JSON list: ["key"] or [{"step": "key", "condition": {…}}, …]; empty: the next step by order.'
        )
        if self.instance.pk and isinstance(self.instance.config, dict):
            hidden = [k for k in SECRET_KEYS if k in self.instance.config]
            if hidden:
                self.initial["config"] = {k: v for k, v in self.instance.config.items() if k not in hidden}
                self.fields["config"].help_text += format_html(
                    " The signing secret <code>{}</code> is kept and not shown in full; "
                    '<a href="{}" class="rotate-secret">rotate it</a> to get a new one.',
                    secret_mask(self.instance.config.get("secret") or ""),
                    reverse(
                        "admin:journeys_journey_rotate_secret",
                        args=[self.instance.journey_id, self.instance.key],
                    ),
                )

    def clean_config(self) -> dict[str, Any]:
        config = self.cleaned_data.get("config")
        if config is None:
            return {}
        if not isinstance(config, dict):
            raise forms.ValidationError('Must be a JSON object, e.g. {"tag": "onboarded"}.')
        kept = self.instance.config if self.instance.pk and isinstance(self.instance.config, dict) else {}
        return {**{k: kept[k] for k in SECRET_KEYS if k in kept and k not in config}, **config}

    def clean_next_steps(self) -> Any:
        value = self.cleaned_data.get("next_steps")
        return [] if value is None else value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("kind") == Step.Kind.ACTION and not cleaned.get("action_type"):
            self.add_error("action_type", "Choose what this action step does.")
        if cleaned.get("kind") != Step.Kind.ACTION and cleaned.get("action_type"):
            cleaned["action_type"] = ""  # only action steps have one; a leftover choice is dropped
        return cleaned

    def validate_unique(self) -> None:
        # Steps are saved together, replacing the old rows (journey_update); a key moving from one
        # step to another is fine. Duplicate keys among the forms are reported by the formset.
        pass

    def step_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in STEP_ROW_FIELDS}


class StepFormSet(BaseInlineFormSet):
    """The steps, validated together with the journey by the engine before anything is saved."""

    def kept_forms(self) -> list[StepForm]:
        return [
            form
            for form in self.forms
            if form.has_changed() or form.instance.pk
            if not (self.can_delete and self._should_delete_form(form))
        ]

    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return  # fix the JSON first; the definition cannot be read yet
        forms_kept = self.kept_forms()
        self.steps = [form.step_data() for form in forms_kept]
        # Order numbers 1, 2, 3… in the order the engine reads them (by order, then as listed),
        # so new rows (which all start at 0) never tie with one another.
        ranked = sorted(range(len(self.steps)), key=lambda i: (self.steps[i].get("order") or 0, i))
        for number, i in enumerate(ranked, start=1):
            self.steps[i]["order"] = number
        journey = {name: getattr(self.instance, name, None) for name in JOURNEY_FIELDS}
        errors = validate_definition(steps=self.steps, journey=journey, for_publish=False)
        leftovers: FieldErrors = {}
        for path, messages in errors.items():
            parts = path.split(".", 2)
            if parts[0] == "steps" and len(parts) > 1 and parts[1].isdigit():
                form = forms_kept[int(parts[1])]
                add_errors(form, {parts[2] if len(parts) > 2 else "key": messages})
            elif parts[0] != "steps":
                continue  # the journey form reports its own fields
            else:
                leftovers[path] = messages
        if leftovers:
            raise forms.ValidationError([f"{path}: {m}" for path, ms in leftovers.items() for m in ms])
        if any(form.errors for form in forms_kept):
            raise forms.ValidationError("Some steps have problems; see the messages next to their fields.")


class DryRunForm(forms.Form):
    """Who to simulate, with which trigger payload and assumptions."""

    user_id = forms.CharField(max_length=255, label="Participant user_id")
    payload = forms.JSONField(
        required=False,
        widget=JsonEditor(rows=4),
        label="Trigger payload",
        help_text='The trigger event\'s payload, e.g. {"plan": "premium"}.',
    )
    step_results = forms.JSONField(
        required=False,
        widget=JsonEditor(rows=3),
        help_text=(
            'Optional results by step key, e.g. {"quiz": {"score": 8}} for a manual step, '
            '{"wait_payment": {"payload": {"amount": 10}}} for an awaited event, '
            '{"review": {"next_step": "approve"}} to choose a next step.'
        ),
    )
    version = forms.ChoiceField(label="Definition")
    event_waits = forms.ChoiceField(
        label="Awaited events",
        choices=[
            (EventWaits.ARRIVE, "arrive (the happy path)"),
            (EventWaits.TIMEOUT, "do not arrive (the waits time out)"),
        ],
        initial=EventWaits.ARRIVE,
    )

    def __init__(self, *args: Any, journey: Journey, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("draft", "the draft being edited")]
        for version in journey.versions.order_by("-number"):
            live = " (live)" if version.pk == journey.live_version_id else ""
            choices.append((str(version.pk), f"version {version.number}{live}"))
        self.fields["version"].choices = choices
        self.fields["version"].initial = str(journey.live_version_id) if journey.live_version_id else "draft"

    def _object(self, name: str, example: str) -> dict[str, Any]:
        value = self.cleaned_data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(f"A JSON object, e.g. {example}.")
        return value

    def clean_payload(self) -> dict[str, Any]:
        return self._object("payload", '{"plan": "premium"}')

    def clean_step_results(self) -> dict[str, Any]:
        return self._object("step_results", '{"quiz": {"score": 8}}')
