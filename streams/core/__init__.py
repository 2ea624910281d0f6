"""Plumbing shared by every stage: settings, broker, DLQ, inbox, db, clock, logging, metrics."""
