from django.apps import AppConfig


class JourneysConfig(AppConfig):
    """The core: participants, the event log and bus, journeys and their runs."""

    name = "journeys"
    verbose_name = "Journeys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from journeys import bootstrap, bus, checks, tasks  # noqa: F401  (checks register themselves)
        from journeys.services.records import entity_mappings_load_defaults

        bus.subscribe_from_settings()
        tasks.queues_connect()  # the durable queues send through Celery
        self._ready_journey_engine()
        bootstrap.register(
            "entity mappings", lambda: f"{entity_mappings_load_defaults()} default mappings created"
        )

    def _ready_journey_engine(self) -> None:
        """Built-in action types, the journeys' bus subscriber, roles and templates."""
        from journeys import bootstrap, bus
        from journeys.actions import register_builtin_actions
        from journeys.services.demo import demo_load
        from journeys.services.event_handling import (
            journeys_handle_event,
            journeys_handle_events,
            journeys_interest,
        )
        from journeys.services.roles import staff_roles_load
        from journeys.services.template_files import templates_bundled_load

        register_builtin_actions()
        bus.subscribe(
            "*",
            journeys_handle_event,
            name="journeys.journey_runner",
            batch_handler=journeys_handle_events,
            interest=journeys_interest,
        )
        from journeys.services.subscriptions import (
            webhook_subscriptions_handle_event,
            webhook_subscriptions_handle_events,
            webhook_subscriptions_interest,
        )

        bus.subscribe(
            "journey.*",
            webhook_subscriptions_handle_event,
            name="journeys.webhook_subscriptions",
            batch_handler=webhook_subscriptions_handle_events,
            interest=webhook_subscriptions_interest,
        )
        from journeys.services.builtin_services import builtin_services_load, register_builtin_services

        register_builtin_services()
        bootstrap.register("service directory", builtin_services_load)
        bootstrap.register("staff roles", staff_roles_load)
        bootstrap.register("journey templates", templates_bundled_load)
        bootstrap.register("demo", demo_load, demo=True)
