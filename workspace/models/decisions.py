"""Decisions with their alternatives and reasoning; revisiting keeps the history."""

from django.db import models

from workspace.models.spaces import SoftDeletable, WorkspaceOwned


class Decision(WorkspaceOwned, SoftDeletable):
    """A choice made on the journey.

    Revisiting a decision writes a new row that ``supersedes`` the old one (only the newest of a
    chain is ``current``); rolling back marks the newest superseded and its predecessor current
    again. Costs and tasks point at the decision they follow from (its impact).
    """

    question = models.CharField(max_length=300)
    chosen = models.CharField(max_length=300)
    alternatives = models.JSONField(
        default=list, blank=True, help_text='[{"option": "...", "pros": [...], "cons": [...]}]'
    )
    reasoning = models.TextField(blank=True)
    supersedes = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    current = models.BooleanField(default=True)
    rolled_back = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["workspace", "current"])]

    def __str__(self) -> str:
        return f"{self.question} → {self.chosen}"
