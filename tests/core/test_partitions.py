"""Ownership of keys: roasloop hashes keys to partitions exactly as Kafka's Java client does."""

from __future__ import annotations

from streams.core.partitions import group_partition, partition_for


def java_murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` (seed 0x9747b28c), written out independently of aiokafka's copy."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    for i in range(0, len(data) - len(data) % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = len(data) % 4
    base = len(data) - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def java_partition(key: bytes, partitions: int) -> int:
    return (java_murmur2(key) & 0x7FFFFFFF) % partitions


def test_keys_land_where_the_java_client_puts_them() -> None:
    keys = [b"acme:g1", b"acme:c1", b"globex:campaign-42", b"", b"x", b"ab", b"abc", "t\u00e9:g".encode()]
    for key in keys:
        for partitions in (1, 6, 12, 7):
            assert partition_for(key, partitions) == java_partition(key, partitions), (key, partitions)


def test_a_group_is_owned_by_the_partition_of_its_catalog_key() -> None:
    assert group_partition("acme", "g1") == java_partition(b"acme:g1", 12)
