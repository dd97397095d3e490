"""The exit criteria validator (seed §5 ``ExitCriteriaValidator``): each check of a journey's
current stage, with the value it measured and whether it passes.

The first check is always the stage's unit of work: UC-2 promotes only once "all sandbox tasks
completed". Then the pipeline's criteria for the stage, in order. Only measurements recorded
since the journey last entered the stage count, so a stage re-entered after a rollback must be
measured again.
"""

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone

from journeys.models import Event
from stages.models import ExitCriterion, Measurement, UnitOfWork

if TYPE_CHECKING:
    from stages.models import StagedJourney

WORK_CHECK_KEY = "unit_of_work_completed"
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ExitCriterion.Operator.GT: operator.gt,
    ExitCriterion.Operator.GTE: operator.ge,
    ExitCriterion.Operator.LT: operator.lt,
    ExitCriterion.Operator.LTE: operator.le,
    ExitCriterion.Operator.EQ: operator.eq,
}


@dataclass(frozen=True)
class CheckResult:
    key: str
    label: str
    kind: str
    passed: bool
    measured: Any
    expected: str
    detail: str
    # There is evidence that the check fails (not merely "not measured yet"): what may trigger an
    # automatic rollback.
    violated: bool = False
    triggers_rollback: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "kind": self.kind,
            "measured": self.measured,
            "expected": self.expected,
            "passed": self.passed,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ValidationResult:
    client_id: str
    stage: str
    checks: list[CheckResult]
    evaluated_at: datetime = field(default_factory=timezone.now)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def results_map(self) -> dict[str, bool]:
        """The seed's ``exit_criteria_results: Dict[str, bool]``."""
        return {check.key: check.passed for check in self.checks}

    def summary(self) -> str:
        if self.passed:
            return f"all {len(self.checks)} exit criteria pass"
        names = ", ".join(f"{c.key} ({c.detail})" for c in self.failed)
        return f"{len(self.failed)} of {len(self.checks)} exit criteria fail: {names}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "stage": self.stage,
            "passed": self.passed,
            "checks": [check.as_dict() for check in self.checks],
            "evaluated_at": self.evaluated_at.isoformat(),
        }


def criteria_for(*, pipeline_id: int, stage: str) -> list[ExitCriterion]:
    return list(
        ExitCriterion.objects.filter(pipeline_stage__pipeline_id=pipeline_id, pipeline_stage__stage=stage)
    )


def exit_criteria_evaluate(*, journey: "StagedJourney", now: datetime | None = None) -> ValidationResult:
    """Evaluate every exit check of the journey's current stage (read-only)."""
    now = now or timezone.now()
    checks = [_work_check(journey)]
    criteria = criteria_for(pipeline_id=journey.pipeline_id, stage=journey.stage)
    latest = _latest_measurements(journey)
    for criterion in criteria:
        if criterion.kind == ExitCriterion.Kind.METRIC:
            checks.append(_metric_check(criterion, latest.get((Measurement.Kind.METRIC, criterion.key))))
        elif criterion.kind == ExitCriterion.Kind.APPROVAL:
            checks.append(_approval_check(criterion, latest.get((Measurement.Kind.APPROVAL, criterion.key))))
        else:
            checks.append(_no_events_check(criterion, journey, now))
    return ValidationResult(client_id=journey.client_id, stage=journey.stage, checks=checks, evaluated_at=now)


def _work_check(journey: "StagedJourney") -> CheckResult:
    unit = journey.units_of_work.filter(stage=journey.stage).order_by("-id").first()
    status = unit.status if unit else None
    if unit is None:
        detail = "no unit of work for this stage"
    elif status == UnitOfWork.Status.COMPLETED:
        detail = "every task succeeded"
    else:
        detail = f"the {unit.get_purpose_display().lower()} unit of work is {status}"
    return CheckResult(
        key=WORK_CHECK_KEY,
        label="Stage tasks completed",
        kind="unit_of_work",
        passed=status == UnitOfWork.Status.COMPLETED,
        measured=status,
        expected="completed",
        detail=detail,
    )


