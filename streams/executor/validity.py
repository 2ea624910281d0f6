"""What a request must satisfy before the executor acts on it, beyond what decoding checked.

Why here as well as in the schemas and the API: a producer in another language, an older
roasloop, or a hand-written record can still put a budget the database cannot hold (``10**30``
overflows a ``bigint``) on the topic. Left to the database, that is an exception retried a few
times and then dropped without an outcome; checked here, it is a ``failed`` outcome naming the
field, recorded with the amount held at the ceiling (the error carries what was asked).
"""

from __future__ import annotations

from schemas.events import BudgetChangeRequested
from schemas.money import MAX_BUDGET_MINOR, Money


def _shown(amount: int) -> str:
    text = str(amount)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} digits)"


def problem_of(request: BudgetChangeRequested) -> str | None:
    """Why the request cannot be executed as sent; None when it can."""
    if request.requested_budget.amount_minor > MAX_BUDGET_MINOR:
        return (f"requested_budget.amount_minor: {_shown(request.requested_budget.amount_minor)} is above the "
                f"ceiling of {MAX_BUDGET_MINOR}")
    previous = request.previous_budget_minor
    if previous is not None and previous > MAX_BUDGET_MINOR:
        return f"previous_budget_minor: {_shown(previous)} is above the ceiling of {MAX_BUDGET_MINOR}"
    return None


def storable(request: BudgetChangeRequested) -> BudgetChangeRequested:
    """The request with its amounts held at the ceiling, so its ``failed`` row fits the table."""
    amount = min(request.requested_budget.amount_minor, MAX_BUDGET_MINOR)
    previous = request.previous_budget_minor
    return request.model_copy(update={
        "requested_budget": Money(amount_minor=amount, currency=request.requested_budget.currency),
        "previous_budget_minor": None if previous is None else min(previous, MAX_BUDGET_MINOR),
    })
