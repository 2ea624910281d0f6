"""Plumbing shared by every stage: settings, broker, DLQ, inbox, db, clock, logging, metrics.

Importing it installs the log scrubbing (:mod:`streams.core.logging`), so no code path of roasloop
writes a log line with a secret or a raw email or IP, whether or not anyone configured logging.
"""

from streams.core import logging as _logging  # noqa: F401  (installed on import)
