"""Meta repeats a malformed access token in its error; no log line, row, record or answer repeats it.

The stand-in echoes the token it could not parse (``echo_bad_token``), as the Graph API does for a
token configured with a stray newline. The executor records that failure in ``ad_change_history``,
publishes it on ``budget.outcomes.v1`` and logs it; a VIEWER reads it through the console. The
token must be in none of them - only ``[REDACTED]`` where Meta's message had it.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from schemas import BudgetChangeSettled
from schemas.topics import BUDGET_OUTCOMES
from streams.core.settings import Settings
from streams.executor.app import ExecutorStage
from streams.executor.settings import ExecutorSettings
from streams.lab.sandbox.meta_state import MetaState
from tests.console.conftest import console
from tests.executor.conftest import request
from tests.helpers import read_events, running_stages
from tests.jwt_issuer import Issuer
from tests.leak_search import everything_stored, places_holding
from tests.meta_standin import world


async def test_a_token_meta_echoes_back_is_in_no_log_row_record_or_answer(
        settings: Settings, db_pool: asyncpg.Pool[Any], meta_url: str, meta_state: MetaState, jwks_url: str,
        issuer: Issuer, capfd: pytest.CaptureFixture[str]) -> None:
    token = f"EAAB{uuid.uuid4().hex}ZD"
    meta_state.access_token = token
    meta_state.echo_bad_token = True
    world(meta_state, {"as1": 10_000})
    live = settings.model_copy(update={
        "meta_access_token": SecretStr(token + "\n"), "meta_app_secret": SecretStr(meta_state.app_secret),
        "meta_graph_url": meta_url})
    executor = ExecutorStage(ExecutorSettings(jitter_min_seconds=0, jitter_max_seconds=0, meta_max_attempts=1,
                                              commit_interval_seconds=0.05))
    async with running_stages(live, [executor]) as runner:
        await runner.resources.publisher.publish(request("as1", 11_000))
        [outcome] = await read_events(live, BUDGET_OUTCOMES, min_count=1, timeout=20)
    assert isinstance(outcome, BudgetChangeSettled) and outcome.outcome == "failed"
    assert "access token '[REDACTED]'" in (outcome.error or "")  # Meta did echo it, and it was caught
    async with console(live, jwks_url) as con:
        viewer = {"Authorization": f"Bearer {issuer.token(role='VIEWER')}"}
        history = await con.client.get("/v1/tenants/acme/campaigns/c1/history", headers=viewer)
    assert history.status_code == 200 and history.json()["budget_changes"][0]["status"] == "failed"
    logs = capfd.readouterr()
    texts = await everything_stored(db_pool, live) | {
        "console answer": history.text, "stdout": logs.out, "stderr": logs.err}
    assert places_holding(token, texts) == []
    assert "[REDACTED]" in texts["table ad_change_history"] and "[REDACTED]" in texts["topic budget.outcomes.v1"]
