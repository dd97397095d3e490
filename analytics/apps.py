from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """The read side: metrics, funnels, progress analytics, dashboards."""

    name = "analytics"
    verbose_name = "Analytics"
    default_auto_field = "django.db.models.BigAutoField"
