"""What a decision says about the cold-start prior an ad set started from.

The sampler records on each allocation the version of the tenant's priors that answered, the
prior's pipeline ROAS, its strength (pseudo-spend) and how many similar past winners it drew on;
this turns that into the sentence an operator reads ("new ad set C started from a prior of 2.3x,
from 5 similar past winners"), or nothing when the ad set had no external prior.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def prior_note(allocation: Mapping[str, Any]) -> dict[str, Any] | None:
    strength = allocation.get("prior_strength_minor")
    mean = allocation.get("prior_mean_roas")
    if not strength or mean is None:
        return None
    winners = int(allocation.get("prior_winners") or 0)
    source = allocation.get("prior_source") or ""
    basis = (f"from {winners} similar past winner{'s' if winners != 1 else ''}" if winners
             else "from the CTR/CVR model" if "ctr" in source else "from the account's past")
    if winners and "ctr" in source:
        basis += " and the CTR/CVR model"
    return {
        "version": allocation.get("prior_version"), "mean_roas": mean, "strength_minor": strength,
        "source": source, "winners": winners,
        "text": f"{allocation['entity_id']} started from a prior of {mean:.1f}x, {basis} "
                f"(priors v{allocation.get('prior_version')})",
    }
