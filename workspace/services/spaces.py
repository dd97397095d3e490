"""Workspaces: opening one for a user journey, the activity feed, soft deletion and purging."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from journeys.errors import NotFound
from journeys.models import UserJourney
from workspace.models import (
    Attachment,
    Comment,
    Decision,
    Expense,
    Quote,
    ResearchItem,
    Task,
    Workspace,
)
from workspace.policy import Ability, can

Row = TypeVar("Row", bound=Model)

SOFT_DELETED_MODELS = (Attachment, Comment, Decision, Expense, Quote, ResearchItem, Task)


def workspace_for(*, user_journey_id: int, user, ability: Ability) -> Workspace:
    """The workspace of a user journey if ``user`` holds ``ability`` in it.

    Anyone without a role gets ``NotFound`` (not a permission error), so ids reveal nothing; a
    role without the ability gets ``PermissionDenied``. An existing workspace is read with a plain
    SELECT. One is opened (inserted) on first use, and only for someone who holds a role in it:
    before it exists only the owner and moderators can, so a stranger's probe writes nothing.
    (Reads by the owner still open it: every read answers from the row — empty pages, the
    budget in the workspace's currency — rather than from a second, row-less code path.)
    """
    user_journey = (
        UserJourney.objects.select_related("participant", "journey").filter(pk=user_journey_id).first()
    )
    if user_journey is None:
        raise NotFound(f"User journey {user_journey_id} not found.")
    workspace = Workspace.objects.filter(user_journey=user_journey).first()
    if workspace is None:
        if not can(user, Workspace(user_journey=user_journey), Ability.VIEW):
            raise NotFound(f"User journey {user_journey_id} not found.")
        workspace, _ = Workspace.objects.get_or_create(user_journey=user_journey)
    workspace.user_journey = user_journey
    if workspace.is_deleted or not can(user, workspace, Ability.VIEW):
        raise NotFound(f"User journey {user_journey_id} not found.")
    if not can(user, workspace, ability):
        raise PermissionDenied(f"Your role in this journey does not allow this ({ability}).")
    return workspace


def activity_record(
    *,
    workspace: Workspace,
    actor,
    verb: str,
    summary: str,
    target: Any = None,
    step_key: str = "",
) -> None:
    """Write a line of the activity feed and move the journey's ``last_activity_at``."""
    from workspace.models import Activity

    now = timezone.now()
    Activity.objects.create(
        workspace=workspace,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        verb=verb,
        summary=summary[:300],
        target_type=type(target).__name__.lower() if target is not None else "",
        target_id=getattr(target, "pk", None),
        step_key=step_key,
    )
    Workspace.objects.filter(pk=workspace.pk).update(last_activity_at=now)
    workspace.last_activity_at = now


def row_activity_record(
    row: Model, *, actor, verb: str, summary: str, workspace: Workspace | None = None
) -> None:
    """The activity line about a row of a workspace: it is the target, its step the line's step.
    Pass the ``workspace`` at hand to have its ``last_activity_at`` moved in memory too."""
    activity_record(
        workspace=workspace or Workspace(pk=row.workspace_id),
        actor=actor,
        verb=verb,
        summary=summary,
        target=row,
        step_key=getattr(row, "step_key", ""),
    )


def recorded_create(
    model: type[Row], *, workspace: Workspace, actor, verb: str, summary: Callable[[Row], str], **fields: Any
) -> Row:
    """Create a row of the workspace as ``actor`` and write its line of the activity feed
    (``summary`` is given the new row). Call it inside the service's transaction."""
    row = model.objects.create(workspace=workspace, created_by=actor, **fields)
    row_activity_record(row, actor=actor, verb=verb, summary=summary(row), workspace=workspace)
    return row


def recorded_soft_delete(row: Model, *, actor, verb: str, summary: str) -> None:
    """Soft-delete a row of a workspace (staff can restore it) and write its activity line."""
    row.soft_delete()
    row.save(update_fields=["deleted_at"])
    row_activity_record(row, actor=actor, verb=verb, summary=summary)


@transaction.atomic
def workspace_delete(*, workspace: Workspace, actor) -> Workspace:
    workspace.soft_delete()
    workspace.save(update_fields=["deleted_at"])
    activity_record(workspace=workspace, actor=actor, verb="workspace.deleted", summary="Journey deleted")
    return workspace


@transaction.atomic
def workspace_restore(*, workspace: Workspace, actor) -> Workspace:
    workspace.restore()
    workspace.save(update_fields=["deleted_at"])
    activity_record(workspace=workspace, actor=actor, verb="workspace.restored", summary="Journey restored")
    return workspace


def workspace_purge_deleted(*, now=None) -> dict[str, int]:
    """Remove for good what was soft-deleted longer ago than ``WORKSPACE_RETENTION_DAYS``."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WORKSPACE_RETENTION_DAYS)
    purged: dict[str, int] = {}
    for model in SOFT_DELETED_MODELS:
        rows = model.objects.filter(deleted_at__lt=cutoff)
        if model is Attachment:
            for attachment in rows:
                attachment.file.delete(save=False)
                if attachment.thumbnail:
                    attachment.thumbnail.delete(save=False)
        if model is Decision:
            # Later decisions point at earlier ones: drop the links before the rows.
            Decision.objects.filter(supersedes__in=rows).update(supersedes=None)
        purged[model._meta.model_name], _ = rows.delete()
    purged["workspace"], _ = Workspace.objects.filter(deleted_at__lt=cutoff).delete()
    return purged
