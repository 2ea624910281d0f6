"""Feeding the ingress over HTTP during the chaos run: ad-click redirects and signed HubSpot webhooks.

The ingress replicas sit behind what a load balancer would do: each request goes to the next live
replica. Webhooks are sent as HubSpot sends them - batches, v3-signed for the URL they are posted
to, retried on connection errors, timeouts, 429 and 5xx with backoff, up to 10 attempts, and a
few already-acknowledged batches delivered again (HubSpot duplicates) - and every attempt's status
is recorded, so the checks can demand that each 2xx produced its events exactly once downstream
and that every 503 was retried until it landed. Click redirects record the click id the 302 hands
the visitor (``rl_cid``), which must then be indexed exactly once. While the broker is restarted,
:class:`OutageWebhooks` sends deliveries on purpose, so the 503 path is always exercised.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from streams.ingest.hubspot_events import parse_item
from streams.lab.sandbox.hubspot_webhooks import RETRYABLE_STATUS, batches, deal_stage_event, signed_request

SECRET = "chaos-hubspot-secret"
PORTAL = 70_011
TENANT = "tweb"
LANDING_HOST = "shop.example"
MAX_ATTEMPTS = 10
STAGE_PATH = ("appointmentscheduled", "qualifiedtobuy", "closedwon")
OUTAGE_FIRST_DEAL = 5_000_000  # deals sent during a broker outage: ids apart from the regular feed's


@dataclass
class Delivery:
    events: list[dict[str, Any]]
    statuses: list[int | None] = field(default_factory=list)  # None: connection error or timeout
    during_outage: bool = False  # first sent while the broker was away (:class:`OutageWebhooks`)

    @property
    def landed(self) -> bool:
        return any(s is not None and 200 <= s < 300 for s in self.statuses)

    @property
    def event_ids(self) -> list[str]:
        return [parse_item(e).event_id_for() for e in self.events]


@dataclass
class Feed:
    deliveries: list[Delivery] = field(default_factory=list)
    click_ids: list[str] = field(default_factory=list)
    click_statuses: Counter[str] = field(default_factory=Counter)

    @property
    def answered(self) -> Counter[str]:
        return Counter(str(s) for d in self.deliveries for s in d.statuses)


def setup_sql() -> list[tuple[str, tuple[Any, ...]]]:
    """The rows the ingress needs: the tenant's landing host and the portal -> tenant mapping."""
    return [
        ("INSERT INTO tenants (tenant_id, landing_hosts) VALUES ($1, $2) ON CONFLICT DO NOTHING",
         (TENANT, [LANDING_HOST])),
        ("INSERT INTO hubspot_portals (portal_id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
         (PORTAL, TENANT)),
    ]


def webhook_events(run_no: int, deals: int, now: datetime, first_deal: int = 0) -> list[dict[str, Any]]:
    events = []
    for d in range(first_deal, first_deal + deals):
        deal_id = str(run_no * 10_000_000 + d)
        for k, stage in enumerate(STAGE_PATH[: 1 + d % len(STAGE_PATH)]):
            events.append(deal_stage_event(deal_id=deal_id, stage_id=stage, occurred_at=now + timedelta(minutes=k),
                                           portal_id=PORTAL, app_id=1, subscription_id=7))
    return events


class Sender:
    """Round-robin over the live ingress ports, as a load balancer in front of the replicas."""

    def __init__(self, ports: Callable[[], list[int]], feed: Feed, rng: random.Random,
                 on_status: Callable[[int | None], None] | None = None) -> None:
        self.ports, self.feed, self.rng, self.on_status = ports, feed, rng, on_status
        self.turn = itertools.count()
        self.client = httpx.AsyncClient(timeout=5.0)

    def base(self) -> str:
        ports = self.ports()
        return f"http://127.0.0.1:{ports[next(self.turn) % len(ports)]}"

    async def deliver(self, delivery: Delivery) -> None:
        for attempt in range(MAX_ATTEMPTS):
            url = f"{self.base()}/webhooks/hubspot"
            body, headers = signed_request(delivery.events, url=url, client_secret=SECRET, attempt=attempt,
                                           versions=("v3",))
            try:
                status: int | None = (await self.client.post(url, content=body, headers=headers)).status_code
            except httpx.HTTPError:
                status = None
            delivery.statuses.append(status)
            if self.on_status is not None:
                self.on_status(status)
            if status is not None and (status < 300 or status not in RETRYABLE_STATUS):
                return
            # HubSpot spreads its 10 attempts over a day; compressed to ~2 minutes, still longer than a
            # restart of any one part takes, so a delivery that never lands is a finding, not the schedule
            await asyncio.sleep(min(30.0, 0.5 * 2**attempt) * self.rng.uniform(0.75, 1.0))

    async def click(self, n: int, ads: list[str]) -> None:
        for _ in range(MAX_ATTEMPTS):  # a visitor whose page failed to load clicks again
            url = f"{self.base()}/c/{TENANT}/{self.rng.choice(ads)}"
            try:
                response = await self.client.get(url, params={"url": f"https://{LANDING_HOST}/p?n={n}",
                                                              "utm_source": "facebook"})
            except httpx.HTTPError:
                self.feed.click_statuses["connection error"] += 1
                await asyncio.sleep(0.2)
                continue
            self.feed.click_statuses[str(response.status_code)] += 1
            if response.status_code == 302:
                query = parse_qs(urlsplit(response.headers["location"]).query)
                self.feed.click_ids.extend(query.get("rl_cid", []))
                if "rl_cid" not in query:  # broker away: the visitor goes on, the click is lost by design
                    self.feed.click_statuses["302 without click id"] += 1
                return
            await asyncio.sleep(0.2)


