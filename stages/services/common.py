"""What the journey services share: the row lock, history rows, validation memory, refusals,
the auto-promotion channel."""

from django.utils import timezone

from journeys.errors import Conflict, ValidationFailed
from journeys.queue import Channel
from stages import metrics
from stages.criteria import ValidationResult
from stages.models import StagedJourney, StageTransition, UnitOfWork

SYSTEM = "system"
CLIENT_ID_MAX = 255
REASON_MAX = 2000
OPEN_UNIT_STATUSES = (UnitOfWork.Status.PENDING, UnitOfWork.Status.RUNNING, UnitOfWork.Status.FAILED)

# Journeys whose gate to check after commit (new evidence, a unit of work done). Not a leased
# queue: a lost message only waits for beat's periodic check of every such journey.
AUTO_PROMOTIONS = Channel(name="staged journey auto-promotions", chunk=1)


def journey_lock(journey_pk: int) -> StagedJourney:
    return StagedJourney.objects.select_for_update().get(pk=journey_pk)


def validation_remember(
    journey: StagedJourney, validation: ValidationResult, *, only_if_changed: bool = False
) -> None:
    new = validation.as_dict()
    if only_if_changed and journey.last_validation.get("checks") == new["checks"]:
        return
    journey.last_validation = new
    journey.last_validated_at = validation.evaluated_at
    journey.save(update_fields=["last_validation", "last_validated_at", "updated_at"])


def history_write(
    journey: StagedJourney,
    *,
    kind: str,
    from_stage: str,
    to_stage: str,
    actor: str = SYSTEM,
    automatic: bool = False,
    reason: str = "",
    validation: ValidationResult | None = None,
) -> StageTransition:
    metrics.STAGE_TRANSITIONS.labels(kind=kind, to_stage=to_stage).inc()
    return StageTransition.objects.create(
        journey=journey,
        kind=kind,
        from_stage=from_stage,
        to_stage=to_stage,
        actor=actor or SYSTEM,
        automatic=automatic,
        reason=reason,
        exit_criteria_results=[c.as_dict() for c in validation.checks] if validation else [],
        transitioned_at=timezone.now(),
    )


def reason_clean(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": ["Say why (it is kept in the journey's history)."]})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": [f"At most {REASON_MAX} characters."]})
    return reason


def invalid_transition(journey: StagedJourney, action: str, reason: str) -> Conflict:
    return Conflict(
        f"Cannot {action} a journey in {journey.stage}: {reason}",
        code="invalid_transition",
        current_stage=journey.stage,
        reason=reason,
    )
