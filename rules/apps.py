from django.apps import AppConfig


class RulesConfig(AppConfig):
    """The rules engine: declarative rules, flags with history, milestones."""

    name = "rules"
    verbose_name = "Rules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from journeys import bootstrap
        from rules import plugins, tasks
        from rules.services import evaluation
        from rules.services.rules import rules_load_defaults

        evaluation.subscribe()  # every event re-evaluates its participant's rules
        plugins.register()  # set_flag/clear_flag journey actions, the flag condition
        tasks.queues_connect()  # re-evaluations are sent through Celery
        bootstrap.register("default rules", rules_load_defaults)