async def feed_ingress(ports: Callable[[], list[int]], run_no: int, clicks: int, deals: int, span: float,
                       rng: random.Random, concurrency: int = 4) -> Feed:
    """Spread ``clicks`` redirects and ``deals`` deals' webhooks over ``span`` seconds."""
    feed = Feed()
    sender = Sender(ports, feed, rng)
    events = webhook_events(run_no, deals, datetime.now(UTC) - timedelta(hours=1))
    batch_size = 10
    feed.deliveries = [Delivery(b) for b in batches(events, batch_size)]
    ads = [f"web-ad-{i}" for i in range(8)]
    jobs: list[Any] = [("click", n) for n in range(clicks)] + [("hook", d) for d in feed.deliveries]
    rng.shuffle(jobs)
    pace = span / max(1, len(jobs)) * concurrency
    lanes = [jobs[i::concurrency] for i in range(concurrency)]

    async def lane(work: list[Any]) -> None:
        for kind, item in work:
            await (sender.click(item, ads) if kind == "click" else sender.deliver(item))
            await asyncio.sleep(pace * rng.uniform(0.5, 1.5))

    try:
        await asyncio.gather(*(lane(w) for w in lanes))
        # HubSpot delivers some notifications again although they were acknowledged
        again = [Delivery(d.events) for d in rng.sample(feed.deliveries, k=max(1, len(feed.deliveries) // 20))
                 if d.landed]
        for d in again:
            await sender.deliver(d)
        feed.deliveries += again
    finally:
        await sender.client.aclose()
    return feed


class OutageWebhooks:
    """Signed webhooks sent while the broker is away: the ingress must answer them 503, and HubSpot's
    retries must then land them once the broker is back.

    Why on purpose: a broker restart lasts seconds and the regular feed may well not meet it, and a
    check "every 503 was retried and landed" that no 503 reached is true by vacuity. Each delivery
    runs in the background with :meth:`Sender.deliver`'s HubSpot schedule, so it keeps retrying after
    :meth:`while_down` returned (and the broker came back); :meth:`finish` waits for them all.
    """

    def __init__(self, ports: Callable[[], list[int]], run_no: int, rng: random.Random, deliveries: int = 3,
                 timeout: float = 20.0) -> None:
        self.feed = Feed()
        self.sender = Sender(ports, self.feed, rng, on_status=self._answered)
        self.saw_503 = asyncio.Event()
        self.run_no, self.per_outage, self.timeout = run_no, deliveries, timeout
        self.tasks: list[asyncio.Task[None]] = []
        self.next_deal = OUTAGE_FIRST_DEAL

    async def while_down(self) -> str:
        """Send deliveries until one was answered 503 (or ``timeout``); say what happened."""
        deals = self.per_outage * 2
        events = webhook_events(self.run_no, deals, datetime.now(UTC) - timedelta(hours=1), self.next_deal)
        self.next_deal += deals
        sent = [Delivery(b, during_outage=True) for b in batches(events, -(-len(events) // self.per_outage))]
        self.feed.deliveries += sent
        self.tasks += [asyncio.create_task(self.sender.deliver(d)) for d in sent]
        self.saw_503.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.saw_503.wait(), self.timeout)
        answers = Counter(str(s) for d in sent for s in d.statuses)
        return f"{len(sent)} webhook deliveries sent, answered {dict(sorted(answers.items()))}"

    def _answered(self, status: int | None) -> None:
        if status == 503:
            self.saw_503.set()

    async def finish(self) -> list[Delivery]:
        """Wait until every outage delivery landed or ran out of attempts; its deliveries, for the checks."""
        try:
            await asyncio.gather(*self.tasks)
        finally:
            await self.sender.client.aclose()
        return self.feed.deliveries
