"""One ad set's day in the market: spend, clicks, and the future of every deal those clicks start.

Each (day, ad set) pair draws from its own random stream seeded by ``(seed, day, ad set index)``,
so an ad set's outcome depends on its own budget only: two policies run on one seed see the same
luck for the same spend (common random numbers make regret comparisons sharp).
"""

from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from streams.lab.sandbox.market_scenario import AdSetSpec, Overspend, Tracking
from streams.lab.sandbox.market_truth import Multipliers, expected_clicks
from streams.lab.sandbox.market_types import AdEntity, ClickRecord, ContactRecord, StageChange

USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 [FBAN/FBIOS;FBAV/455.0.0.38.106]",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 "
    "Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/456.0.0.40.79;]",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
)

# (rate attribute, stage reached, delay attribute), in pipeline order after appointmentscheduled
PIPELINE_STEPS: tuple[tuple[str, str, str], ...] = (
    ("qualify_rate", "qualifiedtobuy", "qualify"),
    ("appointment_rate", "presentationscheduled", "appointment"),
    ("decision_rate", "decisionmakerboughtin", "decision"),
    ("contract_rate", "contractsent", "contract"),
    ("win_rate", "closedwon", "close"),
)
SECONDS_PER_DAY = 86_400


def rng_for(seed: int, *path: int) -> np.random.Generator:
    """An independent, reproducible random stream for one named slot of the simulation."""
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, *path]))


def _digest(*parts: object, size: int = 16) -> bytes:
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=size).digest()


def fbclid_for(seed: int, click_id: str) -> str:
    return "IwAR" + base64.urlsafe_b64encode(_digest("fbclid", seed, click_id, size=30)).decode().rstrip("=")


def email_for(seed: int, click_id: str) -> str:
    return f"p{_digest('email', seed, click_id, size=5).hex()}@example.com"


@dataclass(frozen=True)
class AdSetContext:
    """Where an ad set sits in the market and how its records are named."""

    index: int  # global, stable ad set index
    adset_id: str
    campaign_id: str
    group_id: str
    spec: AdSetSpec


@dataclass(frozen=True)
class SimulatedDelivery:
    spend_minor: int
    impressions: int
    clicks: tuple[ClickRecord, ...]
    clicks_by_ad: tuple[tuple[str, int], ...]
    leads: int
    future: tuple[ContactRecord | StageChange, ...]  # contacts and stage changes, any day from now


