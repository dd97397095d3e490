"""A milestone's directory services, called when the milestone is reached.

A step may name up to three service operations (the journey realm's milestone fields). The
walker asks ``milestone_services_gate`` before it starts the step's own behaviour (a manual
milestone's wait, an action's messages), and the calls run in this order:

1. ``personalization``: its answer is merged into the context (``context.personalization``)
   before the step's messages render (templates read ``{{ personalization.display_name }}``);
2. ``experience_api``: called with the participant's context and the personalization; its
   answer lands in ``context.services.<milestone>.experience_api`` for ``next_steps``
   conditions to branch on;
3. ``session_tracking``: records the participant's state at the milestone (also kept on the
   run's trace and in the timeline).

When every service is built-in, they answer at once, in the walker's transaction. Otherwise the
step run waits (``waiting_for = "services"``; an advance is refused meanwhile) while
``ServiceCall`` rows are tried by a worker, each signed, SSRF-guarded and retried with backoff
like a webhook step, every try logged. The calls are a durable queue (``SERVICE_CALLS``, the kit
in ``journeys.queue``): a call is due once the one before it has answered (its
``next_attempt_at`` is empty until then), claimed with a lease, retried with backoff, swept.
When the last one has answered, the run is handed back to the dispatcher, which enters the step
again and finds the answers on its trace. An unknown service, one that needs configuration, or
one out of attempts fails the step with that reason.
"""

import copy
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from journeys.errors import DomainError
from journeys.models import Service, ServiceCall, ServiceCallAttempt, StepRun
from journeys.queue import Backoff, Queue
from journeys.services.directory import ServiceUnavailable, service_call, service_resolve
from journeys.webhooks import DeliveryFailed

if TYPE_CHECKING:
    from journeys.engine.definition import StepDef
    from journeys.engine.runner import Walker

logger = logging.getLogger(__name__)

ROLES = ("personalization", "experience_api", "session_tracking")  # the order they are called in
WAITING_FOR = "services"
LEASE_SECONDS = 60  # a worker holds a call this long; past it the sweeper may take it again
SWEEP_BATCH = 500  # runs whose calls are re-enqueued per sweep
SWEEP_AFTER_SECONDS = 10  # a due call not taken by then lost its message

SERVICE_CALLS = Queue(
    name="milestone service calls",
    model=ServiceCall,
    waiting=Q(status=ServiceCall.Status.PENDING, lease_until__isnull=True),
    due_field="next_attempt_at",  # empty until the call before it has answered
    held=Q(status=ServiceCall.Status.PENDING, lease_until__isnull=False),
    lease_field="lease_until",
    lease_seconds=LEASE_SECONDS,
    chunk=1,  # one call per message: a run's calls go one after the other
    sweep_batch=SWEEP_BATCH,
    # The backoff of a step's retries (a webhook step's), from the same settings.
    backoff=Backoff(
        base=lambda: settings.STEP_RETRY_BASE_SECONDS, cap=lambda: settings.STEP_RETRY_MAX_SECONDS
    ),
)


@dataclass(frozen=True)
class ServicesGate:
    """What the walker does next: go on, wait for the calls, or fail the step with a reason."""

    waits: bool = False
    failure: str = ""


def step_services(step: "StepDef") -> list[tuple[str, str]]:
    named = dict(step.services)
    return [(role, named[role]) for role in ROLES if named.get(role)]


def milestone_services_gate(walker: "Walker", run: StepRun, step: "StepDef") -> ServicesGate:
    """Call the step's services (or start calling them) unless they have answered already."""
    done = run.trace.get("services")
    if done is not None:
        return ServicesGate(failure=done.get("failed", ""))
    try:
        resolved = [(role, ref, *service_resolve(ref)) for role, ref in step_services(step)]
    except ServiceUnavailable as exc:
        run.trace = {**run.trace, "services": {"failed": exc.message}}
        return ServicesGate(failure=f"Milestone service unavailable: {exc.message}")
    if run.pk is None:
        run.save()  # the calls reference the run
    calls = ServiceCall.objects.bulk_create(
        [
            ServiceCall(
                user_journey=walker.uj,
                step_run=run,
                step_key=step.key,
                role=role,
                position=position,
                reference=ref,
                service=service,
                operation=operation,
                max_attempts=step.max_attempts,
                next_attempt_at=walker.now if position == 0 else None,
            )
            for position, (role, ref, service, operation) in enumerate(resolved)
        ]
    )
    if all(service.kind == Service.Kind.BUILT_IN for _, _, service, _ in resolved):
        return _answer_inline(walker, run, step, calls)
    run.entered = False  # entered again once the calls have answered
    run.waiting_for = WAITING_FOR
    SERVICE_CALLS.enqueue_on_commit([calls[0].pk])
    return ServicesGate(waits=True)


