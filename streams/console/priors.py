"""What a decision says about the cold-start prior an ad set started from.

The sampler records on each allocation the version of the tenant's priors that answered, the
prior's pipeline ROAS, its strength (pseudo-spend) and how many similar past winners it drew on;
this turns that into the sentence an operator reads ("new ad set C started from a prior of 2.3x,
from 5 similar past winners"), or nothing when the ad set had no external prior.

It also answers people's questions of the tenant's active priors: which past winners an ad set
resembles (``GET .../winners?similar_to=``) and what a creative would start from (``POST .../predict``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pydantic import Field
from starlette.responses import Response

from schemas.creatives import CreativeFeatures
from streams.console.endpoint import ApiError, Call, not_found
from streams.console.render import answer
from streams.core.storage import open_storage
from streams.priors.bundle import PriorBundle, model_name_for
from streams.priors.creatives import DEFAULT_EMBEDDER, load_features
from streams.priors.features import EntityFeatures
from streams.priors.registry import ModelRegistry


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


class PredictIn(CreativeFeatures):
    """A creative to predict for: its features, and optionally its copy (embedded, never stored)."""

    text: str | None = Field(default=None, max_length=2000)


_loaded: dict[str, tuple[int, PriorBundle]] = {}
"""The last active bundle loaded per tenant, so a request parses an artifact only after a promotion."""


async def _active(call: Call) -> tuple[int, PriorBundle]:
    res = call.context_of().res
    active = await ModelRegistry(res.pool).active(model_name_for(call.tenant_id))
    if active is None:
        raise not_found(f"priors of tenant {call.tenant_id} (none promoted yet)")
    cached = _loaded.get(call.tenant_id)
    if cached is not None and cached[0] == active.version:
        return cached
    storage = open_storage(res.settings)
    try:
        bundle = await asyncio.to_thread(lambda: PriorBundle.from_bytes(storage.get(active.artifact_key).data))
    except Exception:  # an unreadable version is the registry's trouble, not the caller's input
        raise ApiError(503, f"priors version {active.version} cannot be loaded") from None
    _loaded[call.tenant_id] = (active.version, bundle)
    return active.version, bundle


async def winners(call: Call) -> Response:
    """The past winners most like an ad set, with the pipeline ROAS each earned."""
    similar_to = call.request.query_params.get("similar_to") or ""
    if not 1 <= len(similar_to) <= 64 or "\x00" in similar_to:
        raise ApiError(400, "similar_to must be an ad set id of 1 to 64 characters", "similar_to")
    k = call.query_int("k", 10, 1, 50)
    version, bundle = await _active(call)
    async with call.context_of().res.pool.acquire() as conn:
        described = await load_features(conn, call.tenant_id, embedder=bundle.embedder)
    entity = described.get(similar_to)
    if entity is None or entity.embedding is None:
        raise not_found(f"a description of ad set {similar_to} comparable with priors version {version}")
    index = bundle.winners
    found = [] if index is None or len(index) == 0 or index.dim != len(entity.embedding) else \
        index.search([list(entity.embedding)], k)[0]
    return answer("winners", {"similar_to": similar_to, "priors_version": version, "winners": [
        {"entity_id": n.winner_id, "similarity": n.similarity, "pipeline_roas": n.roas} for n in found]})


async def predict(call: Call) -> Response:
    """Predicted CTR/CVR and the prior pipeline ROAS a new creative would start from."""
    body = await call.json(PredictIn)
    version, bundle = await _active(call)
    features = CreativeFeatures.model_validate(body.model_dump(exclude={"text"}))
    entity = EntityFeatures(entity_id="predict", **features.model_dump())
    if bundle.embedder == DEFAULT_EMBEDDER.name:
        entity = entity.model_copy(update={"embedding": tuple(float(x) for x in
                                                              DEFAULT_EMBEDDER.embed([entity], [body.text])[0])})
    [prior] = await asyncio.to_thread(bundle.source().prior_for, [entity])
    return answer("prediction", {
        "priors_version": version, "ctr": prior.details.get("ctr"), "cvr": prior.details.get("cvr"),
        "prior_pipeline_roas": prior.mean_roas, "prior_strength_minor": prior.pseudo_spend_minor,
        "prior_source": prior.source, "similar_winners": int(prior.details.get("winners", 0)),
    })
