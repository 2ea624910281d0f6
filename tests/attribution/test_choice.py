"""The pure parts of matching: the conflict formula and which candidate wins."""

from __future__ import annotations

import pytest

from schemas import ContactSignals
from streams.attribution.matching import Match, choose, merge_signals, probabilistic_confidence
from tests.attribution.factories import T0


def match(rank_name: str, known: bool = True) -> Match:
    return Match(method="url", matched_on="click_id", confidence=1.0, click_id=rank_name, ad_id=f"ad-{rank_name}",
                 click_occurred_at=T0, adset_id="s" if known else None, campaign_id="c" if known else None,
                 group_id=None)


def test_probabilistic_confidence_is_070_times_the_share_of_candidates_on_the_chosen_ad() -> None:
    assert probabilistic_confidence(1, 1) == 0.7
    assert probabilistic_confidence(2, 3) == 0.4667
    assert probabilistic_confidence(1, 4) == 0.175
    with pytest.raises(ValueError):
        probabilistic_confidence(0, 3)


def test_a_best_match_on_an_uncatalogued_ad_is_waited_for_then_passed_over_when_final() -> None:
    unknown, known = match("first", known=False), match("second")
    assert choose([unknown, known], final=False) == (None, "ad-first")
    assert choose([unknown, known], final=True) == (known, None)
    assert choose([known, unknown], final=False) == (known, None)
    assert choose([], final=True) == (None, None)


def test_signals_of_later_stage_events_fill_in_what_earlier_ones_lacked() -> None:
    merged = merge_signals([ContactSignals(email_hash="e1"), ContactSignals(email_hash="e2", click_id="c9")])
    assert (merged.email_hash, merged.click_id) == ("e1", "c9")
