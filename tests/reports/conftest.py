"""The alerts stage's sinks, for the report's delivery test."""

from tests.alerts.conftest import sinks

__all__ = ["sinks"]
