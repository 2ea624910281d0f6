"""The official facebook_business SDK against the stand-in served on a local port."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from facebook_business.adobjects.adset import AdSet
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError

from streams.lab.sandbox.meta import create_meta_app
from streams.lab.sandbox.meta_state import MetaState
from streams.lab.sandbox.serve import BackgroundServer


@pytest.fixture
def sdk(meta_state: MetaState) -> Iterator[FacebookAdsApi]:
    with BackgroundServer(create_meta_app(meta_state)) as base_url:
        api = FacebookAdsApi.init(app_id="1", app_secret="shh", access_token="tok-123", timeout=2)
        api._session.GRAPH = base_url  # the one switch: the SDK builds every URL from session.GRAPH
        yield api


def test_sdk_updates_an_ad_set_budget(sdk: FacebookAdsApi, meta_state: MetaState) -> None:
    AdSet("301", api=sdk).api_update(params={"daily_budget": 25_000})
    assert meta_state.budget_of("301") == 25_000
    read = AdSet("301", api=sdk).api_get(fields=["daily_budget", "name", "effective_status"])
    assert read["daily_budget"] == "25000" and read["effective_status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("kind", "code", "subcode"),
    [("throttle_17", 17, 2446079), ("throttle_613", 613, 1487742), ("throttle_80004", 80004, 2446079)],
)
def test_sdk_errors_report_metas_code_subcode_and_transient_flag(
    sdk: FacebookAdsApi, meta_state: MetaState, kind: str, code: int, subcode: int
) -> None:
    meta_state.faults.fail_next(kind)  # type: ignore[arg-type]
    with pytest.raises(FacebookRequestError) as caught:
        AdSet("301", api=sdk).api_update(params={"daily_budget": 25_000})
    err = caught.value
    assert (err.api_error_code(), err.api_error_subcode(), err.api_transient_error()) == (code, subcode, True)
    assert err.http_status() == 400
    assert meta_state.budget_of("301") == 10_000


def test_sdk_sees_the_hourly_budget_limit(sdk: FacebookAdsApi, meta_state: MetaState) -> None:
    for budget in (11_000, 12_000, 13_000, 14_000):
        AdSet("301", api=sdk).api_update(params={"daily_budget": budget})
    with pytest.raises(FacebookRequestError) as caught:
        AdSet("301", api=sdk).api_update(params={"daily_budget": 15_000})
    assert caught.value.api_error_code() == 17 and caught.value.api_transient_error() is True
    assert len(meta_state.change_log) == 4


def test_a_timeout_can_apply_the_change_the_client_never_hears_about(meta_state: MetaState) -> None:
    meta_state.faults.timeout_seconds = 1.5
    meta_state.faults.fail_next("timeout", apply_effect=True, method="POST")
    with BackgroundServer(create_meta_app(meta_state)) as base_url:
        params = {"access_token": "tok-123", "appsecret_proof": meta_state.proof(), "daily_budget": "17000"}
        with pytest.raises(httpx.TimeoutException):
            httpx.post(f"{base_url}/v26.0/301", data=params, timeout=0.3)
        assert meta_state.budget_of("301") == 17_000
        assert len(meta_state.change_log) == 1
