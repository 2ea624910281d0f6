"""The daily report: what roasloop did with a tenant's money yesterday and over the last week.

Shared by the alerts stage (which e-mails it), the console (which serves it) and ``roasloop report``
(which writes it to a file), so the three show the same page. It reads PostgreSQL only.
"""
