from django.db import models
from django.db.models import Q
from django.utils import timezone

from journeys.models.loading import LoadedQuickly


class Event(LoadedQuickly, models.Model):
    """An immutable fact about a participant, ingested from outside or emitted inside.

    The fact itself (type, participant, payload, times, source, idempotency key) never changes.
    The processing columns record how the bus handled it:

    * ``pending``: waiting for a worker. ``next_attempt_at`` is when the sweeper will dispatch it
      again if no message does it first (a lost on-commit dispatch, a retry after a failure).
    * ``processing``: a worker holds it until ``lease_until``; past that the worker is taken for
      dead and the sweeper hands the event to another one.
    * ``processed``: every subscriber succeeded (``subscriber_results`` says which ran).
    * ``failed``: a subscriber still failed after ``EVENT_MAX_ATTEMPTS`` tries (dead letter; staff
      can re-process it from the admin).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    type = models.CharField(max_length=200)
    participant = models.ForeignKey(
        "journeys.Participant", on_delete=models.CASCADE, related_name="events", db_index=False
    )  # indexed by event_participant_time (its first column)
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    source = models.CharField(max_length=100, default="api")
    # NULL, not "", means "no key": the uniqueness constraint ignores NULLs.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # sha256 of what the sender sent under its idempotency key (type, user, payload, occurred_at):
    # a repeat with the same fingerprint is a duplicate, with another one a conflict (409).
    fingerprint = models.CharField(max_length=64, blank=True, default="", editable=False)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    subscriber_results = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="event_unique_idempotency_key_per_source",
            ),
        ]
        indexes = [
            models.Index(fields=["participant", "occurred_at"], name="event_participant_time"),
            models.Index(fields=["type", "received_at"], name="event_type_received"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="event_pending_due",
            ),
            models.Index(
                fields=["lease_until"],
                condition=Q(status="processing"),
                name="event_processing_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"
