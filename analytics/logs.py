"""Logging helpers: quiet periodic ticks, and the JSON log format (django-structlog)."""

import logging

# Beat sends these every second or few; a line per tick at INFO drowns everything else.
FREQUENT_TASKS = ("journeys.step_runs_dispatch", "journeys.events_sweep", "stages.work_tasks_sweep")


class QuietPeriodicTicks(logging.Filter):
    """Drops INFO (and lower) records about the frequent periodic tasks: beat's "Sending due
    task", the worker's "received" and "succeeded". Warnings and errors about them still pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        text = f"{message} {record.args if isinstance(record.args, dict) else ''}"
        return not any(name in text for name in FREQUENT_TASKS)
