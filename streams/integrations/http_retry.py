"""One retry loop for every outbound HTTP call roasloop makes (HubSpot, Meta, JWKS).

Retries transport errors, 429 and 5xx with exponential backoff (``Retry-After`` wins when the
server sends one); anything else is returned to the caller to interpret. Sleeping goes through
the injected clock so tests and replays do not wait for real.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from streams.core.clock import Clock
from streams.core.errors import TransientError
from streams.core.metrics import EXTERNAL_API_ERRORS

RETRYABLE = frozenset({429, 500, 502, 503, 504})


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


async def send_with_retries(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    clock: Clock,
    api: str,
    attempts: int,
    backoff_s: float,
    max_backoff_s: float = 30.0,
    extra_delay: Callable[[httpx.Response], float | None] | None = None,
) -> httpx.Response:
    """Return the first non-retryable response; raise TransientError when attempts run out."""
    problem = "no attempt made"
    for attempt in range(attempts):
        delay = min(max_backoff_s, backoff_s * 2**attempt)
        try:
            response = await send()
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}"
            EXTERNAL_API_ERRORS.labels(api=api, code="transport").inc()
        else:
            hinted = extra_delay(response) if extra_delay else None
            if response.status_code not in RETRYABLE and hinted is None:
                return response
            EXTERNAL_API_ERRORS.labels(api=api, code=str(response.status_code)).inc()
            problem = f"HTTP {response.status_code}"
            delay = max(delay, retry_after_seconds(response) or 0.0, hinted or 0.0)
            if delay > max_backoff_s * 4:  # throttled for minutes: give up now, retry later
                raise TransientError(f"{api}: {problem}, throttled for {delay:.0f}s", retry_after=delay)
        if attempt + 1 < attempts:
            await clock.sleep(delay)
    raise TransientError(f"{api}: {problem} after {attempts} attempts")
