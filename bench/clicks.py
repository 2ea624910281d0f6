"""The click redirect, the endpoint every ad click hits: ``GET /c/...`` -> 302 vs a bare redirect.

One uvicorn server (real sockets) serves the ingest stage's routes plus ``GET /bench/redirect``,
which answers a 302 to a fixed landing page and does nothing else (:mod:`bench.http_load`). A load
generator keeps ``--concurrency`` requests in flight for ``--seconds`` against each, alternating:

1. bare: ``GET /bench/redirect`` - HTTP parsing, routing, a redirect response and the client's cost;
2. click: ``GET /c/bench/ad<N>?url=<landing>&fbclid=...`` with a browser's User-Agent and a Referer
   (100 ads, a landing URL with UTM parameters and one that is not on the allow-list): ids checked,
   rate limit, landing URL parsed and checked against the tenant's allow-list, the ad's hierarchy
   looked up (both cached per process), IP and user agent hashed, URLs minimized, ``AdClicked``
   published and acked by the broker, 302 with ``rl_cid``.

Prints both rates, their p50/p99 latencies (what a visitor waits) and the ratio (``--json``: one
JSON object with ``ratio``).

    python bench/clicks.py [--seconds 5] [--concurrency 8] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.http_load import cli, compare, hammer, ingress_server, report

LANDING = "https://shop.bench.test/spring?utm_source=facebook&utm_medium=paid&utm_campaign=spring&utm_id={ad}&ref=x"
USER_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 [FBAN/FBIOS]"


async def bare_redirect(_: Request) -> Response:
    return RedirectResponse("https://shop.bench.test/spring?utm_source=facebook", status_code=302,
                            headers={"Cache-Control": "no-store"})


async def main(seconds: float, concurrency: int, as_json: bool) -> None:
    setup = [("INSERT INTO tenants (tenant_id, landing_hosts) VALUES ('bench', $1)", (["shop.bench.test"],)),
             *(("INSERT INTO ad_catalog (tenant_id, ad_id, adset_id, campaign_id, learned_at) "
                "VALUES ('bench', $1, $2, 'c1', now())", (f"ad{n}", f"as{n % 5}")) for n in range(0, 100, 2))]
    async with ingress_server([Route("/bench/redirect", bare_redirect)], setup, concurrency) as server:
        client = server.client
        headers = {"User-Agent": USER_AGENT, "Referer": "https://l.facebook.com/"}
        paths = [f"/c/bench/ad{n % 100}?" + urlencode({"url": LANDING.format(ad=n % 100), "fbclid": f"IwAR{n}"})
                 for n in range(1000)]

        async def bare(_: int) -> httpx.Response:
            return await client.get("/bench/redirect", headers=headers)

        async def click(n: int) -> httpx.Response:
            return await client.get(paths[n % len(paths)], headers=headers)

        await hammer(bare, 0.5, concurrency, expect=302)  # warm up connections, code paths and caches
        await hammer(click, 0.5, concurrency, expect=302)
        bare_load, click_load = await compare(bare, click, seconds, concurrency, expect=302)
    report("click/bare", concurrency, seconds, ("bare redirect (baseline)", bare_load),
           ("click: record + publish + 302", click_load), as_json)


if __name__ == "__main__":
    cli(main, __doc__)
