"""Journey definitions: the editable journey with its steps, and the frozen versions runs execute.

Staff edit ``Journey`` and its ``Step`` rows (the working draft). Publishing validates the whole
graph and freezes it into a ``JourneyVersion`` (a JSON snapshot); user journeys run the version
they started with, so editing or re-publishing a live journey never changes runs in flight.
"""

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

STEP_KEY_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9_\-]{0,79}$",
    "Use lower-case letters, digits, _ and -, starting with a letter (e.g. welcome_email).",
)
SERVICE_NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_.:\-]{0,199}$",
    "A service operation such as FrontendGateway.handle_insights_request (letters, digits, . _ - :).",
)
TRIGGER_TYPE_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9_.:\-]{1,200}$",
    "An event type: letters, digits and . _ - : only (e.g. signup, payment.failed).",
)


class TriggerType(models.TextChoices):
    """The ten lifecycle triggers the product documents; any event type can trigger a journey."""

    SIGNUP = "signup", "User signed up"
    FIRST_APPROVAL = "first_approval", "First approval"
    PAYMENT_SUCCESS = "payment_success", "Payment succeeded"
    PAYMENT_FAIL = "payment_fail", "Payment failed"
    CHURN_RISK = "churn_risk", "Churn risk detected"
    IDLE_USER = "idle_user", "User idle (30+ days)"
    UPGRADE = "upgrade", "Upgraded plan"
    DOWNGRADE = "downgrade", "Downgraded plan"
    DEVICE_ADDED = "device_added", "Device added"
    SUBSCRIPTION_EXPIRING = "subscription_expiring", "Subscription expiring"


