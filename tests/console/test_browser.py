"""The console in a real browser against a real dev stack: sign in, see the numbers, steer the money.

One ``roasloop dev`` stack for the module (every stage, the Meta and HubSpot stand-ins, the market
playing through the real ingress), driven by headless Chromium from the distribution through
Playwright. The sampler decides once a simulated day (a few wall seconds) so a person has time to
act on what waits. Set ``ROASLOOP_CONSOLE_SCREENSHOTS=docs/console`` to refresh README's pictures.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from streams.core.db import create_pool
from streams.core.settings import load_settings
from streams.lab.dev.ports import free_port
from streams.lab.dev.runtime import DevOptions, DevStack, dev_stack
from streams.lab.dev.simulation import Sandbox
from tests.infra import drop_topics

CHROMIUM = "/usr/bin/chromium"
SECONDS_PER_DAY = 16.0
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = os.environ.get("ROASLOOP_CONSOLE_SCREENSHOTS")

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
async def stack(kafka_bootstrap: str, pg_url: str, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[DevStack]:
    saved = dict(os.environ)
    run = uuid.uuid4().hex[:8]
    port = free_port()
    os.environ.update({
        "ROASLOOP_SAMPLER_SCHEDULE_SECONDS": "86400",  # one decision a simulated day
        "ROASLOOP_SAMPLER_SIGNIFICANT_EVENTS": "1000000",  # and none driven by evidence in between
        "ROASLOOP_SAMPLER_DELAY_PRIOR_MEAN_DAYS": "0.5",
    })
    settings = load_settings(kafka_bootstrap_servers=kafka_bootstrap, database_url=pg_url, topic_prefix=f"ui{run}.",
                             database_schema=f"ui_{run}", kafka_session_timeout_ms=3000,
                             kafka_heartbeat_interval_ms=1000, http_port=port, log_level="WARNING")
    sandbox = Sandbox.start("fast_small", 7, SECONDS_PER_DAY)
    options = DevOptions(port=port, seconds_per_day=SECONDS_PER_DAY,
                         issuer_path=tmp_path_factory.mktemp("issuer") / "issuer.json")
    try:
        async with dev_stack(options, settings, sandbox) as running:
            yield running
    finally:
        sandbox.stop()
        await drop_topics(kafka_bootstrap, settings.topic_prefix)
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
async def db(stack: DevStack) -> AsyncIterator[asyncpg.Pool[Any]]:
    pool = await create_pool(stack.settings, min_size=1, max_size=2)
    yield pool
    await pool.close()


def chromium() -> str:
    assert Path(CHROMIUM).exists(), "make test installs Chromium (apt-get install chromium)"
    return CHROMIUM


def screenshot_path(name: str) -> str | None:
    if not SCREENSHOTS:
        return None
    Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
    return str(Path(SCREENSHOTS) / f"{name}.png")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield launched
        await launched.close()


async def eventually(check: Any, timeout: float = 45.0, interval: float = 0.5) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(interval)


async def signed_in(browser: Browser, stack: DevStack, role: str) -> Page:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.on("pageerror", lambda error: pytest.fail(f"script error on the page: {error}"))
    await page.goto(f"{stack.base_url}/console/")
    await page.click(f"[data-testid=dev-{role}]")
    await page.wait_for_selector("[data-testid=groups]")
    assert role in await page.text_content("[data-testid=who]") or ""
    return page


async def group_id(db: asyncpg.Pool[Any], tenant: str) -> str:
    async def decided() -> str | None:
        value = await db.fetchval("SELECT group_id FROM sampler_decisions WHERE tenant_id = $1 LIMIT 1", tenant)
        return None if value is None else str(value)

    return str(await eventually(decided, timeout=90))


async def shot(page: Page, name: str) -> None:
    path = screenshot_path(name)
    if path:
        await page.screenshot(path=path, full_page=True)


async def test_each_role_sees_only_the_controls_it_may_use_and_a_viewers_forged_write_is_refused(
        stack: DevStack, db: asyncpg.Pool[Any], browser: Browser) -> None:
    group = await group_id(db, stack.tenant_id)
    controls = {"#budget-form": "ADMIN", "#kill-switch": "ADMIN", "form.bounds": "ADMIN", "#mode-form": "EDITOR",
                "#change-form": "EDITOR"}
    for role in ("VIEWER", "EDITOR", "ADMIN"):
        page = await signed_in(browser, stack, role)
        await page.goto(f"{stack.base_url}/console/#/t/{stack.tenant_id}/g/{group}")
        await page.wait_for_selector("[data-testid=adsets]")
        rank = ("VIEWER", "EDITOR", "ADMIN").index(role)
        for selector, needed in controls.items():
            present = await page.locator(selector).count() > 0
            assert present == (rank >= ("VIEWER", "EDITOR", "ADMIN").index(needed)), (role, selector)
        if role == "VIEWER":
            status = await page.evaluate("""async tenant => {
                const csrf = document.cookie.split('; ').find(c => c.startsWith('roasloop_csrf=')).split('=')[1];
                const r = await fetch(`/v1/tenants/${tenant}/automation`, {method: 'PUT', credentials: 'same-origin',
                  headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: '{"mode": "shadow"}'});
                return r.status; }""", stack.tenant_id)
            assert status == 403
        await page.context.close()
    assert await db.fetchval("SELECT count(*) FROM automation_modes") == 0


async def test_an_editor_finds_why_the_budget_moved(stack: DevStack, db: asyncpg.Pool[Any], browser: Browser) -> None:
    group = await group_id(db, stack.tenant_id)
    page = await signed_in(browser, stack, "EDITOR")
    await page.click(f"[data-testid=groups] a:text('{group}')")
    sentence = await page.text_content("[data-testid=latest-sentence]", timeout=20_000)
    assert sentence and re.match(r"(moved|raised|cut|no budget moved)", sentence), sentence
    await page.wait_for_timeout(300)  # charts drawn
    await shot(page, "campaign")
    await page.click("text=Explain this decision")
    await page.wait_for_selector("[data-testid=explanation]")
    rows = await page.locator("[data-testid=explanation] > tbody > tr").count()
    adsets = await db.fetchval("SELECT count(*) FROM sampler_entities WHERE tenant_id = $1 AND group_id = $2",
                               stack.tenant_id, group)
    # the executor may settle the decision's changes meanwhile, which can add what the guardrails did
    explained = await page.text_content("[data-testid=sentence]") or ""
    assert rows == adsets and re.match(r"(moved|raised|cut|no budget moved)", explained), explained
    await shot(page, "decision")
    await page.context.close()


async def test_an_approved_change_moves_metas_budget_and_a_rejected_one_is_never_sent(
        stack: DevStack, db: asyncpg.Pool[Any], browser: Browser) -> None:
    group = await group_id(db, stack.tenant_id)
    campaign = await db.fetchval("SELECT campaign_id FROM sampler_entities WHERE tenant_id = $1 AND group_id = $2"
                                 " LIMIT 1", stack.tenant_id, group)
    page = await signed_in(browser, stack, "EDITOR")
    await page.goto(f"{stack.base_url}/console/#/t/{stack.tenant_id}/g/{group}")
    await page.select_option("#mode-form select[name=mode]", "approval")
    await page.fill("#mode-form input[name=approval_threshold_pct]", "0")
    await page.click("#mode-form button[type=submit]")
    await page.wait_for_selector("[data-testid=mode]:text('approval')")

    async def waiting() -> list[asyncpg.Record]:
        rows = await db.fetch("SELECT change_id, entity_id, target_budget_minor, previous_budget_minor FROM"
                              " ad_change_history WHERE tenant_id = $1 AND status = 'awaiting_approval'"
                              " AND campaign_id = $2 ORDER BY change_id", stack.tenant_id, campaign)
        return rows if len(rows) >= 2 else []

    async def settled(change_id: str) -> str | None:
        status = await db.fetchval("SELECT status FROM ad_change_history WHERE change_id = $1", change_id)
        return None if status in (None, "awaiting_approval", "executing") else str(status)

    # A decision a simulated day later supersedes a change still waiting, which is right: the operator
    # then judges the newer one. On a busy machine that can happen between reading the list and the
    # click, so judge the pair waiting at that moment until a verdict lands before a newer decision.
    meta = stack.sandbox.meta
    for _ in range(4):
        approve, reject = (await eventually(waiting))[:2]
        await page.goto(f"{stack.base_url}/console/#/t/{stack.tenant_id}/approvals")
        try:
            await page.click(f"tr[data-change='{approve['change_id']}'] button[data-verdict=approve]", timeout=5000)
            await page.click(f"tr[data-change='{reject['change_id']}'] button[data-verdict=reject]", timeout=5000)
        except PlaywrightTimeoutError:  # superseded before the page listed it
            continue
        approved = await eventually(lambda: settled(approve["change_id"]))  # noqa: B023 (awaited here)
        rejected = await eventually(lambda: settled(reject["change_id"]))  # noqa: B023
        if "superseded" not in (approved, rejected):
            break
    assert approved in ("completed", "clamped")
    applied = await db.fetchval("SELECT applied_budget_minor FROM ad_change_history WHERE change_id = $1",
                                approve["change_id"])
    assert meta.budget_of(approve["entity_id"]) == applied and applied != approve["previous_budget_minor"]
    assert rejected == "rejected"
    assert all(c.new_budget_minor != reject["target_budget_minor"] or c.adset_id != reject["entity_id"]
               for c in meta.change_log)
    await page.context.close()


async def test_shadow_mode_records_decisions_and_sends_nothing_to_meta(
        stack: DevStack, db: asyncpg.Pool[Any], browser: Browser) -> None:
    group = await group_id(db, stack.tenant_id)
    page = await signed_in(browser, stack, "EDITOR")
    await page.goto(f"{stack.base_url}/console/#/t/{stack.tenant_id}/g/{group}")
    await page.select_option("#mode-form select[name=mode]", "shadow")
    await page.click("#mode-form button[type=submit]")
    await page.wait_for_selector("[data-testid=mode]:text('shadow')")
    switched = stack.runner.resources.clock.now()
    sent_before = len(stack.sandbox.meta.change_log)

    async def shadowed() -> int:
        return int(await db.fetchval("SELECT count(*) FROM ad_change_history WHERE tenant_id = $1"
                                     " AND status = 'shadow' AND decided_at > $2", stack.tenant_id, switched))

    assert await eventually(shadowed) > 0
    assert len(stack.sandbox.meta.change_log) == sent_before
    sent = await db.fetchval("SELECT count(*) FROM ad_change_history WHERE tenant_id = $1 AND decided_at > $2"
                             " AND status IN ('executing', 'completed', 'clamped')", stack.tenant_id,
                             switched + timedelta(seconds=1))
    assert sent == 0
    await page.context.close()


async def test_bad_input_is_shown_next_to_the_field_and_a_colleagues_save_is_a_conflict(
        stack: DevStack, db: asyncpg.Pool[Any], browser: Browser) -> None:
    group = await group_id(db, stack.tenant_id)
    url = f"{stack.base_url}/console/#/t/{stack.tenant_id}/g/{group}"
    first, second = await signed_in(browser, stack, "ADMIN"), await signed_in(browser, stack, "ADMIN")
    for page in (first, second):
        await page.goto(url)
        await page.wait_for_selector("#budget-form")
    await first.fill("#budget-form input[name=total_daily_budget_minor]", "lots")
    await first.click("#budget-form button[type=submit]")
    error = first.locator("#budget-form [data-error-for=total_daily_budget_minor]")
    await error.wait_for()
    assert "integer" in (await error.text_content() or "")
    await first.fill("#budget-form input[name=total_daily_budget_minor]", "400")
    await first.click("#budget-form button[type=submit]")
    await first.wait_for_selector("[data-testid=flash]")
    await second.fill("#budget-form input[name=total_daily_budget_minor]", "350")
    await second.click("#budget-form button[type=submit]")
    conflict = await second.text_content("#budget-form .notice.error", timeout=10_000)
    assert conflict and "Someone else saved" in conflict
    assert await db.fetchval("SELECT total_daily_budget_minor FROM group_budgets WHERE tenant_id = $1"
                             " AND group_id = $2", stack.tenant_id, group) == 40_000
    # the newcomer's task: a 24-hour velocity window for one campaign, in one place
    await first.fill("#campaign-limits input[name=change_window_hours]", "24")
    await first.click("#campaign-limits button[type=submit]")
    await first.wait_for_selector("[data-testid=flash]")
    stored = await db.fetchrow("SELECT campaign_id, change_window_hours, max_change_fraction FROM guardrail_overrides"
                               " WHERE tenant_id = $1", stack.tenant_id)
    assert stored is not None and stored["campaign_id"] != "" and stored["change_window_hours"] == 24
    assert stored["max_change_fraction"] is None  # only what was changed is overridden
    for page in (first, second):
        await page.context.close()


def _minor(text: str) -> int:
    """``$1,234.56`` as minor units (USD: two decimals)."""
    return int(Decimal(re.sub(r"[^0-9.\-]", "", text)) * 100)


async def test_the_numbers_on_the_page_equal_the_databases(
        stack: DevStack, db: asyncpg.Pool[Any], browser: Browser) -> None:
    assert stack.market_stop is not None
    stack.market_stop.set()  # stop the market so the numbers hold still while they are compared
    await asyncio.sleep(4)
    group = await group_id(db, stack.tenant_id)
    page = await signed_in(browser, stack, "VIEWER")
    await shot(page, "overview")
    today = stack.runner.resources.clock.now().date()
    window = (today - timedelta(days=29), today)
    spend = await db.fetchval("SELECT coalesce(sum(spend_minor), 0) FROM spend_daily WHERE tenant_id = $1"
                              " AND day BETWEEN $2 AND $3", stack.tenant_id, *window)
    revenue = await db.fetchval("SELECT coalesce(sum(amount_minor), 0) FROM revenue_ledger WHERE tenant_id = $1"
                                " AND day BETWEEN $2 AND $3", stack.tenant_id, *window)
    assert _minor(await page.text_content("[data-testid=kpi-spend]") or "") == spend > 0
    assert _minor(await page.text_content("[data-testid=kpi-revenue]") or "") == revenue
    await page.goto(f"{stack.base_url}/console/#/t/{stack.tenant_id}/g/{group}")
    await page.wait_for_selector("[data-testid=adsets]")
    for row in await page.locator("[data-testid=adsets] tbody tr").all():
        entity = await row.get_attribute("data-entity")
        expected = await db.fetchval("SELECT coalesce(sum(spend_minor), 0) FROM spend_daily WHERE tenant_id = $1"
                                     " AND entity_id = $2 AND day BETWEEN $3 AND $4", stack.tenant_id, entity,
                                     *window)
        assert _minor(await row.locator("[data-col=spend]").text_content() or "") == expected
    await page.goto(f"{stack.base_url}/console/#/t/{stack.tenant_id}/health")
    await page.wait_for_selector("[data-testid=lag]")
    executing = await db.fetchval("SELECT count(*) FROM ad_change_history WHERE tenant_id = $1"
                                  " AND status = 'executing'", stack.tenant_id)
    assert await page.text_content("[data-testid=executing]") == str(executing)
    await page.context.close()