def _answer_inline(walker: "Walker", run: StepRun, step: "StepDef", calls: list[ServiceCall]) -> ServicesGate:
    """Built-in services answer at once; their calls are recorded like any other."""
    answers: dict[str, Any] = {}
    for call in calls:
        call.request = call_body(walker.uj, run, call, answers)
        call.attempts = 1
        try:
            answer = service_call(service=call.service, body=call.request, message_id=call.idempotency_key)
        except Exception as exc:
            error = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
            _finish(call, status=ServiceCall.Status.FAILED, error=error)
            ServiceCallAttempt.objects.create(call=call, at=timezone.now(), error=error)
            run.trace = {**run.trace, "services": {"failed": error}}
            return ServicesGate(failure=f"Milestone service {call.reference} failed: {error}")
        response = copy.deepcopy(answer.body)  # a handler may hand back parts of the request
        _finish(call, status=ServiceCall.Status.SUCCEEDED, response=response)
        ServiceCallAttempt.objects.create(call=call, at=timezone.now(), duration_ms=answer.duration_ms)
        answers[call.role] = response
    walker.uj.context = _merged(walker.uj.context, step.key, answers)
    run.trace = {**run.trace, "services": _trace(calls)}
    return ServicesGate()


def call_body(user_journey, run: StepRun, call: ServiceCall, answers: dict[str, Any]) -> dict[str, Any]:
    """What a service receives: the operation, the milestone, the participant and their context."""
    participant = user_journey.participant
    context = user_journey.context or {}
    body = {
        "operation": call.operation,
        "service": call.service.key if call.service else "",
        "role": call.role,
        "milestone": call.step_key,
        "journey_id": user_journey.journey_id,
        "user_journey_id": user_journey.pk,
        "user_id": participant.user_id,
        "participant": {"attributes": participant.attributes, "tags": participant.tags},
        "context": {
            key: context[key] for key in ("payload", "steps", "services", "personalization") if key in context
        },
    }
    if "personalization" in answers:
        body["personalization"] = answers["personalization"]
    if call.role == ServiceCall.Role.SESSION_TRACKING:
        body["state"] = {
            "milestone": call.step_key,
            "state": user_journey.state,
            "step_run": run.pk,
            "at": timezone.now().isoformat(),
            "answers": copy.deepcopy(answers),
        }
    return body


def _merged(context: dict[str, Any], step_key: str, answers: dict[str, Any]) -> dict[str, Any]:
    services = {**context.get("services", {}), step_key: answers}
    merged = {**context, "services": services}
    if "personalization" in answers:
        merged["personalization"] = {**context.get("personalization", {}), **answers["personalization"]}
    return merged


def _trace(calls: list[ServiceCall]) -> dict[str, Any]:
    return {
        "calls": [{"role": c.role, "service": c.reference, "call": c.pk, "status": c.status} for c in calls]
    }


def _finish(call: ServiceCall, *, status: str, response: dict | None = None, error: str = "") -> None:
    call.status = status
    call.response = response or {}
    call.error = error[:2000]
    call.finished_at = timezone.now()
    call.lease_until = None
    call.save()


# ----------------------------------------------------------------------------------------------
# The worker side: one call at a time, in order
# ----------------------------------------------------------------------------------------------
def _claim(call_id: int) -> ServiceCall | None:
    """Take the call if it is due (or its worker's lease ran out) and nobody holds it; a call
    whose run stopped waiting (cancelled, skipped) fails with the others still pending."""
    now = timezone.now()
    call = ServiceCall.objects.filter(pk=call_id).only("step_run_id").first()
    if call is None:
        return None
    waiting = StepRun.objects.filter(
        pk=call.step_run_id, status=StepRun.Status.SCHEDULED, waiting_for=WAITING_FOR
    )
    if not waiting.exists():  # nobody waits for the answers any more
        ServiceCall.objects.filter(step_run_id=call.step_run_id, status=ServiceCall.Status.PENDING).update(
            status=ServiceCall.Status.FAILED,
            error="The milestone's run stopped waiting for it.",
            finished_at=now,
        )
        return None
    claimable = (SERVICE_CALLS.due(now) | SERVICE_CALLS.expired(now)) & Q(pk=call_id)
    if not SERVICE_CALLS.claim(claimable, now=now, attempts=F("attempts") + 1):
        return None
    return ServiceCall.objects.select_related("service", "user_journey__participant", "step_run").get(
        pk=call_id
    )


