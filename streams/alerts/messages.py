"""What a notice says: one subject line, a plain text for Slack and e-mail, a small HTML for e-mail.

Written once per notice when it is queued, so every retry sends the same words. Only what the
alert carries goes in - rule, subject, title, detail and facts (ids and numbers) - never a
channel's destination.
"""

from __future__ import annotations

import html

from schemas.events import AlertNotified

PREFIX = {"raised": "", "reminder": "Still firing: ", "resolved": "Resolved: "}
ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


def subject_of(event: AlertNotified) -> str:
    mark = "✅" if event.notice == "resolved" else ICON[event.severity]
    return f"{mark} [roasloop {event.tenant_id}] {PREFIX[event.notice]}{event.title}"[:300]


def _fact_lines(event: AlertNotified) -> list[str]:
    return [f"{name}: {value}" for name, value in sorted(event.facts.items()) if value is not None]


def render_notice(event: AlertNotified) -> tuple[str, str, str]:
    """(subject, text, html) of a notice."""
    subject = subject_of(event)
    when = f"since {event.raised_at:%Y-%m-%d %H:%M} UTC" if event.notice != "resolved" else (
        f"raised {event.raised_at:%Y-%m-%d %H:%M} UTC, resolved {event.occurred_at:%Y-%m-%d %H:%M} UTC")
    lines = [subject, "", *([event.detail] if event.detail else []), *_fact_lines(event), "",
             f"rule {event.rule} · {event.severity} · {when} · alert {event.alert_id}"]
    text = "\n".join(lines)
    facts = "".join(f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(value))}</td></tr>"
                    for name, value in sorted(event.facts.items()) if value is not None)
    body = (
        "<!doctype html><html><body style=\"font-family:sans-serif\">"
        f"<h2 style=\"font-size:16px\">{html.escape(subject)}</h2>"
        + (f"<p>{html.escape(event.detail)}</p>" if event.detail else "")
        + (f"<table style=\"border-collapse:collapse\">{facts}</table>" if facts else "")
        + f"<p style=\"color:#666;font-size:12px\">{html.escape(lines[-1])}</p></body></html>"
    )
    return subject, text, body
