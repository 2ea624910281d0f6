"""The creative asset library: per-type validation, listing, fetch, delete."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streams.assets import (
    AssetExists,
    AssetLibrary,
    AssetNotFound,
    InvalidAsset,
    VideoMedia,
)
from streams.core.storage import GcsStorage, LocalStorage
from streams.lab.dev.gcs import emulated_gcs

T0 = datetime(2026, 3, 1, tzinfo=UTC)
VIDEO = {"duration_s": 15.0, "codec": "h264", "width": 1080, "height": 1920, "frame_rate": 30,
         "bitrate_kbps": 6000, "audio_codec": "aac"}


@pytest.fixture
def library(tmp_path: Path) -> AssetLibrary:
    return AssetLibrary(LocalStorage(tmp_path))


def _seed(lib: AssetLibrary) -> None:
    lib.register(b"vid", name="Spring promo 9x16", type="video", category="ugc/testimonial",
                 media=VIDEO, tags=["spring"], asset_id="v1", now=T0)
    lib.register(b"aud", name="Upbeat bed", type="audio", category="music",
                 media={"duration_s": 30, "codec": "mp3", "bitrate_kbps": 192}, asset_id="a1",
                 now=T0 + timedelta(seconds=1))
    lib.register(b"img", name="Hero still", type="image", category="ugc",
                 media={"format": "png", "width": 1200, "height": 628}, tags=["spring"], asset_id="i1",
                 now=T0 + timedelta(seconds=2))
    lib.register(b"fnt", name="Inter Bold", type="font", category="brand",
                 media={"format": "woff2", "family": "Inter", "style": "Bold", "weight": 700}, asset_id="f1",
                 now=T0 + timedelta(seconds=3))
    lib.register(b"LUT_3D_SIZE 33", name="Warm look", type="lut", category="grade",
                 media={"format": "cube", "size": 33}, asset_id="l1", now=T0 + timedelta(seconds=4))
    lib.register(b"{}", name="Lower third", type="template", category="brand",
                 media={"width": 1080, "height": 1080, "duration_s": 6, "frame_rate": 25,
                        "placeholders": ["headline"]}, asset_id="t1", now=T0 + timedelta(seconds=5))


def test_register_stores_bytes_and_validated_metadata(library: AssetLibrary) -> None:
    record = library.register(b"\x00\x01video", name="Spring promo", type="video", category="ugc",
                              media=VIDEO, embedding=[0.1, 0.2])
    assert isinstance(record.media, VideoMedia)
    assert record.media.aspect_ratio == pytest.approx(0.5625)
    assert record.content_type == "video/mp4"
    assert record.size_bytes == 7
    fetched, data = library.fetch(record.asset_id)
    assert data == b"\x00\x01video"
    assert fetched == record
    assert library.storage.get(record.storage_key).content_type == "video/mp4"


def test_every_asset_type_registers_and_lists_by_type_and_category(library: AssetLibrary) -> None:
    _seed(library)
    assert [r.asset_id for r in library.list()] == ["v1", "a1", "i1", "f1", "l1", "t1"]
    assert [r.asset_id for r in library.list(type="font")] == ["f1"]
    assert [r.asset_id for r in library.list(category="brand")] == ["f1", "t1"]
    assert [r.asset_id for r in library.list(category="ugc")] == ["v1", "i1"]  # sub-categories too
    assert [r.asset_id for r in library.list(tag="spring", type="image")] == ["i1"]
    assert [r.asset_id for r in library.find(name_contains="PROMO")] == ["v1"]
    assert library.get("a1").content_type == "audio/mpeg"


@pytest.mark.parametrize(
    ("type_", "media", "fragment"),
    [
        ("video", {**VIDEO, "frame_rate": 0}, "frame_rate"),
        ("video", {**VIDEO, "codec": "divx"}, "codec"),
        ("video", {k: v for k, v in VIDEO.items() if k != "duration_s"}, "duration_s"),
        ("audio", {"duration_s": 3, "codec": "mp3", "bitrate_kbps": 128, "width": 3}, "width"),
        ("image", {"format": "png", "width": -1, "height": 5}, "width"),
        ("lut", {"format": "cube", "size": 1}, "size"),
        ("template", {"width": 10, "height": 10, "duration_s": 5}, "frame_rate"),
    ],
)
def test_metadata_that_does_not_fit_the_type_is_refused(
    library: AssetLibrary, type_: str, media: dict[str, object], fragment: str
) -> None:
    with pytest.raises(InvalidAsset, match=fragment):
        library.register(b"x", name="bad", type=type_, category="c", media=media)  # type: ignore[arg-type]
    assert library.list() == []


def test_media_of_another_type_is_refused(library: AssetLibrary) -> None:
    with pytest.raises(InvalidAsset, match="carries 'video'"):
        library.register(b"x", name="bad", type="image", category="c", media=VideoMedia(**VIDEO))


def test_an_id_is_never_silently_overwritten(library: AssetLibrary) -> None:
    library.register(b"1", name="a", type="image", category="c",
                     media={"format": "png", "width": 1, "height": 1}, asset_id="same")
    with pytest.raises(AssetExists):
        library.register(b"2", name="b", type="image", category="c",
                         media={"format": "png", "width": 1, "height": 1}, asset_id="same")


def test_delete_removes_the_asset_and_its_bytes(library: AssetLibrary) -> None:
    _seed(library)
    assert library.delete("v1") is True
    assert library.delete("v1") is False
    with pytest.raises(AssetNotFound):
        library.get("v1")
    assert not library.storage.list("assets/v1/")
    assert len(library.list()) == 5


def test_tampered_bytes_are_detected_on_fetch(library: AssetLibrary) -> None:
    record = library.register(b"orig", name="a", type="font", category="c",
                              media={"format": "ttf", "family": "X"})
    library.storage.put(record.storage_key, b"evil")
    with pytest.raises(InvalidAsset, match="SHA-256"):
        library.fetch(record.asset_id)


@pytest.fixture(scope="module")
def gcs_library() -> Iterator[AssetLibrary]:
    with emulated_gcs("assets-test") as client:
        yield AssetLibrary(GcsStorage("assets-test", "lib", client=client))


def test_the_library_works_the_same_on_gcs(gcs_library: AssetLibrary) -> None:
    _seed(gcs_library)
    assert [r.asset_id for r in gcs_library.list(category="brand")] == ["f1", "t1"]
    assert gcs_library.fetch("l1")[1] == b"LUT_3D_SIZE 33"
    assert gcs_library.delete("l1")
    assert [r.type for r in gcs_library.list()] == ["video", "audio", "image", "font", "template"]
