from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project's wiring, not a domain: the apps never import ``config``, so what joins them
    to the platform (beat's schedule rows, what ``manage.py bootstrap`` loads) is hooked up here.
    Listed before the apps so its bootstrap step runs first."""

    name = "config"
    label = "config"
    verbose_name = "Configuration"

    def ready(self) -> None:
        from django.apps import apps
        from django.db.models.signals import post_migrate

        from config import beat
        from journeys import bootstrap

        # Bookkeeping, not domain: keep beat's schedule rows in step with the code. Sent once per
        # migrate, for the app whose tables hold them.
        post_migrate.connect(beat.sync_after_migrate, sender=apps.get_app_config("django_celery_beat"))
        bootstrap.register("periodic tasks", lambda: f"{beat.sync_periodic_tasks()} created")
