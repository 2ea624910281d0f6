"""An ad the launcher created, described for the priors (``CreativeDescribed``), once it is settled.

Why the launcher describes its own ads: it is the first to know what a new ad looks like, so the
priors can give the ad set a start before it has spent anything - the insights poller would only
notice it once it spends. The creative is what the launcher sent (its ``object_story_spec``), the
media's length and shape come from the asset library, and the ad set (targeting, its campaign's
objective) is read back from Meta with the same fields the poller asks for, through the same
reader (:func:`streams.integrations.meta_creative.describe_graph`): an ad set described here is
described as the poller would, and the poller, finding its row, leaves it alone.

The event is made while the ad is created and emitted in the transaction that settles the
request (with ``LaunchSettled``), and only for a ``created`` outcome; ``record`` makes a repeat
with the same content publish nothing. If reading the ad set back fails the ad stays created and
undescribed here; the poller describes it when it first reports spend.
"""

from __future__ import annotations

from typing import Any

import structlog

from schemas.events import CreativeDescribed
from schemas.launch import AdSpec, LaunchRequested
from streams.assets import AssetRecord
from streams.core.redaction import scrub_text
from streams.integrations.meta_creative import ADSET_FIELDS, describe_graph
from streams.integrations.meta_launch import MetaCreator
from streams.priors.creatives import describe

log = structlog.get_logger("roasloop.launcher.creative")


def _media(record: AssetRecord) -> tuple[float | None, float | None]:
    """(video length in seconds, width / height) when the asset's metadata says."""
    media = record.media
    duration = getattr(media, "duration_s", None) if record.type == "video" else None
    width, height = getattr(media, "width", None), getattr(media, "height", None)
    ratio = round(width / height, 4) if width and height else None
    return (float(duration) if duration is not None else None), ratio


async def describe_created_ad(client: MetaCreator, request: LaunchRequested, spec: AdSpec, record: AssetRecord,
                              story: dict[str, Any], adset_id: str, ad_id: str) -> CreativeDescribed | None:
    """The description of the ad just created, or None when its ad set could not be read back."""
    try:
        adset = await client.read_object(adset_id, ADSET_FIELDS)
    except Exception as exc:  # the ad exists; the poller will describe it
        log.warning("creative_not_described", request_id=request.request_id, adset_id=adset_id,
                    error_type=type(exc).__name__, error=scrub_text(str(exc))[:300])
        return None
    duration, ratio = _media(record)
    seen = describe_graph(adset, {"object_story_spec": story}, video_duration_s=duration, aspect_ratio=ratio)
    campaign_id = str(adset.get("campaign_id") or "")
    if not campaign_id:
        return None
    return describe(tenant_id=request.tenant_id, group_id=campaign_id, campaign_id=campaign_id, entity_id=adset_id,
                    ad_id=ad_id, features=seen.features, now=client.clock.now(), text=seen.text)
