"""An email and an IP in a landing URL and a Referer reach no topic, no row and no log line.

The click comes through uvicorn on a real socket with its access log on (INFO), so uvicorn's own
line - client address, path and query string - is among the lines searched; a producer's click
batch brings the same data in its JSON. The click is still recorded with what attribution needs
(UTM parameters, fbclid, the keyed hashes), so the test fails if minimizing drops too much.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest

from schemas import AdClicked, decode_as
from schemas.topics import CLICKS
from streams.core.hashing import keyed_hash
from streams.core.settings import Settings
from tests.helpers import read_records
from tests.http_stack import served
from tests.jwt_issuer import Issuer
from tests.leak_search import everything_stored, places_holding

EMAIL = "jane.doe+ads@example.com"
IP = "198.51.100.77"
LANDING = f"https://shop.acme.test/offer?utm_source=fb&utm_term={EMAIL}&email={EMAIL}&ip={IP}&fbclid=IwAR9#{EMAIL}"
REFERER = f"https://{IP}/mail/{EMAIL}/inbox?user={EMAIL}&from={IP}&utm_medium=email"


async def test_an_email_and_ip_in_the_landing_url_and_referer_are_in_no_topic_row_or_log_line(
        settings: Settings, jwks_url: str, issuer: Issuer, db_pool: asyncpg.Pool[Any],
        capfd: pytest.CaptureFixture[str]) -> None:
    async with (served(settings, jwks_url, issuer, db_pool, access_log=True) as stack,
                httpx.AsyncClient(base_url=stack.base) as client):
        click = await client.get("/c/acme/ad7?" + urlencode({"url": LANDING}),
                                 headers={"Referer": REFERER, "User-Agent": f"Mozilla/5.0 ({EMAIL})"})
        batch = await client.post("/v1/clicks", headers=stack.callers["producer"], json=[{
            "ad_id": "ad8", "occurred_at": "2026-05-01T09:00:00Z", "landing_url": LANDING, "referrer": REFERER,
            "email": EMAIL, "ip": IP, "utm": {"content": EMAIL}}])
        refused = await client.get("/c/acme/ad7?" + urlencode({"url": f"https://evil.test/?e={EMAIL}&i={IP}"}))
    assert (click.status_code, batch.status_code, refused.status_code) == (302, 200, 400)
    clicks = {c.ad_id: c for c in (decode_as(r.value, AdClicked) for r in await read_records(settings, CLICKS,
                                                                                             min_count=2))}
    redirect = clicks["ad7"]
    assert (redirect.utm.source, redirect.utm.term, redirect.fbclid) == ("fb", "[redacted]", "IwAR9")
    assert redirect.landing_url == "https://shop.acme.test/offer?utm_source=fb&utm_term=%5Bredacted%5D&fbclid=IwAR9"
    assert redirect.referrer == "https://[ip]/mail/[email]/inbox?utm_medium=email"
    assert redirect.ip_hash == keyed_hash(settings.hash_key, "127.0.0.1")
    assert clicks["ad8"].email_hash == keyed_hash(settings.hash_key, EMAIL)
    assert clicks["ad8"].utm.content == "[redacted]"
    assert clicks["ad8"].ip_hash == keyed_hash(settings.hash_key, IP)
    logs = capfd.readouterr()
    assert '"GET /c/acme/ad7?url=' in logs.err + logs.out  # uvicorn's access line was written, and searched
    texts = await everything_stored(db_pool, settings) | {"stdout": logs.out, "stderr": logs.err}
    assert texts["topic clicks.v1"].count('"AdClicked"') == 2  # the search did read what was published
    for value in (EMAIL, EMAIL.replace("@", "%40"), EMAIL.replace("+", "%2B").replace("@", "%40"), IP):
        assert places_holding(value, texts) == [], value
