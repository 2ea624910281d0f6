"""The Graph API client against the Meta stand-in over HTTP: retries, backoff, no double apply."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest
from pydantic import SecretStr

from streams.core.clock import ManualClock
from streams.integrations.meta import MetaChangeFailed, MetaClient, appsecret_proof, parse_usage
from streams.lab.sandbox.meta_state import MetaState
from tests.meta_standin import START, world


def elapsed(clock: ManualClock) -> float:
    return (clock.now() - START).total_seconds()


def posts(state: MetaState) -> int:
    return sum(1 for method, _, _ in state.requests if method == "POST")


async def test_change_is_applied_once_with_appsecret_proof(meta_client: MetaClient, meta_state: MetaState) -> None:
    world(meta_state, {"as1": 10_000})
    result = await meta_client.apply_budget("as1", 11_000)
    assert (result.applied_minor, result.attempts, result.reconciled) == (11_000, 1, False)
    assert [(c.old_budget_minor, c.new_budget_minor) for c in meta_state.change_log] == [(10_000, 11_000)]
    assert await meta_client.get_daily_budget("as1") == 11_000


async def test_throttling_waits_for_metas_estimated_time_to_regain_access(
    meta_client: MetaClient, meta_state: MetaState, clock: ManualClock
) -> None:
    world(meta_state, {"as1": 10_000})
    meta_state.faults.fail_next("throttle_17", 2, method="POST", retry_after_seconds=90)
    result = await meta_client.apply_budget("as1", 11_000)
    assert result.attempts == 3
    assert elapsed(clock) == 2 * 120  # header says 2 minutes, longer than the 1 s / 2 s backoff
    assert len(meta_state.change_log) == 1


@pytest.mark.parametrize("kind", ["throttle_613", "throttle_80004"])
async def test_other_throttling_codes_are_retried(
    meta_client: MetaClient, meta_state: MetaState, clock: ManualClock, kind: str
) -> None:
    world(meta_state, {"as1": 10_000})
    meta_state.faults.fail_next(kind, 1, method="POST", retry_after_seconds=30)  # type: ignore[arg-type]
    result = await meta_client.apply_budget("as1", 11_000)
    assert result.attempts == 2
    assert elapsed(clock) == 60


async def test_server_errors_back_off_exponentially_and_check_before_retrying(
    meta_client: MetaClient, meta_state: MetaState, clock: ManualClock
) -> None:
    world(meta_state, {"as1": 10_000})
    # retry_after 0: the usage headers announce no block, so the exponential backoff alone applies
    meta_state.faults.fail_next("http_500", 2, method="POST", retry_after_seconds=0)
    meta_state.faults.fail_next("http_503", 1, method="POST", retry_after_seconds=0)
    result = await meta_client.apply_budget("as1", 11_000)
    assert result.attempts == 4
    assert elapsed(clock) == 1 + 2 + 4
    gets = [path for method, path, _ in meta_state.requests if method == "GET"]
    assert len(gets) == 3  # one budget read after each unclear 5xx
    assert len(meta_state.change_log) == 1


async def test_a_server_error_after_meta_applied_the_change_is_not_sent_again(
    meta_client: MetaClient, meta_state: MetaState
) -> None:
    world(meta_state, {"as1": 10_000})
    meta_state.faults.fail_next("http_500", 1, method="POST", apply_effect=True)
    result = await meta_client.apply_budget("as1", 11_000)
    assert result.reconciled and result.attempts == 1
    assert posts(meta_state) == 1


async def test_a_timeout_after_meta_applied_the_change_is_not_sent_again(
    meta_client: MetaClient, meta_state: MetaState
) -> None:
    world(meta_state, {"as1": 10_000})
    meta_state.faults.fail_next("timeout", 1, method="POST", apply_effect=True)
    result = await meta_client.apply_budget("as1", 11_000)
    assert (result.applied_minor, result.attempts, result.reconciled) == (11_000, 1, True)
    assert posts(meta_state) == 1
    assert len(meta_state.change_log) == 1


async def test_a_timeout_that_did_not_apply_is_retried_once_confirmed_unapplied(
    meta_client: MetaClient, meta_state: MetaState
) -> None:
    world(meta_state, {"as1": 10_000})
    meta_state.faults.fail_next("timeout", 1, method="POST")
    result = await meta_client.apply_budget("as1", 11_000)
    assert (result.attempts, result.reconciled) == (2, False)
    assert [c.new_budget_minor for c in meta_state.change_log] == [11_000]


async def test_permanent_error_fails_with_metas_message(meta_client: MetaClient, meta_state: MetaState) -> None:
    world(meta_state, {"as1": 10_000})
    with pytest.raises(MetaChangeFailed) as failure:
        await meta_client.apply_budget("as1", 50)
    assert "at least 100" in failure.value.message
    assert failure.value.attempts == 1
    assert meta_state.change_log == []


async def test_a_wait_beyond_the_bound_fails_the_change_instead_of_stalling(
    meta_client: MetaClient, meta_state: MetaState, clock: ManualClock
) -> None:
    world(meta_state, {"as1": 10_000})
    meta_state.faults.fail_next("throttle_17", 1, method="POST", retry_after_seconds=3600)
    with pytest.raises(MetaChangeFailed) as failure:
        await meta_client.apply_budget("as1", 11_000)
    assert "beyond" in failure.value.message
    assert elapsed(clock) == 0


async def test_attempts_are_bounded(meta_client: MetaClient, meta_state: MetaState) -> None:
    world(meta_state, {"as1": 10_000})
    meta_state.faults.fail_next("http_503", 10, method="POST")
    with pytest.raises(MetaChangeFailed):
        await meta_client.apply_budget("as1", 11_000)
    assert posts(meta_state) == 5
    assert meta_state.change_log == []


async def test_wrong_app_secret_is_refused_by_meta(meta_url: str, meta_state: MetaState, clock: ManualClock) -> None:
    world(meta_state, {"as1": 10_000})
    client = MetaClient.create(graph_url=meta_url, version="v26.0", access_token=SecretStr(meta_state.access_token),
                               app_secret=SecretStr("wrong"), clock=clock)
    try:
        with pytest.raises(MetaChangeFailed) as failure:
            await client.apply_budget("as1", 11_000)
        assert "appsecret_proof" in failure.value.message
    finally:
        await client.aclose()


def test_appsecret_proof_is_hmac_sha256_of_the_token() -> None:
    assert appsecret_proof("tok", "secret") == hmac.new(b"secret", b"tok", hashlib.sha256).hexdigest()


def test_usage_headers_give_the_highest_percentage_and_the_announced_wait() -> None:
    usage = parse_usage({
        "x-business-use-case-usage": json.dumps({"1": [{"type": "ads_management", "call_count": 95,
                                                        "total_cputime": 10, "total_time": 10,
                                                        "estimated_time_to_regain_access": 3}]}),
        "x-app-usage": json.dumps({"call_count": 5, "total_cputime": 1, "total_time": 1}),
        "x-ad-account-usage": json.dumps({"acc_id_util_pct": 40.5, "reset_time_duration": 20}),
    })
    assert (usage.max_pct, usage.regain_seconds) == (95.0, 180.0)
    assert parse_usage({"x-app-usage": "not json"}).max_pct == 0.0


async def test_high_usage_slows_the_next_call_down(clock: ManualClock) -> None:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(200, json={"success": True},
                              headers={"x-app-usage": json.dumps({"call_count": 93})})

    client = MetaClient.create(graph_url="https://graph.test", version="v26.0", access_token=SecretStr("t"),
                               app_secret=SecretStr("s"), clock=clock, transport=httpx.MockTransport(answer))
    await client.apply_budget("as1", 200)
    assert elapsed(clock) == 0
    await client.apply_budget("as1", 300)
    assert elapsed(clock) == 5.0  # usage_pause_seconds before the second call
    await client.aclose()
