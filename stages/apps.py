from django.apps import AppConfig


class StagesConfig(AppConfig):
    """Staged client lifecycles: Sandbox → Pilot → Production behind exit criteria."""

    name = "stages"
    verbose_name = "Staged lifecycles"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from journeys import bootstrap, bus
        from journeys.services import directory
        from stages import subscribers, tasks
        from stages.intents import register_builtin_intents
        from stages.local_agent import register_local_agent
        from stages.models import ExitCriterion
        from stages.services.agents import work_tasks_configured
        from stages.services.pipelines import pipeline_load_defaults

        register_builtin_intents()
        tasks.queues_connect()  # stage tasks are sent through Celery
        register_local_agent()
        directory.configured_listeners.append(work_tasks_configured)
        bus.subscribe(
            subscribers.MEASUREMENT_EVENT, subscribers.measurement_event_handle, name="stages.measurements"
        )
        bus.subscribe(subscribers.APPROVAL_EVENT, subscribers.approval_event_handle, name="stages.approvals")
        bus.subscribe(
            "*",
            subscribers.watched_event_handle,
            name="stages.rollback_watch",
            batch_handler=subscribers.watched_events_handle,
            interest=subscribers.watched_interest,
        )
        bootstrap.register("staged lifecycle pipeline", pipeline_load_defaults)
        # Bookkeeping: a process's cache of watched event types forgets on criterion changes.
        post_save.connect(subscribers.watched_patterns_forget, sender=ExitCriterion)
        post_delete.connect(subscribers.watched_patterns_forget, sender=ExitCriterion)
