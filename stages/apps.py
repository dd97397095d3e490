from django.apps import AppConfig


class StagesConfig(AppConfig):
    """Staged client lifecycles: Sandbox → Pilot → Production behind exit criteria."""

    name = "stages"
    verbose_name = "Staged lifecycles"
    default_auto_field = "django.db.models.BigAutoField"
