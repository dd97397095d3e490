"""Units of work (seed §3.1 ``UnitOfWork``) and their tasks, run on Celery in dependency order."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from stages.models.stages import Stage


class UnitOfWork(ConcurrentTransitionMixin, models.Model):
    """The tasks run for one stage change of one journey: setup when a stage is entered, rollback
    when a journey rolls back (``stage`` is the stage the work leads to, as in the seed).

    Transitions: ``start`` pending → running; ``succeed`` running → completed (only when every
    task succeeded); ``fail`` running → failed (a task exhausted its retries); ``retry`` failed →
    running (``retry_failed_tasks``); ``cancel`` pending | running | failed → cancelled.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Purpose(models.TextChoices):
        SETUP = "setup", "Setup"
        ROLLBACK = "rollback", "Rollback"

    work_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    journey = models.ForeignKey(
        "stages.StagedJourney", on_delete=models.CASCADE, related_name="units_of_work"
    )
    stage = models.CharField(max_length=20, choices=Stage.choices)
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.SETUP)
    status = FSMField(max_length=20, choices=Status.choices, default=Status.PENDING, protected=True)
    round = models.PositiveSmallIntegerField(
        default=1, help_text="1 + how many times failed tasks were retried."
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "unit of work"
        verbose_name_plural = "units of work"
        indexes = [models.Index(fields=["journey", "stage"], name="unit_of_work_journey_stage")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} → {self.stage} ({self.status})"

    @property
    def client_id(self) -> str:
        return self.journey.client_id

    @property
    def is_open(self) -> bool:
        return self.status in {self.Status.PENDING, self.Status.RUNNING, self.Status.FAILED}

    @transition(field=status, source=Status.PENDING, target=Status.RUNNING)
    def start(self) -> None:
        self.started_at = timezone.now()

    @transition(field=status, source=[Status.PENDING, Status.RUNNING], target=Status.COMPLETED)
    def succeed(self) -> None:
        self.finished_at = timezone.now()

    @transition(field=status, source=Status.RUNNING, target=Status.FAILED)
    def fail(self) -> None:
        self.finished_at = timezone.now()

    @transition(field=status, source=Status.FAILED, target=Status.RUNNING)
    def retry(self) -> None:
        self.round += 1
        self.finished_at = None

    @transition(field=status, source=[Status.PENDING, Status.RUNNING, Status.FAILED], target=Status.CANCELLED)
    def cancel(self) -> None:
        self.finished_at = timezone.now()


class WorkTask(models.Model):
    """One task of a unit of work (seed §3.2 ``Task``). ``key`` names it inside its unit (what
    ``depends_on`` refers to); ``task_id`` names it everywhere else (API, events).

    Status moves by compare-and-swap updates, never by a read-modify-write:

    * ``pending``: a dependency has not succeeded yet;
    * ``queued``: ready; a worker may claim it once ``next_attempt_at`` has passed;
    * ``running``: claimed by a worker until ``lease_until`` (past it, the worker is presumed dead
      and the sweeper lets another one claim it);
    * ``waiting``: started, its outcome comes later through the API (manual tasks, agents that
      answered 202);
    * ``needs_configuration``: its agent is missing, inactive or without an endpoint; queued
      again when the agent is configured (``error`` says what is missing);
    * ``succeeded`` / ``failed`` (retries exhausted) / ``cancelled``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (dependencies)"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for completion"
        NEEDS_CONFIGURATION = "needs_configuration", "Needs configuration (its agent)"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (
        Status.PENDING,
        Status.QUEUED,
        Status.RUNNING,
        Status.WAITING,
        Status.NEEDS_CONFIGURATION,
    )

    task_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    unit = models.ForeignKey(UnitOfWork, on_delete=models.CASCADE, related_name="tasks")
    key = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    agent_id = models.CharField(max_length=100, blank=True)
    intent = models.CharField(max_length=100)
    params = models.JSONField(default=dict, blank=True)
    depends_on = models.JSONField(default=list, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    retry_count = models.PositiveSmallIntegerField(default=0, help_text="Failed attempts so far this round.")
    max_retries = models.PositiveSmallIntegerField(default=3)
    retry_backoff_seconds = models.FloatField(default=5.0)
    attempts = models.PositiveIntegerField(default=0, help_text="Claims by a worker, all rounds.")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["unit", "position", "id"]
        verbose_name = "task"
        constraints = [
            models.UniqueConstraint(fields=["unit", "key"], name="work_task_unique_key_per_unit"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="queued"), name="work_task_queued_due"
            ),
            models.Index(
                fields=["lease_until"], condition=Q(status="running"), name="work_task_running_lease"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        """Sent with every side effect of the task; the same on every retry."""
        return f"stages-task-{self.task_id}"
