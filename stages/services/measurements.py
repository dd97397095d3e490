"""Evidence for the exit criteria: measurements and approvals of the journey's current stage.
New evidence is reacted to at once: a rollback if a rollback-triggering criterion now fails,
else (after commit) another look at the gate for stages that promote automatically."""

from django.db import transaction

from journeys.errors import ValidationFailed
from stages.criteria import exit_criteria_evaluate
from stages.models import PIPELINE_STAGES, ExitCriterion, Measurement, StagedJourney
from stages.services.common import AUTO_PROMOTIONS, invalid_transition, journey_lock, validation_remember
from stages.services.rollback import rollback_if_triggered


@transaction.atomic
def measurements_record(
    *,
    journey: StagedJourney,
    values: dict[str, float],
    actor: str = "",
    source: str = "api",
    event_id: int | None = None,
) -> tuple[StagedJourney, list[Measurement]]:
    """Record metric values for the current stage's criteria, then react: an automatic rollback
    if one now fails a rollback-triggering criterion, else an automatic promotion check."""
    journey = journey_lock(journey.pk)
    _require_measurable(journey)
    known = _criteria_keys(journey, ExitCriterion.Kind.METRIC)
    errors = {
        f"values.{key}": [_unknown_key(key, journey, known, "metric")] for key in values if key not in known
    }
    if not values:
        errors["values"] = ["Send at least one measurement."]
    if errors:
        raise ValidationFailed(errors)
    rows = [
        Measurement(
            journey=journey,
            stage=journey.stage,
            kind=Measurement.Kind.METRIC,
            key=key,
            value=float(value),
            actor=actor,
            source=source,
            event_id=event_id,
        )
        for key, value in values.items()
    ]
    Measurement.objects.bulk_create(rows)
    _react(journey)
    return journey, rows


@transaction.atomic
def approval_record(
    *,
    journey: StagedJourney,
    key: str,
    approved: bool,
    actor: str,
    note: str = "",
    source: str = "api",
    event_id: int | None = None,
) -> tuple[StagedJourney, Measurement]:
    """Record a yes (or a no) for an approval criterion of the current stage, then react."""
    journey = journey_lock(journey.pk)
    _require_measurable(journey)
    known = _criteria_keys(journey, ExitCriterion.Kind.APPROVAL)
    if key not in known:
        raise ValidationFailed({"key": [_unknown_key(key, journey, known, "approval")]})
    row = Measurement.objects.create(
        journey=journey,
        stage=journey.stage,
        kind=Measurement.Kind.APPROVAL,
        key=key,
        value=1.0 if approved else 0.0,
        actor=actor,
        note=note,
        source=source,
        event_id=event_id,
    )
    _react(journey)
    return journey, row


def _react(journey: StagedJourney) -> None:
    """After new evidence: keep the criteria status current (the admin shows it at a glance),
    roll back if a rollback-triggering criterion now fails, else check the gate again."""
    validation = exit_criteria_evaluate(journey=journey)
    validation_remember(journey, validation, only_if_changed=True)
    if rollback_if_triggered(journey, validation):
        return
    AUTO_PROMOTIONS.enqueue_on_commit([journey.pk])


def _require_measurable(journey: StagedJourney) -> None:
    if journey.stage not in PIPELINE_STAGES:
        raise invalid_transition(
            journey, "measure", "Measurements are recorded for a journey in sandbox, pilot or production."
        )


def _criteria_keys(journey: StagedJourney, kind: str) -> list[str]:
    return list(
        ExitCriterion.objects.filter(
            pipeline_stage__pipeline_id=journey.pipeline_id, pipeline_stage__stage=journey.stage, kind=kind
        ).values_list("key", flat=True)
    )


def _unknown_key(key: str, journey: StagedJourney, known: list[str], kind: str) -> str:
    expected = ", ".join(known) if known else "none"
    return f"{key!r} is not a {kind} criterion of {journey.stage} (expected one of: {expected})."
