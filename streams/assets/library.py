"""The creative asset library: videos, audio, images, fonts, LUTs and templates in object storage.

Each asset is two objects under ``<prefix>/<asset_id>/``: ``content`` (the bytes) and
``asset.json`` (its :class:`AssetRecord`). One sidecar per asset rather than one shared index
object means two registrations never race on a read-modify-write of the same object; listing
reads the sidecars, which is fine at creative-library sizes (thousands, not millions).

The sidecar is written last, so an asset is visible only once its bytes are durable; deletion
removes the sidecar first for the same reason.
"""

from __future__ import annotations

import builtins
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pydantic import TypeAdapter, ValidationError

from streams.assets.models import (
    AnyMedia,
    AssetRecord,
    AssetType,
    Media,
    default_content_type,
)
from streams.core.errors import RoasloopError
from streams.core.storage import ObjectNotFound, ObjectStorage

_MEDIA = TypeAdapter[AnyMedia](Media)
SIDECAR = "asset.json"
CONTENT = "content"


class AssetNotFound(RoasloopError, KeyError):
    def __str__(self) -> str:
        return f"no asset {self.args[0]!r} in the library"


class AssetExists(RoasloopError):
    """An asset id that is already registered (ids are never silently overwritten)."""


class InvalidAsset(RoasloopError, ValueError):
    """Metadata that does not validate for the asset's type."""


class AssetLibrary:
    def __init__(self, storage: ObjectStorage, prefix: str = "assets") -> None:
        self.storage = storage
        self.prefix = prefix.strip("/")

    def _key(self, asset_id: str, leaf: str) -> str:
        return f"{self.prefix}/{asset_id}/{leaf}"

    def register(
        self,
        data: bytes,
        *,
        name: str,
        type: AssetType,
        category: str,
        media: AnyMedia | dict[str, object],
        tags: Sequence[str] = (),
        content_type: str | None = None,
        asset_id: str | None = None,
        embedding: Sequence[float] | None = None,
        now: datetime | None = None,
    ) -> AssetRecord:
        """Validate the metadata for its type, store the bytes, then the record; return the record."""
        asset_id = asset_id or uuid.uuid4().hex
        try:
            if isinstance(media, dict):
                media = _MEDIA.validate_python({"kind": type, **media})
            record = AssetRecord(
                asset_id=asset_id, name=name, type=type, category=category, tags=list(tags),
                media=media, content_type=content_type or default_content_type(media),
                size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                storage_key=self._key(asset_id, CONTENT), created_at=now or datetime.now(UTC),
                embedding=list(embedding) if embedding is not None else None,
            )
        except ValidationError as exc:
            raise InvalidAsset(f"asset {name!r} ({type}): {exc}") from exc
        if self.storage.exists(self._key(asset_id, SIDECAR)):
            raise AssetExists(f"asset {asset_id!r} is already registered; delete it first to replace it")
        self.storage.put(record.storage_key, data, content_type=record.content_type,
                         metadata={"asset_id": asset_id, "type": type, "category": category})
        self.storage.put(self._key(asset_id, SIDECAR), record.model_dump_json().encode(),
                         content_type="application/json")
        return record

    def get(self, asset_id: str) -> AssetRecord:
        try:
            raw = self.storage.get(self._key(asset_id, SIDECAR)).data
        except ObjectNotFound:
            raise AssetNotFound(asset_id) from None
        return AssetRecord.model_validate_json(raw)

    def fetch(self, asset_id: str) -> tuple[AssetRecord, bytes]:
        """The record and the asset's bytes (checked against the recorded SHA-256)."""
        record = self.get(asset_id)
        try:
            data = self.storage.get(record.storage_key).data
        except ObjectNotFound:
            raise AssetNotFound(asset_id) from None
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise InvalidAsset(f"asset {asset_id!r}: stored bytes do not match the recorded SHA-256")
        return record, data

    def _records(self) -> Iterable[AssetRecord]:
        for info in self.storage.list(self.prefix + "/"):
            if info.key.endswith("/" + SIDECAR):
                try:
                    yield AssetRecord.model_validate_json(self.storage.get(info.key).data)
                except ObjectNotFound:  # deleted while we were listing
                    continue

    def list(self, *, type: AssetType | None = None, category: str | None = None,
             tag: str | None = None) -> list[AssetRecord]:
        """Assets matching every filter given; a category also matches its sub-categories."""
        def matches(r: AssetRecord) -> bool:
            return ((type is None or r.type == type)
                    and (category is None or r.category == category or r.category.startswith(category + "/"))
                    and (tag is None or tag in r.tags))
        return sorted((r for r in self._records() if matches(r)), key=lambda r: (r.created_at, r.asset_id))

    def find(self, *, type: AssetType | None = None, category: str | None = None,
             tag: str | None = None, name_contains: str | None = None) -> builtins.list[AssetRecord]:
        needle = (name_contains or "").lower()
        return [r for r in self.list(type=type, category=category, tag=tag) if needle in r.name.lower()]

    def delete(self, asset_id: str) -> bool:
        existed = self.storage.delete(self._key(asset_id, SIDECAR))
        self.storage.delete(self._key(asset_id, CONTENT))
        return existed
