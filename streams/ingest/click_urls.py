"""The URLs of a click: where the visitor may go, and what of them roasloop keeps.

- :func:`landing` reads the ``url`` parameter, or says which rule it breaks (400): absolute http(s),
  a host, a port that is a number, at most 4,000 characters, no control characters.
- :func:`host_allowed`: only hosts on the tenant's allow-list are followed, otherwise anyone could
  use us as an open redirect for phishing (``*.example.com`` allows subdomains, not the apex).
- :func:`minimized`: what a click event carries of the landing URL and the Referer. Query strings
  are where people's emails, IPs and session tokens end up (``?email=...`` from a form, a
  newsletter's tracking link), so only the parameters attribution and reporting use survive (an
  allow-list: ``utm_*``, ``fbclid``, ``gclid``, ``rl_cid`` by default), user info and fragments are
  dropped, a kept value holding an email or IP becomes ``[redacted]`` and one in the host or path is
  replaced (:mod:`streams.core.pii`).
"""

from __future__ import annotations

import fnmatch
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from streams.core import pii

CLICK_ID_PARAM = "rl_cid"
MAX_URL = 4000


class BadUrl(ValueError):
    """The landing URL breaks a rule; the message says which."""


def _control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def landing(url: str) -> SplitResult:
    if not url:
        raise BadUrl("url: required, the absolute http(s) URL of the landing page")
    if len(url) > MAX_URL:
        raise BadUrl(f"url: at most {MAX_URL} characters")
    if _control(url):
        raise BadUrl("url: control characters are not allowed")
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # each raises ValueError on a malformed authority
    except ValueError:
        raise BadUrl("url: not a valid URL (host or port malformed)") from None
    if parts.scheme not in ("http", "https") or not host:
        raise BadUrl("url: must be an absolute http(s) URL")
    return parts


def host_allowed(host: str, allowed: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for entry in (a.strip().lower().rstrip(".") for a in allowed):
        if entry.startswith("*.") and host.endswith(entry[1:]) and len(host) > len(entry) - 1:
            return True
        if host == entry:
            return True
    return False


def with_click_id(parts: SplitResult, click_id: str) -> str:
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != CLICK_ID_PARAM]
    query.append((CLICK_ID_PARAM, click_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


def allowed_param(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns)


def minimized(url: str | None, patterns: tuple[str, ...], limit: int = 2000) -> str | None:
    """``url`` without what identifies a person (see the module doc); None if nothing is left."""
    if not url or _control(url):
        return None
    try:
        parts = urlsplit(url[:MAX_URL])
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return None
    query = [(k, pii.masked(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if allowed_param(k, patterns)]
    netloc = pii.scrub(f"[{host}]" if ":" in host else host) + port
    path = parts.path if not pii.has_personal_data(parts.path) else quote(pii.scrub(unquote(parts.path)), safe="/[]")
    kept = urlunsplit((parts.scheme, netloc, path, urlencode(query), ""))
    return kept[:limit] or None
