"""Creative assets (video, audio, image, font, LUT, template) stored through object storage."""

from streams.assets.library import AssetExists, AssetLibrary, AssetNotFound, InvalidAsset
from streams.assets.models import (
    AssetRecord,
    AssetType,
    AudioMedia,
    FontMedia,
    ImageMedia,
    LutMedia,
    TemplateMedia,
    VideoMedia,
)

__all__ = [
    "AssetExists",
    "AssetLibrary",
    "AssetNotFound",
    "AssetRecord",
    "AssetType",
    "AudioMedia",
    "FontMedia",
    "ImageMedia",
    "InvalidAsset",
    "LutMedia",
    "TemplateMedia",
    "VideoMedia",
]