def spend_for(rng: np.random.Generator, budget_minor: int, overspend: Overspend) -> int:
    """Meta-like delivery: close to budget on average, never above 125% of it."""
    if budget_minor <= 0:
        return 0
    factor = float(np.clip(rng.normal(overspend.mean, overspend.sd), overspend.floor, overspend.cap))
    return min(int(budget_minor * factor), budget_minor * 125 // 100)


def _delay(rng: np.random.Generator, mean_days: float) -> timedelta:
    seconds = 1.0 + (float(rng.gamma(2.0, mean_days / 2.0)) * SECONDS_PER_DAY if mean_days > 0 else 0.0)
    return timedelta(seconds=round(seconds))


def simulate_adset_day(
    *,
    seed: int,
    day_index: int,
    day_start: datetime,
    ctx: AdSetContext,
    ads: tuple[tuple[AdEntity, float], ...],
    budget_minor: int,
    drift: Multipliers,
    overspend: Overspend,
    tracking: Tracking,
) -> SimulatedDelivery:
    """Spend ``budget_minor`` for one day and follow every resulting deal to its end."""
    spec = ctx.spec
    rng = rng_for(seed, day_index, ctx.index)
    spend = spend_for(rng, budget_minor, overspend)
    mean_clicks = expected_clicks(spec, spend, drift.cpc)
    n_clicks = int(rng.poisson(mean_clicks)) if spend > 0 else 0
    impressions = max(n_clicks, int(rng.poisson(mean_clicks / spec.ctr))) if spend > 0 else 0
    weights = np.array([w for _, w in ads], dtype=float)
    counts = rng.multinomial(n_clicks, weights / weights.sum()) if ads else np.zeros(0, dtype=int)
    ad_of_click = [ads[i][0] for i, c in enumerate(counts) for _ in range(int(c))]
    rng.shuffle(ad_of_click)
    times = np.sort(rng.integers(0, SECONDS_PER_DAY, size=n_clicks))
    lead_rate = min(1.0, spec.funnel.lead_rate * drift.lead_rate)
    clicks: list[ClickRecord] = []
    future: list[ContactRecord | StageChange] = []
    leads = 0
    for n in range(n_clicks):
        ad = ad_of_click[n]
        click_id = f"rlc-{seed}-{day_index:04d}-{ctx.index:03d}-{n:05d}"
        at = day_start + timedelta(seconds=int(times[n]))
        ip = f"100.{64 + int(rng.integers(0, 64))}.{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}"
        ua = USER_AGENTS[int(rng.integers(0, len(USER_AGENTS)))]
        fbclid = fbclid_for(seed, click_id)
        click = ClickRecord(
            click_id=click_id,
            ad_id=ad.ad_id,
            adset_id=ctx.adset_id,
            campaign_id=ctx.campaign_id,
            group_id=ctx.group_id,
            occurred_at=at,
            fbclid=fbclid,
            ip=ip,
            user_agent=ua,
            email=email_for(seed, click_id),
            email_on_click=bool(rng.random() < tracking.email_on_click_rate),
            landing_url=(
                f"https://example.com/landing?utm_source=facebook&utm_medium=paid_social"
                f"&utm_campaign={ctx.campaign_id}&utm_content={ctx.adset_id}&utm_id={ad.ad_id}"
                f"&fbclid={fbclid}&rl_cid={click_id}"
            ),
        )
        clicks.append(click)
        if rng.random() < lead_rate:
            leads += 1
            future.extend(_deal_future(rng, seed, day_index, ctx, n, click, drift, tracking))
    by_ad = tuple((ad.ad_id, int(c)) for (ad, _), c in zip(ads, counts, strict=True))
    return SimulatedDelivery(spend, impressions, tuple(clicks), by_ad, leads, tuple(future))


def _deal_future(
    rng: np.random.Generator,
    seed: int,
    day_index: int,
    ctx: AdSetContext,
    n: int,
    click: ClickRecord,
    drift: Multipliers,
    tracking: Tracking,
) -> list[ContactRecord | StageChange]:
    spec = ctx.spec
    deal_id = f"1{day_index:05d}{ctx.index:04d}{n:06d}"
    contact_id = f"2{day_index:05d}{ctx.index:04d}{n:06d}"
    created = click.occurred_at + _delay(rng, spec.delays.lead)
    has_ip_ua = rng.random() < tracking.ip_ua_capture_rate
    contact = ContactRecord(
        contact_id=contact_id,
        deal_id=deal_id,
        created_at=created,
        email=click.email,
        click_id=click.click_id if rng.random() < tracking.click_id_capture_rate else None,
        fbclid=click.fbclid if rng.random() < tracking.fbclid_capture_rate else None,
        ip=click.ip if has_ip_ua else None,
        user_agent=click.user_agent if has_ip_ua else None,
        true_click_id=click.click_id,
        ad_id=click.ad_id,
        adset_id=ctx.adset_id,
        campaign_id=ctx.campaign_id,
    )
    path: list[tuple[str, datetime, int | None]] = [("appointmentscheduled", created, None)]
    t = created
    for rate_name, stage, delay_name in PIPELINE_STEPS:
        rate = getattr(spec.funnel, rate_name)
        if stage == "closedwon":
            rate = min(1.0, rate * drift.win_rate)
        if rng.random() < rate:
            t = t + _delay(rng, getattr(spec.delays, delay_name))
            amount = None
            if stage == "closedwon":
                sigma = spec.deal_amount_sigma
                mu = math.log(spec.deal_amount_minor) - sigma * sigma / 2
                amount = max(1, round(float(rng.lognormal(mu, sigma))))
            path.append((stage, t, amount))
        else:
            if rng.random() < spec.funnel.lost_report_rate:
                path.append(("closedlost", t + _delay(rng, spec.delays.lost), None))
            break
    out: list[ContactRecord | StageChange] = [contact]
    previous: str | None = None
    for stage, at, amount in path:
        out.append(
            StageChange(
                deal_id=deal_id,
                contact_id=contact_id,
                stage_id=stage,
                previous_stage_id=previous,
                occurred_at=at,
                amount_minor=amount,
                click_id=click.click_id,
                ad_id=click.ad_id,
                adset_id=ctx.adset_id,
                campaign_id=ctx.campaign_id,
                group_id=ctx.group_id,
                contact=contact,
            )
        )
        previous = stage
    return out
