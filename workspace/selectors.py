"""Reads: the journeys a person can open, the rows of a workspace the API lists, and the timeline
of one journey (page and PDF)."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet

from journeys.models import StepRun, UserJourney
from workspace.models import (
    Activity,
    Attachment,
    BeforeAfterPair,
    Collaborator,
    Comment,
    Conversation,
    Decision,
    Expense,
    Export,
    Invitation,
    ResearchItem,
    Task,
    Workspace,
)
from workspace.services.costs import BudgetReport, budget_report


def user_journeys_for(*, user) -> QuerySet[UserJourney]:
    """User journeys the person owns (their user id) or that were shared with them."""
    shared = Collaborator.objects.filter(user=user).values("workspace__user_journey_id")
    return (
        UserJourney.objects.filter(Q(participant__user_id=user.get_username()) | Q(pk__in=shared))
        .exclude(workspace__deleted_at__isnull=False)
        .select_related("journey", "participant")
        .order_by("-id")
    )


# --- the rows of one workspace, as the API lists them ----------------------------------------------
def attachments_list(*, workspace: Workspace) -> QuerySet[Attachment]:
    return Attachment.objects.alive().filter(workspace=workspace).select_related("created_by")


def pairs_list(*, workspace: Workspace) -> QuerySet[BeforeAfterPair]:
    return BeforeAfterPair.objects.filter(workspace=workspace).select_related("before", "after")


def research_list(*, workspace: Workspace) -> QuerySet[ResearchItem]:
    return ResearchItem.objects.alive().filter(workspace=workspace)


def decisions_list(*, workspace: Workspace) -> QuerySet[Decision]:
    return (
        Decision.objects.alive()
        .filter(workspace=workspace)
        .prefetch_related("quotes", "expenses", "tasks")
        .select_related("created_by")
    )


def expenses_list(*, workspace: Workspace) -> QuerySet[Expense]:
    return Expense.objects.alive().filter(workspace=workspace)


def collaborators_list(*, workspace: Workspace) -> QuerySet[Collaborator]:
    return Collaborator.objects.filter(workspace=workspace).select_related("user")


def invitations_list(*, workspace: Workspace) -> QuerySet[Invitation]:
    return Invitation.objects.filter(workspace=workspace, revoked_at=None)


def comments_list(*, workspace: Workspace) -> QuerySet[Comment]:
    return (
        Comment.objects.alive()
        .filter(workspace=workspace)
        .select_related("created_by")
        .prefetch_related("mentions__user")
        .order_by("id")
    )


def tasks_list(*, workspace: Workspace) -> QuerySet[Task]:
    return Task.objects.alive().filter(workspace=workspace).select_related("assignee")


def activity_list(*, workspace: Workspace) -> QuerySet[Activity]:
    return Activity.objects.filter(workspace=workspace).select_related("actor")


def conversations_list(*, workspace: Workspace) -> QuerySet[Conversation]:
    return Conversation.objects.filter(workspace=workspace)


def exports_list(*, workspace: Workspace) -> QuerySet[Export]:
    return Export.objects.filter(workspace=workspace).select_related("workspace")


@dataclass
class TimelineStep:
    step_key: str
    kind: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None


@dataclass
class JourneyTimeline:
    workspace: Workspace
    journey_name: str
    participant: str
    state: str
    started_at: datetime
    ended_at: datetime | None
    steps: list[TimelineStep]
    milestones: list[TimelineStep]
    decisions: list[Decision]
    budget: BudgetReport
    images: list[Attachment]
    pairs: list[BeforeAfterPair] = field(default_factory=list)


def journey_timeline(*, workspace: Workspace) -> JourneyTimeline:
    """Everything the export and the admin timeline show, in the order it happened."""
    user_journey = workspace.user_journey
    runs = (
        StepRun.objects.filter(user_journey=user_journey)
        .order_by("seq")
        .only("step_key", "step_kind", "status", "executed_at", "finished_at", "created_at")
    )
    steps = [
        TimelineStep(
            step_key=run.step_key,
            kind=run.step_kind,
            status=run.status,
            started_at=run.executed_at or run.created_at,
            finished_at=run.finished_at,
        )
        for run in runs
    ]
    return JourneyTimeline(
        workspace=workspace,
        journey_name=user_journey.journey.name,
        participant=user_journey.participant.user_id,
        state=user_journey.state,
        started_at=user_journey.started_at,
        ended_at=user_journey.ended_at,
        steps=steps,
        milestones=[step for step in steps if step.kind == "manual"],
        decisions=list(Decision.objects.alive().filter(workspace=workspace).order_by("created_at", "id")),
        budget=budget_report(workspace=workspace),
        images=list(
            Attachment.objects.alive().filter(workspace=workspace, kind=Attachment.Kind.IMAGE).order_by("id")
        ),
        pairs=list(
            BeforeAfterPair.objects.filter(
                workspace=workspace, before__deleted_at=None, after__deleted_at=None
            )
            .select_related("before", "after")
            .order_by("id")
        ),
    )
