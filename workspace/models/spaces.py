"""The workspace of one user journey, the roles people hold in it, and soft deletion."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    COMMENTER = "commenter", "Commenter"
    VIEWER = "viewer", "Viewer"


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self) -> "SoftDeleteQuerySet":
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> "SoftDeleteQuerySet":
        return self.filter(deleted_at__isnull=False)


class SoftDeletable(models.Model):
    """Rows people delete are hidden, restorable, and purged after ``WORKSPACE_RETENTION_DAYS``."""

    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = SoftDeleteQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def soft_delete(self) -> None:
        self.deleted_at = timezone.now()

    def restore(self) -> None:
        self.deleted_at = None


class Workspace(SoftDeletable):
    """A user journey as the people living it see it.

    The owner is the participant's own account: the user whose username is the participant's
    ``user_id``. Others reach it only as collaborators. ``last_activity_at`` moves with every
    change anyone makes (uploads, decisions, costs, comments, chat messages).
    """

    user_journey = models.OneToOneField(
        "journeys.UserJourney", on_delete=models.CASCADE, related_name="workspace"
    )
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code of the budget.")
    last_activity_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("moderate_workspace", "Can see and moderate every workspace")]

    def __str__(self) -> str:
        return f"workspace of user journey {self.user_journey_id}"


class WorkspaceOwned(models.Model):
    """A row that belongs to one workspace, optionally to one step of the journey."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    step_key = models.CharField(max_length=80, blank=True, help_text="The journey step it belongs to.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
