"""Conversations: a chat linked to a journey, its messages, and what a chat needs to resume."""

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from journeys.errors import Conflict, NotFound
from workspace.models import Conversation, Decision, Message, Task, Workspace
from workspace.services.spaces import activity_record

RESUME_MESSAGES = 20  # most recent messages handed back to a chat that picks up
RESUME_DECISIONS = 10  # current decisions handed back, newest first


@transaction.atomic
def conversation_link(*, workspace: Workspace, actor, external_id: str, channel: str = "") -> Conversation:
    """Link a chat's conversation id to this journey (idempotent; one journey per conversation)."""
    conversation, created = Conversation.objects.get_or_create(
        external_id=external_id, defaults={"workspace": workspace, "channel": channel}
    )
    if conversation.workspace_id != workspace.pk:
        raise Conflict("This conversation is linked to another journey.", current_state="linked")
    if created:
        activity_record(
            workspace=workspace,
            actor=actor,
            verb="conversation.linked",
            summary=f"Conversation {external_id} linked",
            target=conversation,
        )
    return conversation


def message_post(*, workspace: Workspace, actor, external_id: str, data: dict[str, Any]) -> Message:
    """Keep a chat message with the journey; a repeated chat message id is stored once."""
    conversation = Conversation.objects.filter(workspace=workspace, external_id=external_id).first()
    if conversation is None:
        raise NotFound(f"Conversation {external_id!r} is not linked to this journey.")
    if data.get("external_id"):
        existing = Message.objects.filter(conversation=conversation, external_id=data["external_id"]).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            message = Message.objects.create(conversation=conversation, workspace=workspace, **data)
            activity_record(
                workspace=workspace,
                actor=actor,
                verb="message.posted",
                summary=f"{message.sender}: {message.body[:120]}",
                target=message,
                step_key=message.step_key,
            )
    except IntegrityError:  # the same chat message id arrived twice at once
        return Message.objects.get(conversation=conversation, external_id=data["external_id"])
    return message


@dataclass
class Resume:
    workspace: Workspace
    current_step: str
    state: str
    open_tasks: list[Task]
    decisions: list[Decision]
    messages: list[Message]


def journey_resume(*, workspace: Workspace) -> Resume:
    """What a chat needs to pick up: where the person is, what is open, what was decided, said."""
    user_journey = workspace.user_journey
    return Resume(
        workspace=workspace,
        current_step=user_journey.current_step,
        state=user_journey.state,
        open_tasks=list(
            Task.objects.alive()
            .filter(workspace=workspace, status__in=[Task.Status.OPEN, Task.Status.IN_PROGRESS])
            .select_related("assignee")
            .order_by("due_on", "id")
        ),
        decisions=list(
            Decision.objects.alive().filter(workspace=workspace, current=True).order_by("-id")[:10]
        ),
        messages=list(
            reversed(Message.objects.filter(workspace=workspace).order_by("-id")[:RESUME_MESSAGES])
        ),
    )