def milestone_call_execute(*, call_id: int) -> str:
    """Try a due call; record the try; go on with the run's next call, retry later, or hand the
    run back to the walker. Returns what happened."""
    call = _claim(call_id)
    if call is None:
        return "skipped"
    if not call.request:
        answers = dict(
            ServiceCall.objects.filter(
                step_run_id=call.step_run_id, status=ServiceCall.Status.SUCCEEDED
            ).values_list("role", "response")
        )
        call.request = call_body(call.user_journey, call.step_run, call, answers)
        ServiceCall.objects.filter(pk=call.pk).update(request=call.request)
    status_code, error, duration, answer, permanent = None, "", None, {}, False
    try:
        service = Service.objects.get(pk=call.service_id) if call.service_id else None
        if service is None:
            raise ServiceUnavailable(
                f"The service named by {call.reference!r} was removed from the directory."
            )
        sent = service_call(service=service, body=call.request, message_id=call.idempotency_key)
        status_code, duration, answer = sent.status_code, sent.duration_ms, sent.body
    except DeliveryFailed as exc:
        status_code, error = exc.status_code, str(exc)
    except DomainError as exc:  # refused target, needs configuration: trying again will not help
        error, permanent = exc.message, True
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    return _record(
        call, status_code=status_code, error=error, duration=duration, answer=answer, permanent=permanent
    )


@transaction.atomic
def _record(call: ServiceCall, *, status_code, error: str, duration, answer: dict, permanent: bool) -> str:
    now = timezone.now()
    ServiceCallAttempt.objects.create(
        call=call, at=now, status_code=status_code, error=error[:2000], duration_ms=duration
    )
    if not error:
        _finish(call, status=ServiceCall.Status.SUCCEEDED, response=answer)
    elif permanent or call.attempts >= call.max_attempts:
        _finish(call, status=ServiceCall.Status.FAILED, error=error)
    else:
        call.next_attempt_at = SERVICE_CALLS.retry_at(now, call.attempts)
        call.error, call.lease_until = error[:2000], None
        call.save(update_fields=["error", "lease_until", "next_attempt_at"])
        SERVICE_CALLS.enqueue_on_commit([call.pk], countdown=(call.next_attempt_at - now).total_seconds())
        return "retrying"
    following = (
        ServiceCall.objects.filter(step_run_id=call.step_run_id, status=ServiceCall.Status.PENDING)
        .order_by("position")
        .first()
        if call.status == ServiceCall.Status.SUCCEEDED
        else None
    )
    if following is not None:  # due now that this one has answered
        following.next_attempt_at = now
        following.save(update_fields=["next_attempt_at"])
        SERVICE_CALLS.enqueue_on_commit([following.pk])
    else:
        _hand_back(call.step_run_id)
    return call.status


def _hand_back(step_run_id: int) -> None:
    """Every call answered (or one failed): put the answers in the context and the run back in
    the dispatcher's hands, due now. Under the user journey's row lock, like every walker."""
    from journeys.engine.dispatcher import dispatch_on_commit
    from journeys.engine.runner import lock_user_journey

    run = StepRun.objects.get(pk=step_run_id)
    uj = lock_user_journey(run.user_journey_id)
    run = StepRun.objects.select_for_update().get(pk=step_run_id)
    if uj is None or run.status != StepRun.Status.SCHEDULED or run.waiting_for != WAITING_FOR:
        return  # cancelled or finished meanwhile
    calls = list(run.service_calls.select_related("service").order_by("position"))
    failed = next((c for c in calls if c.status == ServiceCall.Status.FAILED), None)
    trace = _trace(calls)
    if failed is not None:
        trace["failed"] = (
            f"Milestone service {failed.reference} failed after {failed.attempts} attempt(s): {failed.error}"
        )
    else:
        uj.context = _merged(uj.context, run.step_key, {c.role: c.response for c in calls})
        uj.save(update_fields=["context", "updated_at"])
    run.trace = {**run.trace, "services": trace}
    run.hand_over(at=timezone.now())
    run.save(update_fields=["trace", "waiting_for", "status", "due_at"])
    dispatch_on_commit([run.pk])


def milestone_calls_sweep() -> int:
    """Beat: enqueue calls that fell due (retries after a restart, lost messages, dead workers)."""
    return len(SERVICE_CALLS.sweep(lost_after=SWEEP_AFTER_SECONDS))
