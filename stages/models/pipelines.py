"""What staff define: pipelines, their stages' exit criteria and unit-of-work templates, agents."""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from journeys.models import Service
from journeys.models.records import EVENT_PATTERN_VALIDATOR
from stages.models.stages import PIPELINE_STAGE_CHOICES, PIPELINE_STAGES

KEY_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9_]{0,99}$",
    "Use lower-case letters, digits and underscores, starting with a letter (e.g. search_quality).",
)
AGENT_ID_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9_.\-]{0,99}$",
    "Use lower-case letters, digits and . _ - starting with a letter (e.g. dataops-agent).",
)


class Pipeline(models.Model):
    """A staged lifecycle: for each of Sandbox, Pilot and Production, its exit criteria and the
    units of work run when a journey enters (setup) or rolls back out of (rollback) the stage.

    The order of the stages is fixed (seed §8.1); what varies per pipeline is the gates and work.
    One pipeline is the default, used when a journey is started without naming one.
    """

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="pipeline_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PipelineStage(models.Model):
    """One stage of a pipeline: its gate (criteria) and its work (task templates)."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    stage = models.CharField(max_length=20, choices=PIPELINE_STAGE_CHOICES)
    position = models.PositiveSmallIntegerField(editable=False, default=0)
    auto_promote = models.BooleanField(
        default=True,
        help_text="Promote (or, from Production, complete) automatically as soon as the stage's unit "
        "of work has completed and every exit criterion passes.",
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["pipeline", "position"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "stage"], name="pipeline_stage_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline} · {self.get_stage_display()}"

    def save(self, *args, **kwargs) -> None:
        self.position = PIPELINE_STAGES.index(self.stage) if self.stage in PIPELINE_STAGES else 0
        super().save(*args, **kwargs)


class ExitCriterion(models.Model):
    """A check that must pass before a journey leaves the stage (seed §8.2).

    * ``metric``: the latest measurement of ``key`` in this stage compared with ``threshold``
      (``search_quality > 0.80``);
    * ``approval``: the latest approval of ``key`` in this stage is a yes (``demo_approved``);
    * ``no_events``: no event of ``event_type`` (matching ``payload_filter``) for the client since
      the stage began; with ``window_days``, the stage must also have run that many days and
      the window is the last ``window_days`` days (``no critical bugs in 7 days``).

    With ``triggers_rollback``, evidence that the check fails (a measurement under threshold, a
    rejection, a matching event) while the journey is in the stage rolls it back automatically.
    """

    class Kind(models.TextChoices):
        METRIC = "metric", "Metric threshold"
        APPROVAL = "approval", "Approval"
        NO_EVENTS = "no_events", "No event of a type"

    class Operator(models.TextChoices):
        GT = "gt", ">"
        GTE = "gte", "≥"
        LT = "lt", "<"
        LTE = "lte", "≤"
        EQ = "eq", "="

    pipeline_stage = models.ForeignKey(PipelineStage, on_delete=models.CASCADE, related_name="criteria")
    key = models.CharField(max_length=100, validators=[KEY_VALIDATOR])
    label = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.METRIC)
    operator = models.CharField(max_length=3, choices=Operator.choices, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    event_type = models.CharField(
        max_length=200,
        blank=True,
        validators=[EVENT_PATTERN_VALIDATOR],
        help_text="no_events: an event type or glob (incident.*).",
    )
    payload_filter = models.JSONField(
        default=dict,
        blank=True,
        help_text='no_events: payload fields that must match, a value or a list: {"severity": ["P0", "P1"]}.',
    )
    window_days = models.PositiveIntegerField(
        default=0, help_text="no_events: days without such an event; 0 = none since the stage began."
    )
    triggers_rollback = models.BooleanField(
        default=False, help_text="Roll the journey back automatically when this check fails in the stage."
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["pipeline_stage", "position", "id"]
        verbose_name_plural = "exit criteria"
        constraints = [
            models.UniqueConstraint(fields=["pipeline_stage", "key"], name="criterion_unique_key_per_stage"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def expectation(self) -> str:
        """What passing means, in words (shown next to each measured value)."""
        if self.kind == self.Kind.METRIC:
            return f"{self.key} {self.get_operator_display()} {self.threshold:g}"
        if self.kind == self.Kind.APPROVAL:
            return f"{self.key} approved"
        window = f"in {self.window_days} days" if self.window_days else "during the stage"
        return f"no {self.event_type} event {window}"


class Agent(Service):
    """A stage agent is an entry of the service directory (``journeys.Service``): one registry,
    seen from stages. Task templates name it by its key (``agent_id``); HTTP intents POST to its
    endpoint signed with its secret, or its built-in handler answers in-process."""

    class Meta:
        proxy = True
        ordering = ["key"]


class TaskTemplate(models.Model):
    """One task of a stage's unit of work. ``depends_on`` names other templates' keys of the same
    stage and purpose; together they must form a DAG (checked when saved).

    ``setup`` tasks run when a journey enters the stage; ``rollback`` tasks run when a journey
    rolls back out of it (e.g. Pilot's rollback tasks undo the pilot on the way back to Sandbox).
    """

    class Purpose(models.TextChoices):
        SETUP = "setup", "Setup (entering the stage)"
        ROLLBACK = "rollback", "Rollback (leaving it backwards)"

    pipeline_stage = models.ForeignKey(PipelineStage, on_delete=models.CASCADE, related_name="task_templates")
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.SETUP)
    key = models.CharField(max_length=100, validators=[KEY_VALIDATOR])
    name = models.CharField(max_length=200)
    agent_id = models.CharField(
        max_length=100, blank=True, help_text="The agent performing it (required by HTTP intents)."
    )
    intent = models.CharField(max_length=100)
    params = models.JSONField(default=dict, blank=True)
    depends_on = models.JSONField(
        default=list, blank=True, help_text='Keys of tasks to finish first: ["a", "b"].'
    )
    max_retries = models.PositiveSmallIntegerField(default=3)
    retry_backoff_seconds = models.FloatField(
        default=5.0,
        validators=[MinValueValidator(0)],
        help_text="First retry delay; doubled on each further retry (with jitter), at most an hour.",
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["pipeline_stage", "purpose", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline_stage", "purpose", "key"], name="task_template_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.intent})"
