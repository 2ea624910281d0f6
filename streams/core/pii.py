"""Personal data in free text: find it and take it out, before text is logged or published.

Emails and IP addresses turn up where nobody put them on purpose - a landing page's query string,
a Referer, a traceback's repr of a request, a dependency's error message. The stages match people
by *keyed hashes* only (:mod:`streams.core.hashing`); free text keeps none of them, so these
patterns replace each with a placeholder. They err toward redacting: a version string that looks
like an IPv4 address loses nothing an operator needs, a leaked address cannot be taken back.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote, unquote_plus

EMAIL = re.compile(r"[A-Za-z0-9._+\-]+(?:@|%40)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)")
IPV6_CANDIDATE = re.compile(r"(?<![0-9A-Za-z:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[\d.]+)?"
                            r"(?![0-9A-Za-z:])")
LOOPBACK = frozenset({"127.0.0.1", "0.0.0.0", "::1", "::"})
EMAIL_MARK = "[email]"
IP_MARK = "[ip]"


def _ip(match: re.Match[str]) -> str:
    candidate = match.group(0)
    if candidate in LOOPBACK:
        return candidate
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return candidate
    return IP_MARK


def scrub(text: str) -> str:
    """``text`` with every email and non-loopback IP address replaced by a placeholder."""
    if "@" in text or "%40" in text:
        text = EMAIL.sub(EMAIL_MARK, text)
    if "." in text:
        text = IPV4.sub(_ip, text)
    if "::" in text or text.count(":") >= 7:
        text = IPV6_CANDIDATE.sub(_ip, text)
    return text


REDACTED_VALUE = "[redacted]"


def has_personal_data(text: str) -> bool:
    """Whether ``text``, or its URL-decoded form, holds an email or an IP address."""
    return any(scrub(form) != form for form in {text, unquote(text), unquote_plus(text)})


def masked(value: str) -> str:
    """``value`` if it holds no personal data, else ``[redacted]`` as a whole: of a parameter value
    like ``jane.doe+ads@example.com`` decoded to ``jane.doe ads@...``, scrubbing would leave a name."""
    return REDACTED_VALUE if has_personal_data(value) else value
