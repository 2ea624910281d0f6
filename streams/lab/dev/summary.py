"""How many messages each topic holds: the summary ``roasloop dev`` prints when it stops."""

from __future__ import annotations

from streams.core.naming import catalog_topics
from streams.core.settings import Settings
from streams.core.topic_reader import message_counts


async def topic_counts(settings: Settings) -> dict[str, int]:
    """Messages per catalog topic (DLQs included)."""
    return await message_counts(settings, catalog_topics(settings))


def format_table(counts: dict[str, int]) -> str:
    width = max((len(n) for n in counts), default=10)
    lines = [f"{'topic'.ljust(width)}  messages", f"{'-' * width}  --------"]
    lines += [f"{name.ljust(width)}  {count:>8}" for name, count in counts.items()]
    return "\n".join(lines)
