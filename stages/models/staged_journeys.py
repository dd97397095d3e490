"""A client's staged journey (the aggregate, seed §3.1), its history, snapshots and measurements."""

from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import GET_STATE, ConcurrentTransitionMixin, FSMField, transition

from stages.models.stages import ACTIVE_STAGES, PREVIOUS_STAGE, Stage

if TYPE_CHECKING:
    from stages.criteria import ValidationResult

REASON_FORM = "stages.forms.ReasonForm"


class StagedJourney(ConcurrentTransitionMixin, models.Model):
    """A client's way from Sandbox to Production, keyed by ``client_id``.

    Transitions (``stage``, changed only through these methods; services lock the row first):

    * ``promote_to_pilot``: sandbox → pilot, ``promote_to_production``: pilot → production,
      ``complete``: production → completed; each only when every exit criterion of the current
      stage passes (``exit_criteria_passed``). There is no other way forward, so no stage can be
      skipped.
    * ``initiate_rollback``: pilot | production → rollback (transient, while the rollback unit of
      work runs); ``complete_rollback``: rollback → the stage before the one rolled back from.
    * ``cancel``: any active stage → cancelled.

    A client has at most one active (not completed, not cancelled) journey: a constraint.
    """

    Stage = Stage

    client_id = models.CharField(max_length=255, db_index=True)
    participant = models.ForeignKey(
        "journeys.Participant", on_delete=models.PROTECT, related_name="staged_journeys"
    )
    pipeline = models.ForeignKey("stages.Pipeline", on_delete=models.PROTECT, related_name="journeys")
    stage = FSMField(max_length=20, choices=Stage.choices, default=Stage.SANDBOX, protected=True)
    rollback_from = models.CharField(
        max_length=20, choices=Stage.choices, blank=True, help_text="While rolling back: the stage left."
    )
    started_at = models.DateTimeField(default=timezone.now)
    stage_entered_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(blank=True)
    started_by = models.CharField(max_length=150, blank=True)
    last_validation = models.JSONField(default=dict, blank=True, editable=False)
    last_validated_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "staged journey"
        constraints = [
            models.UniqueConstraint(
                fields=["client_id"],
                condition=Q(stage__in=ACTIVE_STAGES),
                name="staged_journey_one_active_per_client",
            ),
        ]
        indexes = [models.Index(fields=["stage", "stage_entered_at"], name="staged_journey_stage")]
        permissions = [
            ("promote_stagedjourney", "Can promote a staged journey"),
            ("rollback_stagedjourney", "Can roll back a staged journey"),
            ("cancel_stagedjourney", "Can cancel a staged journey"),
            ("record_approval", "Can record approvals of exit criteria"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} · {self.get_stage_display()}"

    @property
    def is_active(self) -> bool:
        return self.stage in ACTIVE_STAGES

    @property
    def rollback_target(self) -> str | None:
        """The stage a rollback from the current (or rolled-back-from) stage returns to."""
        return PREVIOUS_STAGE.get(self.rollback_from or self.stage)

    def time_in_stage(self, now=None):
        return ((self.ended_at or now or timezone.now()) - self.stage_entered_at).total_seconds()

    # --- guards -----------------------------------------------------------------------------
    def exit_criteria_passed(self) -> bool:
        """The exit gate. Services evaluate the criteria under the row lock and hand the result
        over in ``_validation``; anything else (the admin's buttons) evaluates them here."""
        from stages.criteria import exit_criteria_evaluate

        result: ValidationResult | None = getattr(self, "_validation", None)
        if result is None or result.stage != self.stage:
            result = exit_criteria_evaluate(journey=self)
            self._validation = result
        return result.passed

    # --- transitions (in-memory only; services save, write history and emit events) ----------
    def _enter(self) -> None:
        self.stage_entered_at = timezone.now()

    @transition(
        field=stage,
        source=Stage.SANDBOX,
        target=Stage.PILOT,
        conditions=[exit_criteria_passed],
        permission="stages.promote_stagedjourney",
        custom={"label": "Promote to Pilot", "help_text": "Every sandbox exit criterion passes."},
    )
    def promote_to_pilot(self) -> None:
        self._enter()

    @transition(
        field=stage,
        source=Stage.PILOT,
        target=Stage.PRODUCTION,
        conditions=[exit_criteria_passed],
        permission="stages.promote_stagedjourney",
        custom={"label": "Promote to Production", "help_text": "Every pilot exit criterion passes."},
    )
    def promote_to_production(self) -> None:
        self._enter()

    @transition(
        field=stage,
        source=Stage.PRODUCTION,
        target=Stage.COMPLETED,
        conditions=[exit_criteria_passed],
        permission="stages.promote_stagedjourney",
        custom={"label": "Complete", "help_text": "Every production success criterion passes."},
    )
    def complete(self) -> None:
        self._enter()
        self.ended_at = self.stage_entered_at

    @transition(
        field=stage,
        source=[Stage.PILOT, Stage.PRODUCTION],
        target=Stage.ROLLBACK,
        permission="stages.rollback_stagedjourney",
        custom={"label": "Roll back", "form": REASON_FORM, "help_text": "Back to the previous stage."},
    )
    def initiate_rollback(self, reason: str = "") -> None:
        self.rollback_from = self.stage
        self._enter()

    @transition(
        field=stage,
        source=Stage.ROLLBACK,
        target=GET_STATE(
            lambda self, *a, **kw: PREVIOUS_STAGE[self.rollback_from], [Stage.SANDBOX, Stage.PILOT]
        ),
        custom={"admin": False},
    )
    def complete_rollback(self) -> None:
        # ``rollback_from`` is still needed here: GET_STATE reads it after this body runs.
        self._enter()

    @transition(
        field=stage,
        source=list(ACTIVE_STAGES),
        target=Stage.CANCELLED,
        permission="stages.cancel_stagedjourney",
        custom={"label": "Cancel journey", "form": REASON_FORM},
    )
    def cancel(self, reason: str = "") -> None:
        self._enter()
        self.ended_at = self.stage_entered_at
        self.end_reason = reason


class StageTransition(models.Model):
    """One immutable line of a journey's history (seed §3.2 ``StageTransition``), with the exit
    criteria results behind it. A refused promotion is recorded too (``promotion_refused``,
    from = to), so staff can see every failed gate."""

    class Kind(models.TextChoices):
        STARTED = "started", "Started"
        PROMOTED = "promoted", "Promoted"
        PROMOTION_REFUSED = "promotion_refused", "Promotion refused"
        ROLLBACK_INITIATED = "rollback_initiated", "Rollback initiated"
        ROLLBACK_COMPLETED = "rollback_completed", "Rollback completed"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    journey = models.ForeignKey(StagedJourney, on_delete=models.CASCADE, related_name="transitions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    reason = models.TextField(blank=True)
    exit_criteria_results = models.JSONField(default=list, blank=True)
    actor = models.CharField(max_length=150, default="system")
    automatic = models.BooleanField(default=False)
    transitioned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["journey", "id"]
        indexes = [models.Index(fields=["transitioned_at"], name="stage_transition_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.from_stage or '∅'} → {self.to_stage}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("Stage transitions are immutable history; write a new one instead.")
        super().save(*args, **kwargs)

    @property
    def event_idempotency_key(self) -> str:
        return f"stages:transition:{self.pk}"


class Snapshot(models.Model):
    """The journey as it was just before a rollback: its state, the measurements of the stage it
    left and its units of work. Kept so staff can see what the rollback undid."""

    journey = models.ForeignKey(StagedJourney, on_delete=models.CASCADE, related_name="snapshots")
    transition = models.OneToOneField(
        StageTransition, on_delete=models.CASCADE, related_name="snapshot", null=True, blank=True
    )
    stage = models.CharField(max_length=20, choices=Stage.choices)
    state = models.JSONField(default=dict)
    measurements = models.JSONField(default=list)
    units_of_work = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Snapshot of {self.journey.client_id} in {self.stage} at {self.created_at:%Y-%m-%d %H:%M}"


class Measurement(models.Model):
    """A measured value (``metric``) or a yes/no (``approval``: 1.0 or 0.0) for a criterion key,
    recorded while the journey was in ``stage``. Only those recorded since the journey last
    entered its stage count, so a rolled-back stage is measured afresh."""

    class Kind(models.TextChoices):
        METRIC = "metric", "Metric"
        APPROVAL = "approval", "Approval"

    journey = models.ForeignKey(StagedJourney, on_delete=models.CASCADE, related_name="measurements")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=100)
    value = models.FloatField()
    actor = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)
    source = models.CharField(max_length=20, default="api")
    # The bus event it came from (several measurements may share one): a re-delivered event is
    # recognised and recorded once.
    event = models.ForeignKey(
        "journeys.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["journey", "stage", "key", "recorded_at"], name="measurement_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.key} = {self.value:g}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "value": self.value,
            "actor": self.actor,
            "note": self.note,
            "source": self.source,
            "recorded_at": self.recorded_at.isoformat(),
        }
