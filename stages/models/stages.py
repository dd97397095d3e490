"""The stage vocabulary (seed §3.2 ``JourneyStage``) and its fixed order."""

from django.db import models


class Stage(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox"
    PILOT = "pilot", "Pilot"
    PRODUCTION = "production", "Production"
    ROLLBACK = "rollback", "Rolling back"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


# The stages a pipeline configures (exit criteria, units of work), in their only allowed order.
PIPELINE_STAGES: tuple[str, ...] = (Stage.SANDBOX, Stage.PILOT, Stage.PRODUCTION)
NEXT_STAGE: dict[str, str] = {
    Stage.SANDBOX: Stage.PILOT,
    Stage.PILOT: Stage.PRODUCTION,
    Stage.PRODUCTION: Stage.COMPLETED,
}
PREVIOUS_STAGE: dict[str, str] = {Stage.PILOT: Stage.SANDBOX, Stage.PRODUCTION: Stage.PILOT}
ACTIVE_STAGES: tuple[str, ...] = (Stage.SANDBOX, Stage.PILOT, Stage.PRODUCTION, Stage.ROLLBACK)
CLOSED_STAGES: tuple[str, ...] = (Stage.COMPLETED, Stage.CANCELLED)
PIPELINE_STAGE_CHOICES = [(value, label) for value, label in Stage.choices if value in PIPELINE_STAGES]
