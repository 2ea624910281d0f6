"""The wire contract: every event round-trips, and bad input is refused with a clear reason."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from schemas import (
    AdClicked,
    AlertNotified,
    AllocationDecided,
    BudgetChangeRequested,
    BudgetChangeReviewed,
    BudgetChangeSettled,
    ContactSignals,
    ConversionAttributed,
    CreativeDescribed,
    DealStageChanged,
    EntityAllocation,
    Envelope,
    GuardrailResult,
    InvalidEvent,
    Money,
    RevenueRecognized,
    SignedMoney,
    SpendReported,
    decode,
    decode_as,
    encode,
)
from schemas.codec import EVENT_MODELS
from schemas.creatives import CreativeFeatures
from schemas.export import export_json_schemas
from schemas.launch import CampaignSpec, LaunchRequested, LaunchSettled

AT = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
USD = "USD"


def envelope(n: str) -> dict[str, object]:
    return {"event_id": f"evt-{n}", "tenant_id": "acme", "occurred_at": AT, "produced_at": AT}


EXAMPLES: list[Envelope] = [
    AdClicked(**envelope("1"), click_id="c1", ad_id="a1", adset_id="s1", campaign_id="k1", fbclid="fb.1",
              ip_hash="ab" * 32, user_agent_hash="cd" * 32),
    DealStageChanged(**envelope("2"), deal_id="d1", stage_id="closedwon", amount=Money(amount_minor=1_250_00,
                     currency=USD), contact=ContactSignals(click_id="c1", email_hash="ef" * 32)),
    ConversionAttributed(**envelope("3"), deal_id="d1", stage_event_id="evt-2", stage_id="closedwon",
                         method="url", matched_on="click_id", confidence=1.0, click_id="c1", ad_id="a1",
                         adset_id="s1", campaign_id="k1", group_id="k1", latency_seconds=3600.0),
    ConversionAttributed(**envelope("3b"), deal_id="d2", stage_event_id="evt-9", stage_id="appointmentscheduled",
                         method="none", confidence=0.0),
    RevenueRecognized(**envelope("4"), deal_id="d1", group_id="k1", campaign_id="k1", adset_id="s1", ad_id="a1",
                      kind="reversal", amount=SignedMoney(amount_minor=-500_00, currency=USD),
                      credited_total_minor=0, stage_id="closedlost", confidence=1.0, conversion_event_id="evt-3"),
    SpendReported(**envelope("5"), group_id="k1", campaign_id="k1", entity_id="s1", day=date(2026, 5, 1),
                  spend=Money(amount_minor=12_345, currency=USD), impressions=1000, clicks=40,
                  platform_results={"lead": 3}),
    AllocationDecided(**envelope("6"), decision_id="dec-1", group_id="k1", campaign_id="k1", policy="thompson",
                      seed=7, total_budget=Money(amount_minor=100_00, currency=USD),
                      allocations=[EntityAllocation(entity_id="s1", share=0.75, budget_minor=75_00),
                                   EntityAllocation(entity_id="s2", share=0.25, budget_minor=25_00)]),
    BudgetChangeRequested(**envelope("7"), change_id="chg-1", group_id="k1", campaign_id="k1", entity_id="s1",
                          requested_budget=Money(amount_minor=75_00, currency=USD), previous_budget_minor=50_00),
    BudgetChangeSettled(**envelope("8"), change_id="chg-1", group_id="k1", campaign_id="k1", entity_id="s1",
                        outcome="clamped", currency=USD, requested_budget_minor=75_00, previous_budget_minor=50_00,
                        applied_budget_minor=60_00, attempts=1,
                        guardrails=[GuardrailResult(name="cumulative_6h", passed=False, detail="clamped to 20%")]),
    BudgetChangeReviewed(**envelope("9"), change_id="chg-2", group_id="k1", campaign_id="k1", entity_id="s1",
                         verdict="approve", reviewed_by="alice", reason="launch week"),
    AlertNotified(**envelope("10"), alert_id="roas_collapse-0123456789abcdef", rule="roas_collapse", subject="s1",
                  notice="raised", severity="warning", episode=1, title="Ad set s1: pipeline ROAS below 1.0",
                  facts={"posterior_high": 0.8, "entity_id": "s1"}, raised_at=AT),
    LaunchRequested(**envelope("11"), request_id="launch-1", account_id="act_1", requested_by="alice",
                    spec=CampaignSpec(name="Spring", objective="OUTCOME_LEADS")),
    LaunchSettled(**envelope("12"), request_id="launch-1", account_id="act_1", kind="campaign", outcome="created",
                  created={"campaign_id": "120001"}),
    CreativeDescribed(**envelope("11"), group_id="k1", campaign_id="k1", entity_id="s1", ad_id="a1",
                      features=CreativeFeatures(creative_type="video", call_to_action="book_demo"),
                      embedder="hashed-ngram/v1:4", embedding=[0.5, -0.5, 0.5, 0.5]),
]


def test_every_event_model_has_an_example() -> None:
    assert {type(e) for e in EXAMPLES} == set(EVENT_MODELS)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.event_type)
def test_event_round_trips_through_json(event: Envelope) -> None:
    assert decode(encode(event)) == event
    assert decode_as(encode(event), type(event)) == event


def _mutated(event: Envelope, **changes: object) -> bytes:
    data = json.loads(encode(event))
    data.update(changes)
    return json.dumps(data).encode()


def test_unknown_event_type_is_refused_with_its_name() -> None:
    with pytest.raises(InvalidEvent, match="'AdExploded'"):
        decode(_mutated(EXAMPLES[0], event_type="AdExploded"))


def test_naive_timestamp_is_refused() -> None:
    with pytest.raises(InvalidEvent, match=r"occurred_at: .*timezone"):
        decode(_mutated(EXAMPLES[0], occurred_at="2026-05-01T12:30:00"))


def test_negative_budget_is_refused() -> None:
    raw = json.loads(encode(EXAMPLES[7]))
    raw["requested_budget"]["amount_minor"] = -1
    with pytest.raises(InvalidEvent, match=r"requested_budget.amount_minor: .*greater than or equal to 0"):
        decode(json.dumps(raw))


def test_money_is_integer_minor_units_not_floats() -> None:
    raw = json.loads(encode(EXAMPLES[5]))
    raw["spend"]["amount_minor"] = 123.45
    with pytest.raises(InvalidEvent, match="spend.amount_minor"):
        decode(json.dumps(raw))


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="not an ISO 4217 currency"):
        Money(amount_minor=1, currency="XYZ")


def test_unknown_fields_are_refused_so_typos_surface() -> None:
    with pytest.raises(InvalidEvent, match="clickid: Extra inputs are not permitted"):
        decode(_mutated(EXAMPLES[0], clickid="c1"))


def test_expected_type_mismatch_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="expected SpendReported, got event_type 'AdClicked'"):
        decode_as(encode(EXAMPLES[0]), SpendReported)


def test_allocation_shares_must_form_a_distribution() -> None:
    with pytest.raises(ValueError, match="shares must sum to 1"):
        AllocationDecided(**envelope("x"), decision_id="d", group_id="k1", campaign_id="k1", policy="p",
                          total_budget=Money(amount_minor=100, currency=USD),
                          allocations=[EntityAllocation(entity_id="s1", share=0.5, budget_minor=50)])


def test_attributed_conversion_needs_an_ad_and_unattributed_has_none() -> None:
    with pytest.raises(ValueError, match="needs ad_id"):
        ConversionAttributed(**envelope("x"), deal_id="d", stage_event_id="e", stage_id="s", method="url",
                             confidence=1.0)
    with pytest.raises(ValueError, match="carries no ad"):
        ConversionAttributed(**envelope("x"), deal_id="d", stage_event_id="e", stage_id="s", method="none",
                             confidence=0.0, ad_id="a1")


def test_revenue_sign_must_match_its_kind() -> None:
    with pytest.raises(ValueError, match="reversal cannot be positive"):
        RevenueRecognized(**envelope("x"), deal_id="d", group_id="k", campaign_id="k", adset_id="s", ad_id="a",
                          kind="reversal", amount=SignedMoney(amount_minor=5, currency=USD),
                          credited_total_minor=5, stage_id="closedlost", confidence=1.0, conversion_event_id="c")


def test_completed_settlement_must_say_what_was_applied() -> None:
    with pytest.raises(ValueError, match="needs applied_budget_minor"):
        BudgetChangeSettled(**envelope("x"), change_id="c", group_id="k", campaign_id="k", entity_id="s",
                            outcome="completed", currency=USD, requested_budget_minor=10)


def test_json_schema_export_writes_one_valid_schema_per_event(tmp_path: Path) -> None:
    written = export_json_schemas(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{m.__name__}.schema.json" for m in EVENT_MODELS)
    schema = json.loads((tmp_path / "AdClicked.schema.json").read_text())
    assert schema["properties"]["event_type"]["const"] == "AdClicked"
    assert set(schema["required"]) >= {"event_id", "tenant_id", "occurred_at", "click_id", "ad_id"}


def test_spend_counts_leads_among_platform_results_not_clicks() -> None:
    def spend(actions: dict[str, int]) -> SpendReported:
        return SpendReported(**envelope("s"), group_id="k1", campaign_id="k1", entity_id="s1", day=date(2026, 5, 1),
                             spend=Money(amount_minor=100, currency=USD), impressions=1000, clicks=90,
                             platform_results=actions)

    # Meta reports one lead under several lead action types at once: the largest is the count
    assert spend({"link_click": 80, "lead": 3, "offsite_conversion.fb_pixel_lead": 3,
                  "landing_page_view": 60}).leads == 3
    assert spend({"lead": 2, "onsite_conversion.lead_grouped": 4}).leads == 4
    assert spend({"link_click": 5}).leads == 0


def test_only_a_change_waiting_for_a_person_is_not_final() -> None:
    def settled(outcome: str) -> BudgetChangeSettled:
        return BudgetChangeSettled(**envelope("s"), change_id="c", group_id="k", campaign_id="k", entity_id="s",
                                   outcome=outcome, currency=USD, requested_budget_minor=10,  # type: ignore[arg-type]
                                   applied_budget_minor=10)

    assert not settled("awaiting_approval").final
    assert all(settled(o).final for o in ("completed", "clamped", "blocked", "rejected", "expired", "shadow"))
