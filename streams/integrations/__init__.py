"""Clients of the outside world that more than one stage uses: Meta's Graph API and HubSpot's CRM API.

They stand on ``schemas`` and ``streams.core`` only, so the insights poller (ingest) and the
executor share one Meta client, and no stage reaches into another for it.
"""