class JourneyType(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    ACTIVATION = "activation", "Activation"
    RETENTION = "retention", "Retention"
    RE_ENGAGEMENT = "re_engagement", "Re-engagement"
    DUNNING = "dunning", "Payment recovery (dunning)"
    CONTENT_MIGRATION = "content_migration", "Content migration"
    LIFECYCLE = "lifecycle", "Lifecycle"
    CUSTOM = "custom", "Custom"


class Journey(FSMModelMixin, models.Model):
    """A journey definition.

    Deleting is soft (``deleted_at``): the journey leaves lists and the API, its runs in flight
    are cancelled, its history stays, and staff can restore it from the admin.

    Transitions (``state``):

    * ``publish``: draft → published, and published → published (freeze the edited steps as a
      new version); the definition must validate as a whole;
    * ``archive``: draft | published → archived (no new enrolments; runs in flight continue);
    * ``restore``: archived → draft.
    """

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    class ReEntry(models.TextChoices):
        ONCE = "once", "Once per participant, ever"
        AFTER_END = "after_end", "Again once the previous run has ended"
        ALWAYS = "always", "Every time the trigger matches"

    class CapPolicy(models.TextChoices):
        SKIP = "skip", "Skip the capped message"
        DEFER = "defer", "Defer it until the cap allows"

    name = models.CharField(max_length=200)
    key = models.CharField(
        max_length=80,
        blank=True,
        validators=[STEP_KEY_VALIDATOR],
        help_text="An optional stable identifier other services use (e.g. content_migration_001).",
    )
    description = models.TextField(blank=True)
    journey_type = models.CharField(max_length=50, choices=JourneyType.choices, default=JourneyType.CUSTOM)
    trigger_type = models.CharField(
        max_length=200,
        blank=True,
        validators=[TRIGGER_TYPE_VALIDATOR],
        help_text="The event type that enrols participants (e.g. signup). Empty: manual/API enrolment only.",
    )
    trigger_conditions = models.JSONField(
        null=True,
        blank=True,
        help_text='A condition over the event: {"field": "payload.plan", "op": "eq", "value": "premium"}.',
    )
    priority = models.IntegerField(default=0, help_text="Higher priority journeys are entered first.")
    re_entry = models.CharField(max_length=16, choices=ReEntry.choices, default=ReEntry.ONCE)
    goal_event = models.CharField(
        max_length=200,
        blank=True,
        validators=[TRIGGER_TYPE_VALIDATOR],
        help_text="When this event arrives, the user journey ends as converted.",
    )
    exit_event = models.CharField(
        max_length=200,
        blank=True,
        validators=[TRIGGER_TYPE_VALIDATOR],
        help_text="When this event arrives, the user journey ends (not converted).",
    )
    quiet_hours_start = models.TimeField(
        null=True, blank=True, help_text="Messages due inside quiet hours wait (participant's local time)."
    )
    quiet_hours_end = models.TimeField(null=True, blank=True)
    cap_policy = models.CharField(
        max_length=8,
        choices=CapPolicy.choices,
        default=CapPolicy.DEFER,
        help_text="What happens to a message over a participant's frequency cap.",
    )
    state = FSMField(max_length=16, choices=State.choices, default=State.DRAFT, protected=True)
    live_version = models.ForeignKey(
        "journeys.JourneyVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    template_name = models.CharField(
        max_length=200, blank=True, help_text="The template it was designed from."
    )
    template_version = models.ForeignKey(
        "journeys.TemplateVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="journeys",
        help_text="The template version it was designed from.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Deleted (hidden from lists and the API); restorable in the admin."
    )
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-priority", "name"]
        constraints = [
            # A deleted journey keeps its name, so a new one may take it; restoring checks again.
            models.UniqueConstraint(
                fields=["name"], condition=Q(deleted_at__isnull=True), name="journey_unique_live_name"
            ),
            models.UniqueConstraint(
                fields=["key"],
                condition=Q(deleted_at__isnull=True) & ~Q(key=""),
                name="journey_unique_live_key",
            ),
        ]
        indexes = [
            models.Index(
                fields=["trigger_type", "-priority"],
                condition=Q(state="published"),
                name="journey_published_trigger",
            ),
        ]
        permissions = [("publish_journey", "Can publish and archive journeys")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        """The 003 API's view of the lifecycle: published means active."""
        return self.state == self.State.PUBLISHED

    @transition(field=state, source=[State.DRAFT, State.PUBLISHED], target=State.PUBLISHED)
    def publish(self, version: "JourneyVersion") -> None:
        self.live_version = version

    @transition(field=state, source=[State.DRAFT, State.PUBLISHED], target=State.ARCHIVED)
    def archive(self) -> None:
        pass

    @transition(field=state, source=State.ARCHIVED, target=State.DRAFT)
    def restore(self) -> None:
        pass


class JourneyVersion(models.Model):
    """An immutable snapshot of a journey's step graph, made when it is published.

    The one exception is a webhook step's signing secret, a credential rather than part of the
    graph: rotating it rewrites it in every version and stamps ``secrets_rotated_at``.

    ``definition`` is the normalised graph (see ``journeys.engine.definition``); ``goal_event``
    and ``exit_event`` are copied out of it so the bus can find runs to end with an index.
    """

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    goal_event = models.CharField(max_length=200, blank=True)
    exit_event = models.CharField(max_length=200, blank=True)
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    secrets_rotated_at = models.DateTimeField(
        null=True, blank=True, help_text="When a webhook step's signing secret was last rotated."
    )

    class Meta:
        ordering = ["journey", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "number"], name="journey_version_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.journey} v{self.number}"


class Step(models.Model):
    """A node of a journey's (draft) graph; its ``key`` is stable across versions (the milestone id).

    Kinds: ``action`` runs an action type; ``wait`` waits a duration or until a local time of
    day; ``wait_for_event`` waits for an event, with a timeout branch; ``manual`` waits for an
    ``advance`` with a step result; ``branch`` picks the first ``next_steps`` entry whose
    condition holds; ``split`` picks a weighted variant, the same one for a participant every
    time; ``end`` ends the user journey.

    Without ``next_steps`` a step is followed by the next one by ``order``.
    """

    class Kind(models.TextChoices):
        ACTION = "action", "Action"
        WAIT = "wait", "Wait"
        WAIT_FOR_EVENT = "wait_for_event", "Wait for an event"
        MANUAL = "manual", "Manual milestone"
        BRANCH = "branch", "Branch"
        SPLIT = "split", "A/B split"
        END = "end", "End"

    class OnFailure(models.TextChoices):
        FAIL = "fail", "Fail the user journey"
        CONTINUE = "continue", "Continue with the next step"

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(max_length=80, validators=[STEP_KEY_VALIDATOR])
    name = models.CharField(max_length=200)
    order = models.IntegerField(default=0)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ACTION)
    action_type = models.CharField(max_length=100, blank=True, help_text="For action steps: what to do.")
    config = models.JSONField(default=dict, blank=True, help_text="The action's or the step kind's settings.")
    condition = models.JSONField(null=True, blank=True, help_text="When false, the step is skipped.")
    next_steps = models.JSONField(
        default=list,
        blank=True,
        help_text='Keys of the next steps, or [{"step": "key", "condition": {...}}]: the first that holds.',
    )
    delay_minutes = models.PositiveIntegerField(default=0, help_text="Wait this long before the step runs.")
    is_milestone = models.BooleanField(default=False)
    experience_api = models.CharField(
        max_length=200,
        blank=True,
        validators=[SERVICE_NAME_VALIDATOR],
        help_text="The service operation that carries this milestone out (the realm's experience_api).",
    )
    personalization = models.CharField(
        max_length=200,
        blank=True,
        validators=[SERVICE_NAME_VALIDATOR],
        help_text="The service operation that personalises this milestone for the participant.",
    )
    session_tracking = models.CharField(
        max_length=200,
        blank=True,
        validators=[SERVICE_NAME_VALIDATOR],
        help_text="The service operation that records the participant's state at this milestone.",
    )
    completion = models.BooleanField(default=False, help_text="Finishing this step completes the journey.")
    max_attempts = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    on_failure = models.CharField(max_length=10, choices=OnFailure.choices, default=OnFailure.FAIL)

    class Meta:
        ordering = ["journey", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "key"], name="step_unique_key_per_journey"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_kind_display()})"
