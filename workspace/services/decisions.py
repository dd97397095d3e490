"""Decisions: record, revisit (a new row supersedes the old), roll back (the previous is current)."""

from typing import Any

from django.db import transaction

from journeys.errors import Conflict
from workspace.models import Decision, Workspace
from workspace.services.spaces import (
    recorded_create,
    recorded_soft_delete,
    row_activity_record,
)


@transaction.atomic
def decision_record(*, workspace: Workspace, actor, data: dict[str, Any]) -> Decision:
    return recorded_create(
        Decision,
        workspace=workspace,
        actor=actor,
        verb="decision.made",
        summary=lambda decision: f"Decided {decision.question}: {decision.chosen}",
        **data,
    )


@transaction.atomic
def decision_revisit(*, decision: Decision, actor, data: dict[str, Any]) -> Decision:
    """Record a new choice for the same question; the old one stays in the history."""
    decision = Decision.objects.select_for_update().get(pk=decision.pk)
    if not decision.current:
        raise Conflict("Only the current decision can be revisited.", current_state="superseded")
    decision.current = False
    decision.save(update_fields=["current"])
    fields = {
        "question": decision.question,
        "step_key": decision.step_key,
        "alternatives": decision.alternatives,
        **data,
    }
    newer = Decision.objects.create(
        workspace_id=decision.workspace_id, created_by=actor, supersedes=decision, **fields
    )
    summary = f"Revisited {newer.question}: {decision.chosen} → {newer.chosen}"
    row_activity_record(newer, actor=actor, verb="decision.revisited", summary=summary)
    return newer


@transaction.atomic
def decision_rollback(*, decision: Decision, actor) -> Decision:
    """Undo a revisit: the superseded choice becomes current again."""
    decision = Decision.objects.select_for_update().get(pk=decision.pk)
    if not decision.current or decision.supersedes_id is None:
        raise Conflict(
            "Only a current decision that revisited an earlier one can be rolled back.",
            current_state="current" if decision.current else "superseded",
        )
    previous = Decision.objects.select_for_update().get(pk=decision.supersedes_id)
    decision.current = False
    decision.rolled_back = True
    decision.save(update_fields=["current", "rolled_back"])
    previous.current = True
    previous.save(update_fields=["current"])
    summary = f"Rolled back {decision.question}: {decision.chosen} → {previous.chosen}"
    row_activity_record(previous, actor=actor, verb="decision.rolled_back", summary=summary)
    return previous


def decision_history(*, decision: Decision) -> list[Decision]:
    """Every choice made for this question, newest first (walks both directions of the chain)."""
    chain: list[Decision] = []
    newest = decision
    while (newer := Decision.objects.filter(supersedes=newest).order_by("-id").first()) is not None:
        newest = newer
    node: Decision | None = newest
    while node is not None:
        chain.append(node)
        node = node.supersedes
    return chain


@transaction.atomic
def decision_delete(*, decision: Decision, actor) -> None:
    recorded_soft_delete(
        decision, actor=actor, verb="decision.deleted", summary=f"Deleted the decision {decision.question}"
    )
