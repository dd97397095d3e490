"""Thin Celery wrappers around the bus. Both are safe to run twice."""

from celery import shared_task

from journeys import bus


@shared_task(name="journeys.events_process")
def events_process_task(event_ids: list[int]) -> None:
    """Process events; an event another worker holds or already finished is skipped."""
    for event_id in event_ids:
        bus.event_process(event_id=event_id)


@shared_task(name="journeys.events_sweep", ignore_result=True)
def events_sweep_task() -> int:
    """Beat: re-dispatch pending events whose message was lost and events of dead workers."""
    return bus.events_sweep()
