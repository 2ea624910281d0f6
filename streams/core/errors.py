"""The three kinds of failure a processor distinguishes, because each is handled differently.

- :class:`PoisonMessage`: this message can never succeed (undecodable, invalid, refers to
  nothing). It goes to ``<topic>.dlq`` and the consumer moves on.
- :class:`TransientError`: the world is briefly broken (database down, Meta throttling). The
  message is retried with bounded backoff and never dead-lettered for this.
- :class:`ConfigError`: the process cannot run as configured; it fails at start.
"""

from __future__ import annotations


class RoasloopError(Exception):
    pass


class ConfigError(RoasloopError):
    """A setting is missing or wrong. The message names the setting and why."""


class PoisonMessage(RoasloopError):
    """A message that no retry can fix."""


class TransientError(RoasloopError):
    """A failure worth retrying; ``retry_after`` (seconds) overrides the backoff when known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
