"""Thin Celery wrappers around the bus and the journey engine. All are safe to run twice."""

from celery import shared_task

from journeys import bus


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
    from journeys.engine.dispatcher import step_runs_dispatch

    return step_runs_dispatch().executed


@shared_task(name="journeys.step_runs_execute", ignore_result=True)
def step_runs_execute_task(run_ids: list[int]) -> int:
    """Execute runs kicked after their transaction committed; runs already taken are skipped."""
    from journeys.engine.dispatcher import step_runs_execute_now

    return step_runs_execute_now(run_ids=run_ids).executed


@shared_task(name="journeys.webhook_delivery_send", ignore_result=True)
def webhook_delivery_send_task(delivery_id: int) -> str:
    from journeys.services.subscriptions import webhook_delivery_send

    return webhook_delivery_send(delivery_id=delivery_id)


@shared_task(name="journeys.webhook_deliveries_sweep", ignore_result=True)
def webhook_deliveries_sweep_task() -> int:
    from journeys.services.subscriptions import webhook_deliveries_sweep

    return webhook_deliveries_sweep()