def _latest_measurements(journey: "StagedJourney") -> dict[tuple[str, str], Measurement]:
    """The newest measurement per (kind, key) since the journey entered its stage."""
    rows = Measurement.objects.filter(
        journey=journey, stage=journey.stage, recorded_at__gte=journey.stage_entered_at
    ).order_by("kind", "key", "-recorded_at", "-id")
    latest: dict[tuple[str, str], Measurement] = {}
    for row in rows:
        latest.setdefault((row.kind, row.key), row)
    return latest


def _metric_check(criterion: ExitCriterion, measurement: Measurement | None) -> CheckResult:
    expected = criterion.expectation
    if measurement is None:
        return _result(criterion, passed=False, measured=None, detail="not measured in this stage yet")
    compare = OPERATORS.get(criterion.operator)
    passed = bool(
        compare and criterion.threshold is not None and compare(measurement.value, criterion.threshold)
    )
    detail = f"{measurement.value:g} {'meets' if passed else 'misses'} {expected}"
    return _result(criterion, passed=passed, measured=measurement.value, detail=detail, violated=not passed)


def _approval_check(criterion: ExitCriterion, approval: Measurement | None) -> CheckResult:
    if approval is None:
        return _result(criterion, passed=False, measured=None, detail="awaiting approval")
    approved = approval.value >= 1.0
    who = f" by {approval.actor}" if approval.actor else ""
    note = f": {approval.note}" if approval.note else ""
    detail = f"{'approved' if approved else 'rejected'}{who}{note}"
    return _result(criterion, passed=approved, measured=approved, detail=detail, violated=not approved)


def _no_events_check(criterion: ExitCriterion, journey: "StagedJourney", now: datetime) -> CheckResult:
    since = journey.stage_entered_at
    if criterion.window_days:
        since = max(since, now - timedelta(days=criterion.window_days))
    matching = Event.objects.filter(
        event_type_q(criterion.event_type),
        participant_id=journey.participant_id,
        occurred_at__gte=since,
        **payload_filter_lookups(criterion.payload_filter),
    )
    count = matching.count()
    days_observed = (now - journey.stage_entered_at).total_seconds() / 86400
    if count:
        last = matching.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
        detail = f"{count} matching event(s) since {since:%Y-%m-%d %H:%M}, the last at {last:%Y-%m-%d %H:%M}"
        return _result(criterion, passed=False, measured=count, detail=detail, violated=True)
    if criterion.window_days and days_observed < criterion.window_days:
        detail = f"none so far, but only {days_observed:.1f} of {criterion.window_days} days observed"
        return _result(criterion, passed=False, measured=0, detail=detail)
    return _result(criterion, passed=True, measured=0, detail="no matching event")


def _result(criterion: ExitCriterion, *, passed: bool, measured: Any, detail: str, violated: bool = False):
    return CheckResult(
        key=criterion.key,
        label=criterion.label,
        kind=criterion.kind,
        passed=passed,
        measured=measured,
        expected=criterion.expectation,
        detail=detail,
        violated=violated,
        triggers_rollback=criterion.triggers_rollback,
    )


def event_type_q(pattern: str) -> Q:
    """An event type or glob (``*``, ``?``) as a query, portable to SQLite and Postgres."""
    if not any(c in pattern for c in "*?"):
        return Q(type=pattern)
    if pattern.endswith("*") and not any(c in pattern[:-1] for c in "*?"):
        return Q(type__startswith=pattern[:-1])
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return Q(type__regex=f"^{regex}$")


def event_type_matches(pattern: str, event_type: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, event_type) is not None


def payload_filter_lookups(payload_filter: dict[str, Any]) -> dict[str, Any]:
    lookups: dict[str, Any] = {}
    for name, wanted in (payload_filter or {}).items():
        path = "__".join(name.split("."))
        if isinstance(wanted, list):
            lookups[f"payload__{path}__in"] = wanted
        else:
            lookups[f"payload__{path}"] = wanted
    return lookups
