"""Every periodic task the product runs, declared here and nowhere else.

``sync_periodic_tasks`` writes them into django-celery-beat's tables (idempotently, at migrate
and at bootstrap) so staff can see them, pause them and tune their intervals in the admin. A
task staff disabled stays disabled; its interval is kept as staff set it.
"""

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str
    task: str
    every_seconds: int
    description: str
    kwargs: dict = field(default_factory=dict)

    @property
    def expires_seconds(self) -> float:
        # A tick still queued when the next one is due is useless: drop it just before.
        return max(self.every_seconds * 0.9, 0.9)


PERIODIC_TASKS: list[PeriodicTaskSpec] = [
    PeriodicTaskSpec(
        name="Sweep unprocessed events",
        task="journeys.events_sweep",
        every_seconds=5,
        description="Re-dispatch events whose processing message was lost (broker down, worker "
        "killed) and retry failed subscribers whose backoff has passed.",
    ),
    PeriodicTaskSpec(
        name="Dispatch due journey steps",
        task="journeys.step_runs_dispatch",
        every_seconds=1,
        description="Claim due step runs in batches (SKIP LOCKED on Postgres) and execute them: "
        "delays, waits, timeouts, retries, runs whose kick was lost and runs of dead workers.",
    ),
    PeriodicTaskSpec(
        name="Sweep webhook deliveries",
        task="journeys.webhook_deliveries_sweep",
        every_seconds=15,
        description="Send pending webhook deliveries that fell due: retries after their backoff "
        "and deliveries whose message was lost.",
    ),
    PeriodicTaskSpec(
        name="Sweep milestone service calls",
        task="journeys.milestone_calls_sweep",
        every_seconds=15,
        description="Try milestone calls of directory services that fell due: retries after their "
        "backoff and calls whose message was lost or whose worker died.",
    ),
    PeriodicTaskSpec(
        name="Re-evaluate rules whose time came",
        task="rules.evaluate_due",
        every_seconds=60,
        description="Evaluate the rules of participants whose time_since window closed or whose flag "
        "expired (their next_check_at passed); nobody else is rescanned.",
    ),
    PeriodicTaskSpec(
        name="Sweep stage tasks",
        task="stages.work_tasks_sweep",
        every_seconds=10,
        description="Re-dispatch unit-of-work tasks whose message was lost (queued and due for a while) "
        "and tasks whose worker died (running past their lease).",
    ),
    PeriodicTaskSpec(
        name="Check staged journeys' exit criteria",
        task="stages.journeys_auto_promote",
        every_seconds=60,
        description="Re-evaluate the gates of journeys in stages that promote automatically, so criteria "
        "that pass with time (no critical bugs in 7 days) promote without a new measurement.",
    ),
    PeriodicTaskSpec(
        name="Purge old staged journey history",
        task="stages.history_purge",
        every_seconds=86_400,
        description="Delete staged journeys that ended more than STAGES_HISTORY_RETENTION_DAYS ago (730 by "
        "default; or pass retention_days in the kwargs), and older history rows and snapshots.",
    ),
    PeriodicTaskSpec(
        name="Sweep workspace background work",
        task="workspace.pending_sweep",
        every_seconds=60,
        description="Re-dispatch document text extractions and PDF exports still pending a minute after "
        "they were asked for (their message was lost).",
    ),
    PeriodicTaskSpec(
        name="Purge deleted workspace rows",
        task="workspace.purge_deleted",
        every_seconds=86_400,
        description="Remove for good the files, comments, decisions, costs and journeys people deleted more "
        "than WORKSPACE_RETENTION_DAYS ago (30 by default).",
    ),
    PeriodicTaskSpec(
        name="Refresh analytics rollups",
        task="analytics.rollups_refresh",
        every_seconds=60,
        description="Rebuild the per journey/step/day figures of the cohort days whose runs changed since "
        "the last refresh, so analytics and dashboards never scan step runs (kwargs full=true rebuilds all).",
    ),
]


def sync_periodic_tasks(specs: list[PeriodicTaskSpec] | None = None) -> int:
    """Create the missing periodic tasks and refresh their task names. Returns how many were new."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    created = 0
    for spec in specs if specs is not None else PERIODIC_TASKS:
        schedule, _ = IntervalSchedule.objects.get_or_create(
            every=spec.every_seconds, period=IntervalSchedule.SECONDS
        )
        task, was_created = PeriodicTask.objects.get_or_create(
            name=spec.name,
            defaults={
                "task": spec.task,
                "interval": schedule,
                "kwargs": json.dumps(spec.kwargs),
                "description": spec.description,
                "expire_seconds": int(spec.expires_seconds) or 1,
            },
        )
        if not was_created and (task.task != spec.task or task.description != spec.description):
            task.task = spec.task
            task.description = spec.description
            task.save(update_fields=["task", "description"])
        created += was_created
    return created


def sync_after_migrate(sender, using: str = "default", **kwargs) -> None:
    from django.db import connections

    if "django_celery_beat_periodictask" in connections[using].introspection.table_names():
        sync_periodic_tasks()
