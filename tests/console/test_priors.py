"""A decision's page says which prior each new ad set started from."""

from __future__ import annotations

from streams.console.priors import prior_note


def test_an_ad_set_with_a_prior_is_said_to_start_from_it() -> None:
    note = prior_note({"entity_id": "C", "prior_version": 3, "prior_mean_roas": 2.31, "prior_strength_minor": 52_000,
                       "prior_source": "ctr+winners", "prior_winners": 5})
    assert note is not None
    assert note["text"] == ("C started from a prior of 2.3x, from 5 similar past winners and the CTR/CVR model"
                            " (priors v3)")
    assert note["version"] == 3 and note["strength_minor"] == 52_000


def test_an_ad_set_without_a_prior_has_no_note() -> None:
    assert prior_note({"entity_id": "A", "posterior_mean": 1.2}) is None
    assert prior_note({"entity_id": "A", "prior_mean_roas": 2.0, "prior_strength_minor": 0}) is None
