from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """The read side: metrics, funnels, progress analytics, dashboards."""

    name = "analytics"
    verbose_name = "Analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from analytics.providers import step_stats_from_rollups
        from journeys.registries import step_stats_providers

        # The builder's step graph shows these numbers at each node.
        step_stats_providers.register("default", step_stats_from_rollups, replace=True)
