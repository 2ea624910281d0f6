"""What the creative library knows about an asset: its type, category and media metadata.

Media metadata is validated per type (a video has a duration, codec, resolution, frame rate and
bitrate; a font has none of those) so that a wrong upload fails at registration, not when a
renderer trips over it later. The ``kind`` field discriminates the union.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

AssetType = Literal["video", "audio", "image", "font", "lut", "template"]

AssetId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")]
Category = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_\-/]*$")]
Seconds = Annotated[float, Field(gt=0, le=24 * 3600)]
Pixels = Annotated[int, Field(gt=0, le=16384)]
FrameRate = Annotated[float, Field(gt=0, le=240)]
Kbps = Annotated[int, Field(gt=0, le=1_000_000)]


class _Media(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VideoMedia(_Media):
    kind: Literal["video"] = "video"
    duration_s: Seconds
    codec: Literal["h264", "hevc", "vp8", "vp9", "av1", "prores", "mpeg4"]
    width: Pixels
    height: Pixels
    frame_rate: FrameRate
    bitrate_kbps: Kbps
    container: Literal["mp4", "mov", "webm", "mkv"] = "mp4"
    audio_codec: Literal["aac", "opus", "mp3", "pcm"] | None = None

    @property
    def aspect_ratio(self) -> float:
        return self.width / self.height


class AudioMedia(_Media):
    kind: Literal["audio"] = "audio"
    duration_s: Seconds
    codec: Literal["aac", "mp3", "opus", "vorbis", "flac", "pcm"]
    bitrate_kbps: Kbps
    sample_rate_hz: Literal[8000, 16000, 22050, 32000, 44100, 48000, 96000] = 48000
    channels: int = Field(default=2, ge=1, le=8)


class ImageMedia(_Media):
    kind: Literal["image"] = "image"
    format: Literal["jpeg", "png", "webp", "gif", "svg", "avif"]
    width: Pixels
    height: Pixels
    frame_count: int = Field(default=1, ge=1, description="> 1 for animated GIF/WebP")


class FontMedia(_Media):
    kind: Literal["font"] = "font"
    format: Literal["ttf", "otf", "woff", "woff2"]
    family: str = Field(min_length=1, max_length=200)
    style: str = Field(default="Regular", min_length=1, max_length=100)
    weight: int = Field(default=400, ge=100, le=1000)


class LutMedia(_Media):
    kind: Literal["lut"] = "lut"
    format: Literal["cube", "3dl", "csp"]
    size: int = Field(ge=2, le=256, description="Grid points per axis (17, 33, 65 ...)")
    input_space: str = Field(default="rec709", min_length=1, max_length=50)
    output_space: str = Field(default="rec709", min_length=1, max_length=50)


class TemplateMedia(_Media):
    kind: Literal["template"] = "template"
    engine: Literal["json", "aftereffects", "remotion", "html"] = "json"
    width: Pixels
    height: Pixels
    duration_s: Seconds | None = None
    frame_rate: FrameRate | None = None
    placeholders: list[str] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _motion_has_a_rate(self) -> Self:
        if (self.duration_s is None) != (self.frame_rate is None):
            raise ValueError("a motion template needs both duration_s and frame_rate (a still one neither)")
        return self


AnyMedia = VideoMedia | AudioMedia | ImageMedia | FontMedia | LutMedia | TemplateMedia
Media = Annotated[AnyMedia, Field(discriminator="kind")]

# What a file of each type is served as when the caller does not say.
DEFAULT_CONTENT_TYPES: dict[str, str] = {
    "video:mp4": "video/mp4", "video:mov": "video/quicktime", "video:webm": "video/webm",
    "video:mkv": "video/x-matroska",
    "audio:aac": "audio/aac", "audio:mp3": "audio/mpeg", "audio:opus": "audio/ogg",
    "audio:vorbis": "audio/ogg", "audio:flac": "audio/flac", "audio:pcm": "audio/wav",
    "image:jpeg": "image/jpeg", "image:png": "image/png", "image:webp": "image/webp",
    "image:gif": "image/gif", "image:svg": "image/svg+xml", "image:avif": "image/avif",
    "font:ttf": "font/ttf", "font:otf": "font/otf", "font:woff": "font/woff", "font:woff2": "font/woff2",
    "lut:cube": "text/plain", "lut:3dl": "text/plain", "lut:csp": "text/plain",
}


def default_content_type(media: AnyMedia) -> str:
    sub: str
    if isinstance(media, VideoMedia):
        sub = media.container
    elif isinstance(media, AudioMedia):
        sub = media.codec
    elif isinstance(media, TemplateMedia):
        return "application/json" if media.engine == "json" else "application/octet-stream"
    else:
        sub = media.format
    return DEFAULT_CONTENT_TYPES.get(f"{media.kind}:{sub}", "application/octet-stream")


class AssetRecord(BaseModel):
    """One registered asset; stored as the JSON sidecar next to its bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset_id: AssetId
    name: str = Field(min_length=1, max_length=300)
    type: AssetType
    category: Category
    tags: list[str] = Field(default_factory=list, max_length=50)
    media: Media
    content_type: str = Field(min_length=3, max_length=200)
    size_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    storage_key: str
    created_at: AwareDatetime
    embedding: list[float] | None = Field(
        default=None, description="Creative embedding, when the producer supplies one (winner index)"
    )

    @model_validator(mode="after")
    def _media_matches_type(self) -> Self:
        if self.media.kind != self.type:
            raise ValueError(f"asset type {self.type!r} carries {self.media.kind!r} media metadata")
        return self

