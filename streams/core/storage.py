"""Object storage: model artifacts, winner-index snapshots, backtest reports, creative assets.

One small interface, two backends. Production writes to Google Cloud Storage (bucket and prefix
from settings); development and most tests write to a local directory. Code above this module
never knows which one it has, so a model trained on a laptop and one trained in the cluster are
stored and loaded the same way.

Keys are ``/``-separated relative paths (``models/ctr/v3.txt``). They are validated once here so
that neither backend can be tricked into escaping its root (``..``) or writing odd names.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from streams.core.errors import ConfigError, RoasloopError
from streams.core.settings import Settings

DEFAULT_CONTENT_TYPE = "application/octet-stream"
_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+\-@]*$")
_META_SUFFIX = ".__meta__.json"


class ObjectNotFound(RoasloopError, KeyError):
    """No object under that key."""

    def __str__(self) -> str:
        return f"no object stored under {self.args[0]!r}"


class InvalidKey(RoasloopError, ValueError):
    """A key that is not a clean relative path."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None


@dataclass(frozen=True)
class StoredObject:
    key: str
    data: bytes
    content_type: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None

    @property
    def size(self) -> int:
        return len(self.data)


def validate_key(key: str) -> str:
    """Return the key if every part is a plain name; raise :class:`InvalidKey` otherwise."""
    if not key or key.startswith("/") or key.endswith("/"):
        raise InvalidKey(f"storage key {key!r} must be a relative path like 'models/ctr/v1.txt'")
    for part in key.split("/"):
        if part in ("", ".", "..") or not _KEY_PART.match(part) or part.endswith(_META_SUFFIX):
            raise InvalidKey(f"storage key {key!r}: part {part!r} is not allowed")
    return key


def validate_prefix(prefix: str) -> str:
    """A list prefix is any leading piece of a key ('' lists everything)."""
    if prefix.startswith("/") or ".." in prefix.split("/"):
        raise InvalidKey(f"storage prefix {prefix!r} must be relative and must not contain '..'")
    return prefix


def _metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(metadata or {})
    for k, v in out.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"object metadata must be str -> str, got {k!r}: {v!r}")
    return out


@runtime_checkable
class ObjectStorage(Protocol):
    """What every backend offers. ``put`` replaces an existing object atomically."""

    def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE,
            metadata: Mapping[str, str] | None = None) -> ObjectInfo: ...

    def get(self, key: str) -> StoredObject: ...

    def list(self, prefix: str = "") -> list[ObjectInfo]: ...

    def delete(self, key: str) -> bool: ...

    def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Objects as files under a root directory, content type and metadata in a sidecar file.

    Writes go to a temporary file renamed into place, so a reader never sees half an artifact.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(path.name + _META_SUFFIX)

    @staticmethod
    def _atomic_write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE,
            metadata: Mapping[str, str] | None = None) -> ObjectInfo:
        path = self._path(key)
        if path.is_dir():
            raise InvalidKey(f"storage key {key!r} is already a prefix of other objects")
        meta = {"content_type": content_type, "metadata": _metadata(metadata)}
        self._atomic_write(self._meta_path(path), json.dumps(meta).encode())
        self._atomic_write(path, bytes(data))
        return self._info(key, path)

    def _info(self, key: str, path: Path) -> ObjectInfo:
        meta = self._read_meta(path)
        stat = path.stat()
        return ObjectInfo(key=key, size=stat.st_size, content_type=meta["content_type"],
                          metadata=meta["metadata"],
                          updated_at=datetime.fromtimestamp(stat.st_mtime, UTC))

    def _read_meta(self, path: Path) -> dict[str, Any]:
        try:
            meta: dict[str, Any] = json.loads(self._meta_path(path).read_bytes())
        except FileNotFoundError:
            meta = {"content_type": DEFAULT_CONTENT_TYPE, "metadata": {}}
        return meta

    def get(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        info = self._info(key, path)
        return StoredObject(key=key, data=data, content_type=info.content_type,
                            metadata=info.metadata, updated_at=info.updated_at)

    def _walk(self, prefix: str) -> Iterator[tuple[str, Path]]:
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.endswith(_META_SUFFIX) or name.startswith(".tmp-"):
                    continue
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key, path

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        validate_prefix(prefix)
        return sorted((self._info(k, p) for k, p in self._walk(prefix)), key=lambda i: i.key)

    def delete(self, key: str) -> bool:
        path = self._path(key)
        if not path.is_file():
            return False
        path.unlink()
        self._meta_path(path).unlink(missing_ok=True)
        parent = path.parent
        while parent != self.root and not any(parent.iterdir()):  # tidy empty prefixes
            parent.rmdir()
            parent = parent.parent
        return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class GcsStorage:
    """Objects in a Google Cloud Storage bucket under an optional prefix.

    ``client`` is a ``google.cloud.storage.Client``; tests pass one pointed at the emulator.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        from google.cloud import storage as gcs

        self._client = client if client is not None else gcs.Client()
        self._bucket = self._client.bucket(bucket)
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _name(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _info(self, blob: Any) -> ObjectInfo:
        return ObjectInfo(key=blob.name[len(self.prefix):], size=int(blob.size or 0),
                          content_type=blob.content_type or DEFAULT_CONTENT_TYPE,
                          metadata=dict(blob.metadata or {}), updated_at=blob.updated)

    def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE,
            metadata: Mapping[str, str] | None = None) -> ObjectInfo:
        blob = self._bucket.blob(self._name(key))
        blob.metadata = _metadata(metadata) or None
        blob.upload_from_string(bytes(data), content_type=content_type)
        return self._info(blob)

    def get(self, key: str) -> StoredObject:
        from google.api_core.exceptions import NotFound

        blob = self._bucket.blob(self._name(key))
        try:
            data = blob.download_as_bytes()
            blob.reload()
        except NotFound:
            raise ObjectNotFound(key) from None
        info = self._info(blob)
        return StoredObject(key=key, data=data, content_type=info.content_type,
                            metadata=info.metadata, updated_at=info.updated_at)

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        blobs = self._client.list_blobs(self._bucket, prefix=self.prefix + validate_prefix(prefix))
        return sorted((self._info(b) for b in blobs), key=lambda i: i.key)

    def delete(self, key: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self._bucket.blob(self._name(key)).delete()
        except NotFound:
            return False
        return True

    def exists(self, key: str) -> bool:
        return bool(self._bucket.blob(self._name(key)).exists())


def open_storage(settings: Settings, client: Any = None) -> ObjectStorage:
    """GCS when ``GCS_BUCKET_NAME`` is set, else the local directory ``ROASLOOP_STORAGE_DIR``."""
    if settings.gcs_bucket_name:
        try:
            return GcsStorage(settings.gcs_bucket_name, settings.gcs_prefix, client=client)
        except Exception as exc:  # credentials missing, bad project ...: fail at start, say why
            bucket = settings.gcs_bucket_name
            raise ConfigError(f"GCS_BUCKET_NAME: cannot open bucket {bucket!r}: {exc}") from exc
    return LocalStorage(settings.storage_dir)


__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "GcsStorage",
    "InvalidKey",
    "LocalStorage",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStorage",
    "StoredObject",
    "open_storage",
    "validate_key",
]
