"""Sharing a journey: invitations and roles; comments with @mentions; tasks."""

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from journeys.errors import Conflict, NotFound, ValidationFailed
from workspace.models import Collaborator, Comment, Invitation, Mention, Role, Task, Workspace
from workspace.policy import Ability, can
from workspace.services.spaces import (
    activity_record,
    recorded_create,
    recorded_soft_delete,
    row_activity_record,
)

INVITATION_DAYS = 14  # an invitation's token is valid this long
MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, workspace: Workspace, actor, email: str, role: str) -> tuple[Invitation, str]:
    """Invite someone by e-mail; the token is returned once (and mailed), only its hash is kept."""
    if role not in {Role.EDITOR, Role.COMMENTER, Role.VIEWER}:
        raise ValidationFailed({"role": ["Choose editor, commenter or viewer."]})
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        token_hash=_token_hash(token),
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    journey_name = workspace.user_journey.journey.name
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to follow “{journey_name}”",
            message=(
                f"{actor.get_username()} invites you to join their journey “{journey_name}” as {role}.\n\n"
                f"Accept with this token (valid {INVITATION_DAYS} days): {token}\n"
                'POST /api/v1/invitations/accept {"token": "…"}\n'
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    )
    activity_record(
        workspace=workspace,
        actor=actor,
        verb="invitation.sent",
        summary=f"Invited {email} as {role}",
        target=invitation,
    )
    return invitation, token


@transaction.atomic
def invitation_accept(*, token: str, user) -> Collaborator:
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("workspace__user_journey__participant")
        .filter(token_hash=_token_hash(token))
        .first()
    )
    if invitation is None or invitation.revoked_at is not None:
        raise NotFound("No such invitation.")
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was accepted already.", current_state="accepted")
    if invitation.expires_at < timezone.now():
        raise Conflict("This invitation has expired; ask for a new one.", current_state="expired")
    workspace = invitation.workspace
    if workspace.user_journey.participant.user_id == user.get_username():
        raise Conflict("You own this journey.", current_state="owner")
    collaborator, _ = Collaborator.objects.update_or_create(
        workspace=workspace,
        user=user,
        defaults={"role": invitation.role, "invited_by": invitation.invited_by},
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    activity_record(
        workspace=workspace,
        actor=user,
        verb="collaborator.joined",
        summary=f"{user.get_username()} joined as {invitation.role}",
        target=collaborator,
    )
    return collaborator


@transaction.atomic
def collaborator_change_role(*, collaborator: Collaborator, actor, role: str) -> Collaborator:
    if role not in {Role.EDITOR, Role.COMMENTER, Role.VIEWER}:
        raise ValidationFailed({"role": ["Choose editor, commenter or viewer."]})
    collaborator.role = role
    collaborator.save(update_fields=["role"])
    activity_record(
        workspace=collaborator.workspace,
        actor=actor,
        verb="collaborator.role_changed",
        summary=f"{collaborator.user.get_username()} is now {role}",
        target=collaborator,
    )
    return collaborator


@transaction.atomic
def collaborator_remove(*, collaborator: Collaborator, actor) -> None:
    name = collaborator.user.get_username()
    workspace = collaborator.workspace
    collaborator.delete()
    activity_record(workspace=workspace, actor=actor, verb="collaborator.removed", summary=f"Removed {name}")


@transaction.atomic
def comment_post(
    *, workspace: Workspace, actor, body: str, step_key: str = "", parent_id: int | None = None
) -> Comment:
    """Post a comment (or a reply); everyone @mentioned who can see the journey is notified."""
    parent = None
    if parent_id is not None:
        parent = Comment.objects.alive().filter(workspace=workspace, pk=parent_id).first()
        if parent is None:
            raise ValidationFailed({"parent": ["No comment with this id in this journey."]})
        step_key = step_key or parent.step_key
    comment = recorded_create(
        Comment,
        workspace=workspace,
        actor=actor,
        verb="comment.posted",
        summary=lambda comment: f"{actor.get_username()} commented: {body[:120]}",
        body=body,
        step_key=step_key,
        parent=parent,
    )
    names = set(MENTION.findall(body)) - {actor.get_username()}
    mentioned = [
        user
        for user in get_user_model().objects.filter(username__in=names, is_active=True)
        if can(user, workspace, Ability.VIEW)
    ]
    Mention.objects.bulk_create([Mention(comment=comment, user=user) for user in mentioned])
    if mentioned:
        transaction.on_commit(lambda: _notify_mentions(comment.pk))
    return comment


def _notify_mentions(comment_id: int) -> None:
    comment = Comment.objects.select_related("created_by", "workspace__user_journey__journey").get(
        pk=comment_id
    )
    journey_name = comment.workspace.user_journey.journey.name
    for mention in comment.mentions.select_related("user").filter(notified_at__isnull=True):
        if mention.user.email:
            send_mail(
                subject=f"{comment.created_by.get_username()} mentioned you in “{journey_name}”",
                message=comment.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[mention.user.email],
            )
        Mention.objects.filter(pk=mention.pk).update(notified_at=timezone.now())


@transaction.atomic
def comment_delete(*, comment: Comment, actor) -> None:
    recorded_soft_delete(comment, actor=actor, verb="comment.deleted", summary="Deleted a comment")


def _check_assignee(workspace: Workspace, assignee) -> None:
    if assignee is not None and not can(assignee, workspace, Ability.VIEW):
        raise ValidationFailed({"assignee": ["Tasks go to the owner or a collaborator of this journey."]})


@transaction.atomic
def task_create(*, workspace: Workspace, actor, data: dict[str, Any]) -> Task:
    _check_assignee(workspace, data.get("assignee"))
    assignee = data.get("assignee")
    who = f" for {assignee.get_username()}" if assignee else ""
    return recorded_create(
        Task,
        workspace=workspace,
        actor=actor,
        verb="task.created",
        summary=lambda t: f"Task “{t.title}”{who}",
        **data,
    )


@transaction.atomic
def task_update(*, task: Task, actor, data: dict[str, Any]) -> Task:
    workspace = task.workspace
    if "assignee" in data:
        _check_assignee(workspace, data["assignee"])
    for name, value in data.items():
        setattr(task, name, value)
    if data.get("status") == Task.Status.DONE and task.completed_at is None:
        task.completed_at = timezone.now()
    elif "status" in data and data["status"] != Task.Status.DONE:
        task.completed_at = None
    task.save()
    summary = f"Task “{task.title}” is {task.get_status_display().lower()}"
    row_activity_record(task, actor=actor, verb="task.updated", summary=summary, workspace=workspace)
    return task


@transaction.atomic
def task_delete(*, task: Task, actor) -> None:
    """Delete a task (soft: staff can restore it); the feed says so."""
    recorded_soft_delete(task, actor=actor, verb="task.deleted", summary=f"Deleted the task “{task.title}”")
