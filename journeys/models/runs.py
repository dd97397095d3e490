"""Runs: a participant's user journey, its step runs, its reward ledger rows and its log."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from journeys.models.loading import LoadedQuickly

LIVE_STATES = ("active", "paused")


class UserJourney(LoadedQuickly, FSMModelMixin, models.Model):
    """One participant's run through one version of a journey.

    Transitions (``state``), each made by a service under a row lock on this row:

    * ``pause``: active → paused (due steps wait; nothing is claimed);
    * ``resume``: paused → active (steps that fell due meanwhile run at once);
    * ``complete``: active | paused → completed (the graph ended, a completion step, the goal
      event, or the exit event);
    * ``fail``: active | paused → failed (a dead-lettered step whose policy is ``fail``);
    * ``reactivate``: failed → active (staff retried or skipped the dead-lettered step);
    * ``cancel``: active | paused | failed → cancelled.

    Re-entry is enforced by the database: ``enrolment_key`` is ``"once"`` for journeys entered
    once per participant (unique per journey and participant), and at most one live run per
    journey and participant exists unless the journey allows overlapping runs (``exclusive``).
    """

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # The foreign keys lead composite indexes (Meta): an index of their own would be one more to
    # write with every enrolment, and no query needs it.
    journey = models.ForeignKey(
        "journeys.Journey", on_delete=models.CASCADE, related_name="user_journeys", db_index=False
    )  # indexed by user_journey_journey
    version = models.ForeignKey("journeys.JourneyVersion", on_delete=models.PROTECT, related_name="runs")
    participant = models.ForeignKey(
        "journeys.Participant", on_delete=models.CASCADE, related_name="user_journeys", db_index=False
    )  # indexed by user_journey_participant
    state = FSMField(max_length=16, choices=State.choices, default=State.ACTIVE, protected=True)
    enrolment_key = models.CharField(max_length=100)
    exclusive = models.BooleanField(default=True)
    current_step = models.CharField(max_length=80, blank=True)
    last_seq = models.PositiveIntegerField(default=0, help_text="The seq of its newest step run.")
    context = models.JSONField(default=dict, blank=True, help_text="Trigger payload and step results.")
    variant = models.CharField(max_length=100, blank=True)
    converted = models.BooleanField(default=False)
    converted_at = models.DateTimeField(null=True, blank=True)
    trigger_event = models.ForeignKey(
        "journeys.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    end_reason = models.CharField(max_length=200, blank=True)
    failure_reason = models.TextField(blank=True)
    started_at = models.DateTimeField()
    paused_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "participant", "enrolment_key"], name="user_journey_unique_enrolment"
            ),
            models.UniqueConstraint(
                fields=["journey", "participant"],
                condition=Q(state__in=LIVE_STATES, exclusive=True),
                name="user_journey_one_live_run",
            ),
        ]
        indexes = [
            models.Index(fields=["participant", "state"], name="user_journey_participant"),
            models.Index(fields=["journey", "state", "started_at"], name="user_journey_journey"),
        ]
        permissions = [
            ("operate_userjourney", "Can pause, resume, cancel, advance and enrol user journeys"),
        ]

    def __str__(self) -> str:
        return f"{self.participant} in {self.journey} ({self.state})"

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES

    @transition(field=state, source=State.ACTIVE, target=State.PAUSED)
    def pause(self, *, at) -> None:
        self.paused_at = at

    @transition(field=state, source=State.PAUSED, target=State.ACTIVE)
    def resume(self) -> None:
        self.paused_at = None

    @transition(field=state, source=[State.ACTIVE, State.PAUSED], target=State.COMPLETED)
    def complete(self, *, at, reason: str, converted: bool = False) -> None:
        self.ended_at = at
        self.end_reason = reason
        self.paused_at = None
        if converted:
            self.converted = True
            self.converted_at = at

    @transition(field=state, source=[State.ACTIVE, State.PAUSED], target=State.FAILED)
    def fail(self, *, at, reason: str) -> None:
        self.ended_at = at
        self.end_reason = "failed"
        self.failure_reason = reason

    @transition(field=state, source=State.FAILED, target=State.ACTIVE)
    def reactivate(self) -> None:
        self.ended_at = None
        self.end_reason = ""
        self.failure_reason = ""

    @transition(field=state, source=[State.ACTIVE, State.PAUSED, State.FAILED], target=State.CANCELLED)
    def cancel(self, *, at, reason: str) -> None:
        self.ended_at = at
        self.end_reason = reason
        self.paused_at = None


class StepRunQuerySet(models.QuerySet):
    def cancel_waiting(self, *, at, reason: str) -> int:
        """pending | scheduled → cancelled, for every run of this queryset still waiting."""
        return self.filter(status__in=[StepRun.Status.PENDING, StepRun.Status.SCHEDULED]).update(
            status=StepRun.Status.CANCELLED, finished_at=at, error=reason, lease_until=None
        )


class StepRun(LoadedQuickly, models.Model):
    """One execution of one step for one user journey (the 003 "step execution").

    ``seq`` numbers the runs of a user journey; ``(user_journey, seq)`` is unique, so two workers
    racing to continue a journey cannot both create its next step. Status:

    * ``pending``: to run as soon as a worker takes it (``due_at`` is when it became runnable);
    * ``scheduled``: waiting until ``due_at`` (a delay, a retry's backoff, a wait's timeout), or
      for ``waiting_for`` (an event type, or ``manual`` for an ``advance``);
    * ``running``: a worker holds it until ``lease_until``; past that the worker is taken for
      dead and the dispatcher claims the run again (``attempts`` counts every claim);
    * ``succeeded`` / ``skipped`` (condition false, capped, or skipped by staff) / ``cancelled``;
    * ``failed``: out of attempts (``dead_lettered_at`` set) or refused for good.

    Transitions, each a method below (the claim, pending | scheduled → running, is one SQL
    statement in ``journeys.engine.claiming``):

    * ``schedule``: pending | running → scheduled (a delay, a wait, a message deferred);
    * ``hand_over``: running | pending | scheduled → pending (a worker runs its action, or
      enters it again once its milestone's services have answered);
    * ``start``: pending | scheduled → running (its action runs in this transaction);
    * ``finish``: any live status → succeeded | skipped | cancelled;
    * ``retry_later``: running → scheduled, with the error, after a backoff;
    * ``dead_letter``: running → failed;
    * ``give_back``: running → pending | scheduled, the claim undone (the journey was paused);
    * ``revive``: failed → scheduled, with a fresh round of attempts (staff retried it);
    * ``StepRun.objects.cancel_waiting``: pending | scheduled → cancelled, set-based.

    ``entered`` is false while the step has not been entered yet (a delay before it, or a
    journey paused before it): entering evaluates its condition and starts its wait.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    # The columns ``give_back`` and ``revive`` change.
    GIVE_BACK_FIELDS = ("status", "attempts", "lease_until")
    REVIVE_FIELDS = ("status", "due_at", "dead_lettered_at", "finished_at", "max_attempts")

    user_journey = models.ForeignKey(
        UserJourney, on_delete=models.CASCADE, related_name="step_runs", db_index=False
    )  # indexed by step_run_unique_seq (its first column)
    participant = models.ForeignKey("journeys.Participant", on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveIntegerField()
    step_key = models.CharField(max_length=80)
    step_kind = models.CharField(max_length=20)
    action_type = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=30, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    entered = models.BooleanField(default=True)
    due_at = models.DateTimeField(null=True, blank=True)
    waiting_for = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    lease_until = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker last claimed it.")
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    # The side effect's request as its first attempt built it (a webhook's JSON body): every
    # retry and every redelivery after a crash sends these exact bytes again.
    request_body = models.TextField(blank=True, default="", editable=False)
    error = models.TextField(blank=True)
    trace = models.JSONField(default=dict, blank=True, help_text="Conditions evaluated, with actual values.")
    dead_lettered_at = models.DateTimeField(null=True, blank=True)
    rolled_back = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = StepRunQuerySet.as_manager()

    class Meta:
        ordering = ["user_journey", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["user_journey", "seq"], name="step_run_unique_seq"),
        ]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(status__in=["pending", "scheduled"]), name="step_run_due"
            ),
            models.Index(fields=["lease_until"], condition=Q(status="running"), name="step_run_lease"),
            models.Index(
                fields=["participant", "waiting_for"],
                condition=Q(status="scheduled") & ~Q(waiting_for=""),
                name="step_run_waiting",
            ),
            models.Index(
                fields=["participant", "channel", "finished_at"],
                condition=~Q(channel=""),
                name="step_run_channel",
            ),
            models.Index(
                fields=["-dead_lettered_at"],
                condition=Q(dead_lettered_at__isnull=False),
                name="step_run_dead",
            ),
        ]
        permissions = [("retry_steprun", "Can retry or skip dead-lettered step runs")]

    def __str__(self) -> str:
        return f"{self.step_key} #{self.seq} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        """What every side effect of this run carries (webhook-id, emitted event key, …)."""
        return f"step-run-{self.pk}"

    @property
    def is_waiting(self) -> bool:
        return self.status == self.Status.SCHEDULED and self.entered

    def schedule(self, *, until) -> None:
        """Wait until ``until`` (``None``: only for what ``waiting_for`` names)."""
        self.status = self.Status.SCHEDULED
        self.due_at = until

    def hand_over(self, *, at) -> None:
        """Leave the run to a worker, due ``at``; it waits for nothing any more."""
        self.status = self.Status.PENDING
        self.due_at = at
        self.waiting_for = ""

    def start(self) -> None:
        self.status = self.Status.RUNNING

    def finish(self, status: str, *, result: dict[str, Any], at) -> None:
        """Succeeded, skipped or cancelled, with its result."""
        if status not in (self.Status.SUCCEEDED, self.Status.SKIPPED, self.Status.CANCELLED):
            raise ValueError(f"a step run does not finish as {status!r}")
        self.status = status
        self.result = result
        self.finished_at = at
        self.lease_until = None
        if self.due_at is None:
            self.due_at = at

    def defer(self, *, until, trace: dict[str, Any] | None) -> None:
        """Its message waits (quiet hours, a frequency cap): not a failed try."""
        self.schedule(until=until)
        self.attempts = max(self.attempts - 1, 0)
        self.lease_until = None
        self.trace = {**self.trace, "deferred": [*self.trace.get("deferred", []), trace]}

    def retry_later(self, *, error: str, at) -> None:
        self.error = error
        self.lease_until = None
        self.schedule(until=at)

    def dead_letter(self, *, error: str, at) -> None:
        """Out of attempts, or refused for good."""
        self.error = error
        self.lease_until = None
        self.status = self.Status.FAILED
        self.finished_at = at
        self.dead_lettered_at = at
        if self.due_at is None:
            self.due_at = at

    def give_back(self) -> None:
        """Undo a claim: the run waits as it did, and the claim counts no attempt."""
        self.status = self.Status.SCHEDULED if self.entered else self.Status.PENDING
        self.attempts = max(self.attempts - 1, 0)
        self.lease_until = None

    def revive(self, *, at, attempts: int) -> None:
        """A dead-lettered run gets ``attempts`` more tries, the first due ``at``."""
        self.schedule(until=at)
        self.dead_lettered_at = None
        self.finished_at = None
        self.max_attempts = self.attempts + attempts

    @property
    def lag_seconds(self) -> float | None:
        """Dispatch lag: how late a worker took the run after it fell due."""
        if self.executed_at and self.due_at:
            return max((self.executed_at - self.due_at).total_seconds(), 0.0)
        return None


class RewardLedger(models.Model):
    """A reward granted by a step run: one row per step run, so a retried grant never pays twice."""

    step_run = models.OneToOneField(StepRun, on_delete=models.PROTECT, related_name="reward")
    participant = models.ForeignKey("journeys.Participant", on_delete=models.CASCADE, related_name="rewards")
    reward = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    unit = models.CharField(max_length=20, blank=True, help_text="points, credits, EUR…")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["participant", "created_at"], name="reward_participant")]

    def __str__(self) -> str:
        return f"{self.reward} {self.amount} {self.unit} → {self.participant}"


class UserJourneyLog(models.Model):
    """The audit trail of a user journey: transitions and staff actions, with who did them."""

    user_journey = models.ForeignKey(UserJourney, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField()
    action = models.CharField(max_length=50)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16, blank=True)
    step_key = models.CharField(max_length=80, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["user_journey", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}→{self.to_state}"
