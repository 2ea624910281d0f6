"""What an ad's creative and targeting look like, as the priors read them.

One model for the wire (``CreativeDescribed`` on ``creatives.v1``), the database row and the
priors' input (``streams.priors.features.EntityFeatures`` extends it with the entity id and an
embedding), so a feature added here means the same thing everywhere it travels. Everything is
optional: an unknown feature is missing to the model, never a guessed value. Ad copy is not
personal data, but only its length is carried: the text itself goes into the embedding.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.bounds import Count, WholeNumber

CreativeType = Literal["video", "image", "carousel", "text"]
CallToAction = Literal["learn_more", "sign_up", "book_demo", "get_quote", "contact_us", "download"]
Objective = Literal["leads", "traffic", "conversions"]
Placement = Literal["auto", "feed", "stories", "reels", "audience_network"]
AudienceKind = Literal["broad", "interest", "lookalike", "retargeting"]
Device = Literal["all", "mobile", "desktop"]

MAX_EMBEDDING_DIM = 1024


class CreativeFeatures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # creative
    creative_type: CreativeType | None = None
    video_duration_s: float | None = Field(default=None, ge=0, le=3600)
    aspect_ratio: float | None = Field(default=None, gt=0, le=10, description="width / height")
    has_faces: bool | None = None
    has_text_overlay: bool | None = None
    has_logo: bool | None = None
    headline_length: Annotated[int, Field(ge=0, le=1000), WholeNumber] | None = None
    call_to_action: CallToAction | None = None
    # targeting
    objective: Objective | None = None
    placement: Placement | None = None
    audience: AudienceKind | None = None
    audience_size: Count | None = None
    age_min: Annotated[int, Field(ge=13, le=65), WholeNumber] | None = None
    age_max: Annotated[int, Field(ge=13, le=65), WholeNumber] | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    device: Device | None = None
