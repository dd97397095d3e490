"""Money on a journey: budgets per category, quotes to compare, actual expenses.

Amounts are decimals with their currency, never floats.
"""

from django.db import models

from workspace.models.spaces import SoftDeletable, WorkspaceOwned

MONEY = {"max_digits": 14, "decimal_places": 2}


class Budget(WorkspaceOwned):
    """What may be spent in a category; the category ``""`` is the journey's total."""

    category = models.CharField(max_length=80, blank=True)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "category"], name="workspace_budget_once")
        ]

    def __str__(self) -> str:
        return f"{self.category or 'total'}: {self.amount} {self.currency}"


class Quote(WorkspaceOwned, SoftDeletable):
    """A vendor's offer, valid until a date, optionally with the quote document attached."""

    category = models.CharField(max_length=80)
    vendor = models.CharField(max_length=200)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    valid_until = models.DateField(null=True, blank=True)
    description = models.TextField(blank=True)
    attachment = models.ForeignKey(
        "workspace.Attachment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision = models.ForeignKey(
        "workspace.Decision", on_delete=models.SET_NULL, null=True, blank=True, related_name="quotes"
    )
    accepted = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.vendor}: {self.amount} {self.currency}"


class Expense(WorkspaceOwned, SoftDeletable):
    """Money actually spent."""

    category = models.CharField(max_length=80)
    description = models.CharField(max_length=300)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    spent_on = models.DateField()
    quote = models.ForeignKey(
        Quote, on_delete=models.SET_NULL, null=True, blank=True, related_name="expenses"
    )
    decision = models.ForeignKey(
        "workspace.Decision", on_delete=models.SET_NULL, null=True, blank=True, related_name="expenses"
    )

    def __str__(self) -> str:
        return f"{self.description}: {self.amount} {self.currency}"
