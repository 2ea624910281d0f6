"""Ingest: everything that enters roasloop from outside (HubSpot, clicks, Meta insights, operators)."""
