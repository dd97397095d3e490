from django.apps import AppConfig


class RulesConfig(AppConfig):
    """The rules engine: declarative rules, flags with history, milestones."""

    name = "rules"
    verbose_name = "Rules"
    default_auto_field = "django.db.models.BigAutoField"
