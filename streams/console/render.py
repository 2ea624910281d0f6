"""Answers in JSON: dates and numbers as the page reads them, and the ratios every page shows."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from streams.core.web import json_response


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def answer(route: str, body: dict[str, Any], status: int = 200) -> Response:
    """A JSON response of ``body``; datetimes as ISO 8601, decimals as numbers."""
    return json_response(route, status, json.loads(json.dumps(body, default=_plain)))


def roas(revenue_minor: int, spend_minor: int) -> float | None:
    """Pipeline ROAS: pipeline value per unit of spend (None with no spend: undefined, not zero)."""
    return round(revenue_minor / spend_minor, 4) if spend_minor > 0 else None
