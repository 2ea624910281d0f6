"""People ask the tenant's active priors: similar past winners and a creative's prediction; bad input is a 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from streams.core.settings import Settings
from streams.core.storage import open_storage
from streams.lab.priors.seed import seed_history
from streams.priors.rebuild import rebuild_tenant
from tests.console.conftest import Console, console
from tests.jwt_issuer import Issuer


@pytest.fixture
async def api(settings: Settings, jwks_url: str, tmp_path: Any) -> AsyncIterator[Console]:
    async with console(settings, jwks_url, storage_dir=str(tmp_path)) as con:
        yield con


def viewer(issuer: Issuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(role='VIEWER', sub='ana')}"}


async def test_winners_and_predictions_come_from_the_active_priors(api: Console, issuer: Issuer,
                                                                   db_pool: asyncpg.Pool[Any]) -> None:
    assert (await api.client.get("/v1/tenants/acme/winners?similar_to=past-1-0001",
                                 headers=viewer(issuer))).status_code == 404  # nothing promoted yet
    async with db_pool.acquire() as conn:
        await seed_history(conn, "acme", "camp-1", adsets=200, end=date(2026, 3, 1), days=90, seed=1)
    built = await rebuild_tenant(db_pool, open_storage(api.settings), "acme", datetime(2026, 3, 1, tzinfo=UTC))
    assert built.status == "promoted"

    similar = await api.client.get("/v1/tenants/acme/winners?similar_to=past-1-0001&k=5", headers=viewer(issuer))
    assert similar.status_code == 200, similar.text
    found = similar.json()["winners"]
    assert 1 <= len(found) <= 5 and all(w["pipeline_roas"] >= 0 for w in found)
    assert similar.json()["priors_version"] == built.version

    body = {"creative_type": "video", "call_to_action": "book_demo", "placement": "reels", "audience": "lookalike",
            "text": "book a demo"}
    predicted = await api.client.post("/v1/tenants/acme/predict", json=body, headers=viewer(issuer))
    assert predicted.status_code == 200, predicted.text
    out = predicted.json()
    assert 0 < out["ctr"] < 1 and 0 < out["cvr"] < 1 and out["prior_pipeline_roas"] > 0
    assert out["prior_strength_minor"] > 0 and out["priors_version"] == built.version


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("GET", "/v1/tenants/acme/winners", None, "similar_to"),
    ("GET", "/v1/tenants/acme/winners?similar_to=" + "x" * 65, None, "similar_to"),
    ("GET", "/v1/tenants/acme/winners?similar_to=a&k=500", None, "k"),
    ("POST", "/v1/tenants/acme/predict", {"creative_type": "hologram"}, "creative_type"),
    ("POST", "/v1/tenants/acme/predict", {"headline_length": -1}, "headline_length"),
    ("POST", "/v1/tenants/acme/predict", {"text": "x" * 2001}, "text"),
    ("POST", "/v1/tenants/acme/predict", {"budget": 1}, "budget"),
])
async def test_bad_questions_are_400_naming_the_field(api: Console, issuer: Issuer, method: str, path: str,
                                                      body: Any, field: str) -> None:
    answer = await api.client.request(method, path, json=body, headers=viewer(issuer))
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
