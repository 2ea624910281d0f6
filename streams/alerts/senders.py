"""Sending one message: a Slack-compatible incoming webhook (httpx) or an e-mail (aiosmtplib).

Each attempt is bounded by a timeout and raises :class:`SendFailed` with a *kind* of failure
("http 404", "timeout", "smtp refused") that is safe to store and show: never the URL, the
server's answer body or the exception text, which can echo credentials back.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
import httpx

from streams.alerts.settings import AlertsSettings

NOTICE_HEADER = "X-Roasloop-Notice-Id"
"""Every attempt of one message carries the same id: a receiver can drop a repeat."""


class SendFailed(Exception):
    def __init__(self, kind: str, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True)
class Message:
    event_id: str
    subject: str
    text: str
    html: str | None


def slack_payload(message: Message) -> dict[str, object]:
    """Slack's incoming-webhook format (also what Mattermost, Rocket.Chat and Teams' Slack mode take)."""
    body = message.text.removeprefix(message.subject).strip()
    return {"text": f"*{message.subject}*\n{body}", "unfurl_links": False}


async def post_webhook(http: httpx.AsyncClient, url: str, message: Message, timeout: float) -> None:
    try:
        response = await http.post(url, json=slack_payload(message), timeout=timeout,
                                   headers={NOTICE_HEADER: message.event_id})
    except httpx.TimeoutException:
        raise SendFailed("timeout") from None
    except httpx.HTTPError:
        raise SendFailed("unreachable") from None
    if response.status_code >= 300:
        retry_after = response.headers.get("retry-after", "")
        raise SendFailed(f"http {response.status_code}", float(retry_after) if retry_after.isdigit() else None)


def email(settings: AlertsSettings, recipients: list[str], message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = settings.email_from
    mail["To"] = ", ".join(recipients)
    mail["Message-ID"] = make_msgid(idstring=message.event_id, domain="roasloop")
    mail[NOTICE_HEADER] = message.event_id
    mail.set_content(message.text)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail


async def send_email(settings: AlertsSettings, recipients: list[str], message: Message, timeout: float) -> None:
    if not settings.smtp_host:
        raise SendFailed("no smtp server configured")
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    try:
        await aiosmtplib.send(
            email(settings, recipients, message), hostname=settings.smtp_host, port=settings.smtp_port,
            username=settings.smtp_username, password=password, timeout=timeout,
            use_tls=settings.smtp_security == "tls", start_tls=settings.smtp_security == "starttls",
        )
    except aiosmtplib.SMTPAuthenticationError:
        raise SendFailed("smtp authentication failed") from None
    except aiosmtplib.SMTPRecipientsRefused:
        raise SendFailed("smtp recipients refused") from None
    except aiosmtplib.SMTPResponseException as exc:
        raise SendFailed(f"smtp {exc.code}") from None
    except (TimeoutError, aiosmtplib.SMTPTimeoutError):
        raise SendFailed("timeout") from None
    except (aiosmtplib.SMTPException, OSError):
        raise SendFailed("smtp unreachable") from None
