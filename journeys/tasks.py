"""Thin Celery wrappers around the bus and the journey engine. All are safe to run twice.

The senders here are the only code that puts journeys' work on the broker: ``queues_connect``
(called when the app is ready) hands them to the durable queues (``journeys.queue``), which call
them after commit. A message that cannot be sent (the broker down) is left to the queue's sweep.
"""

from celery import shared_task

from journeys import bus
from journeys.broker import task_send
from journeys.engine import dispatcher
from journeys.engine.claiming import STEP_RUNS
from journeys.services import milestone_calls, subscriptions


@shared_task(name="journeys.events_process")
def events_process_task(event_ids: list[int]) -> None:
    """Process events; an event another worker holds or already finished is skipped."""
    bus.events_process(event_ids=event_ids)


@shared_task(name="journeys.events_sweep", ignore_result=True)
def events_sweep_task() -> int:
    """Beat: re-dispatch pending events whose message was lost and events of dead workers."""
    return bus.events_sweep()


# ----------------------------------------------------------------------------------------------
# The journey engine
# ----------------------------------------------------------------------------------------------
@shared_task(name="journeys.step_runs_dispatch", ignore_result=True)
def step_runs_dispatch_task() -> int:
    """Beat, every second: claim due step runs in batches (SKIP LOCKED) and execute them."""
    return dispatcher.step_runs_dispatch().executed


@shared_task(name="journeys.step_runs_execute", ignore_result=True)
def step_runs_execute_task(run_ids: list[int]) -> int:
    """Execute runs kicked after their transaction committed; runs already taken are skipped."""
    return dispatcher.step_runs_execute_now(run_ids=run_ids).executed


@shared_task(name="journeys.webhook_delivery_send", ignore_result=True)
def webhook_delivery_send_task(delivery_id: int) -> str:
    return subscriptions.webhook_delivery_send(delivery_id=delivery_id)


@shared_task(name="journeys.webhook_deliveries_sweep", ignore_result=True)
def webhook_deliveries_sweep_task() -> int:
    return subscriptions.webhook_deliveries_sweep()


# ----------------------------------------------------------------------------------------------
# Enqueueing (the durable queues call these after commit)
# ----------------------------------------------------------------------------------------------
def events_process_enqueue(event_ids: list[int]) -> None:
    task_send(events_process_task, event_ids, left_to="the sweeper")


def step_runs_execute_enqueue(run_ids: list[int]) -> None:
    task_send(step_runs_execute_task, run_ids, left_to="the dispatcher")


def webhook_delivery_send_enqueue(delivery_ids: list[int], countdown: float | None = None) -> None:
    [delivery_id] = delivery_ids  # one delivery per message (the queue's chunk)
    webhook_delivery_send_task.apply_async((delivery_id,), countdown=countdown)


def milestone_call_enqueue(call_ids: list[int], countdown: float | None = None) -> None:
    [call_id] = call_ids  # one call per message (the queue's chunk)
    milestone_call_execute_task.apply_async((call_id,), countdown=countdown)


def queues_connect() -> None:
    """Give journeys' durable queues their senders (the app's ``ready``)."""
    bus.EVENTS.connect(events_process_enqueue)
    STEP_RUNS.connect(step_runs_execute_enqueue)
    subscriptions.DELIVERIES.connect(webhook_delivery_send_enqueue)
    milestone_calls.SERVICE_CALLS.connect(milestone_call_enqueue)


# ----------------------------------------------------------------------------------------------
# Milestone service calls (the service directory)
# ----------------------------------------------------------------------------------------------
@shared_task(name="journeys.milestone_call_execute", ignore_result=True)
def milestone_call_execute_task(call_id: int) -> str:
    """Try a due service call of a milestone; safe to run twice (calls are claimed)."""
    return milestone_calls.milestone_call_execute(call_id=call_id)


@shared_task(name="journeys.milestone_calls_sweep", ignore_result=True)
def milestone_calls_sweep_task() -> int:
    """Beat: enqueue service calls whose retry fell due or whose message was lost."""
    return milestone_calls.milestone_calls_sweep()
