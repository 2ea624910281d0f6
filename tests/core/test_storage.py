"""One conformance suite, run against every object-storage backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.core.settings import Settings
from streams.core.storage import (
    GcsStorage,
    InvalidKey,
    LocalStorage,
    ObjectNotFound,
    ObjectStorage,
    open_storage,
)
from streams.lab.dev.gcs import emulated_gcs


@pytest.fixture(scope="module")
def gcs_client() -> Iterator[Any]:
    with emulated_gcs("roasloop-test") as client:
        yield client


@pytest.fixture(params=["local", "gcs"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "objects")
    client = request.getfixturevalue("gcs_client")
    return GcsStorage("roasloop-test", prefix=f"t-{uuid.uuid4().hex[:8]}", client=client)


def test_put_then_get_returns_bytes_content_type_and_metadata(storage: ObjectStorage) -> None:
    info = storage.put("models/ctr/v1.txt", b"\x00model\xff", content_type="text/plain",
                       metadata={"version": "1", "auc": "0.71"})
    assert info.key == "models/ctr/v1.txt"
    assert info.size == 7
    obj = storage.get("models/ctr/v1.txt")
    assert obj.data == b"\x00model\xff"
    assert obj.content_type == "text/plain"
    assert dict(obj.metadata) == {"version": "1", "auc": "0.71"}
    assert obj.updated_at is not None


def test_put_replaces_an_existing_object(storage: ObjectStorage) -> None:
    storage.put("a/b", b"one", metadata={"n": "1"})
    storage.put("a/b", b"two", content_type="application/json")
    obj = storage.get("a/b")
    assert obj.data == b"two"
    assert obj.content_type == "application/json"
    assert dict(obj.metadata) == {}


def test_get_of_a_missing_key_raises_object_not_found(storage: ObjectStorage) -> None:
    with pytest.raises(ObjectNotFound):
        storage.get("nothing/here")
    with pytest.raises(KeyError):  # also a KeyError, for callers that think of storage as a mapping
        storage.get("nothing/here")


def test_exists_and_delete(storage: ObjectStorage) -> None:
    assert not storage.exists("x/y.bin")
    storage.put("x/y.bin", b"1")
    assert storage.exists("x/y.bin")
    assert storage.delete("x/y.bin") is True
    assert not storage.exists("x/y.bin")
    assert storage.delete("x/y.bin") is False


def test_list_filters_by_prefix_and_sorts_by_key(storage: ObjectStorage) -> None:
    for key in ("idx/b", "idx/a", "idx/sub/c", "other/d"):
        storage.put(key, key.encode())
    assert [i.key for i in storage.list("idx/")] == ["idx/a", "idx/b", "idx/sub/c"]
    assert [i.key for i in storage.list("idx/sub")] == ["idx/sub/c"]
    assert [i.key for i in storage.list()] == ["idx/a", "idx/b", "idx/sub/c", "other/d"]
    assert storage.list("nope/") == []
    assert {i.size for i in storage.list("idx/")} == {5, 9}


def test_empty_object_round_trips(storage: ObjectStorage) -> None:
    storage.put("empty", b"")
    assert storage.get("empty").data == b""


def test_large_binary_object_round_trips(storage: ObjectStorage) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB: beyond a single-request upload chunk
    storage.put("big/blob.bin", payload)
    assert storage.get("big/blob.bin").data == payload


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "dir/", "a/./b", "sp ace", "x.__meta__.json"])
def test_unsafe_keys_are_refused(storage: ObjectStorage, key: str) -> None:
    with pytest.raises(InvalidKey):
        storage.put(key, b"1")


def test_metadata_must_be_strings(storage: ObjectStorage) -> None:
    with pytest.raises(TypeError):
        storage.put("m", b"1", metadata={"n": 1})  # type: ignore[dict-item]


def test_local_sidecars_never_show_in_listings(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    store.put("a/b", b"1", metadata={"k": "v"})
    assert [i.key for i in store.list()] == ["a/b"]
    store.delete("a/b")
    assert list(tmp_path.iterdir()) == []  # empty prefixes are tidied away


def test_gcs_prefix_isolates_deployments(gcs_client: Any) -> None:
    one = GcsStorage("roasloop-test", prefix="deploy-one", client=gcs_client)
    two = GcsStorage("roasloop-test", prefix="deploy-two/", client=gcs_client)
    one.put("k", b"1")
    assert not two.exists("k")
    assert [i.key for i in one.list()] == ["k"]


def test_open_storage_picks_the_backend_from_settings(tmp_path: Path, gcs_client: Any) -> None:
    local = open_storage(Settings(storage_dir=str(tmp_path)))
    assert isinstance(local, LocalStorage)
    gcs = open_storage(Settings(gcs_bucket_name="roasloop-test", gcs_prefix="p"), client=gcs_client)
    assert isinstance(gcs, GcsStorage)
    gcs.put("via-settings", b"ok")
    assert GcsStorage("roasloop-test", "p", client=gcs_client).get("via-settings").data == b"ok"
