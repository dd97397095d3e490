from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The participant's side of a user journey: files, research, decisions, costs, people, chat."""

    name = "workspace"
    verbose_name = "Workspace"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from workspace import tasks

        tasks.queues_connect()  # the workspace's work is sent through Celery
