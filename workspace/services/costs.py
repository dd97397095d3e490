"""Budgets, quotes and expenses; the budget report compares them per category."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum

from journeys.errors import ValidationFailed
from workspace.models import Budget, Expense, Quote, Workspace
from workspace.services.spaces import activity_record, recorded_create, row_activity_record


def _same_currency(workspace: Workspace, currency: str, field_name: str = "currency") -> None:
    if currency != workspace.currency:
        raise ValidationFailed(
            {field_name: [f"This journey keeps its money in {workspace.currency}; got {currency}."]}
        )


@transaction.atomic
def budget_set(*, workspace: Workspace, actor, category: str, amount: Decimal, currency: str) -> Budget:
    _same_currency(workspace, currency)
    budget, _ = Budget.objects.update_or_create(
        workspace=workspace,
        category=category,
        defaults={"amount": amount, "currency": currency, "created_by": actor},
    )
    activity_record(
        workspace=workspace,
        actor=actor,
        verb="budget.set",
        summary=f"Budget {category or 'total'} set to {amount} {currency}",
        target=budget,
    )
    return budget


@transaction.atomic
def quote_add(*, workspace: Workspace, actor, data: dict[str, Any]) -> Quote:
    _same_currency(workspace, data["currency"])
    return recorded_create(
        Quote,
        workspace=workspace,
        actor=actor,
        verb="quote.added",
        summary=lambda quote: (
            f"Quote from {quote.vendor}: {quote.amount} {quote.currency} ({quote.category})"
        ),
        **data,
    )


@transaction.atomic
def quote_accept(*, quote: Quote, actor) -> Quote:
    """Accept one quote of its category; the others of that category are no longer accepted."""
    Quote.objects.filter(workspace_id=quote.workspace_id, category=quote.category).exclude(
        pk=quote.pk
    ).update(accepted=False)
    quote.accepted = True
    quote.save(update_fields=["accepted"])
    summary = f"Accepted {quote.vendor}'s quote of {quote.amount} {quote.currency}"
    row_activity_record(quote, actor=actor, verb="quote.accepted", summary=summary)
    return quote


@transaction.atomic
def expense_add(*, workspace: Workspace, actor, data: dict[str, Any]) -> Expense:
    _same_currency(workspace, data["currency"])
    return recorded_create(
        Expense,
        workspace=workspace,
        actor=actor,
        verb="expense.added",
        summary=lambda expense: f"Spent {expense.amount} {expense.currency} on {expense.description}",
        **data,
    )


@dataclass
class CategoryLine:
    category: str
    budget: Decimal | None
    spent: Decimal
    quoted_low: Decimal | None
    remaining: Decimal | None
    over_budget: bool


@dataclass
class BudgetReport:
    currency: str
    total_budget: Decimal | None
    total_spent: Decimal
    remaining: Decimal | None
    over_budget: bool
    categories: list[CategoryLine] = field(default_factory=list)


def budget_report(*, workspace: Workspace) -> BudgetReport:
    """Budget vs actual per category (and in total), with the lowest live quote beside each."""
    budgets = {b.category: b.amount for b in Budget.objects.filter(workspace=workspace)}
    spent = {
        row["category"]: row["total"]
        for row in Expense.objects.alive()
        .filter(workspace=workspace)
        .values("category")
        .annotate(total=Sum("amount"))
    }
    quoted: dict[str, Decimal] = {}
    for quote in Quote.objects.alive().filter(workspace=workspace).only("category", "amount"):
        quoted[quote.category] = min(quote.amount, quoted.get(quote.category, quote.amount))
    lines = []
    for category in sorted((set(budgets) | set(spent) | set(quoted)) - {""}):
        budget = budgets.get(category)
        used = spent.get(category, Decimal("0"))
        lines.append(
            CategoryLine(
                category=category,
                budget=budget,
                spent=used,
                quoted_low=quoted.get(category),
                remaining=None if budget is None else budget - used,
                over_budget=budget is not None and used > budget,
            )
        )
    total_spent = sum(spent.values(), Decimal("0"))
    total_budget = budgets.get("")
    if total_budget is None and any(line.budget is not None for line in lines):
        total_budget = sum((line.budget for line in lines if line.budget is not None), Decimal("0"))
    return BudgetReport(
        currency=workspace.currency,
        total_budget=total_budget,
        total_spent=total_spent,
        remaining=None if total_budget is None else total_budget - total_spent,
        over_budget=total_budget is not None and total_spent > total_budget,
        categories=lines,
    )
