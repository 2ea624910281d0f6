"""Which partition a key lands on: Kafka's murmur2 of the key, as the Java client and aiokafka hash it.

Every roasloop producer partitions this way, and an owner of a partition owns every key that
hashes to it - the executor expires only its own groups' waiting changes, the sampler schedules
only its own groups - so they compute ownership with this same function.
"""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from schemas.topics import GROUP_PARTITIONS, group_key

_MURMUR2 = DefaultPartitioner()


def partition_for(key: bytes, partitions: int) -> int:
    every = list(range(partitions))
    return int(_MURMUR2(key, every, every))


def group_partition(tenant_id: str, group_id: str, partitions: int = GROUP_PARTITIONS) -> int:
    """The partition of an allocation group on the group-keyed topics (``tenant:group``)."""
    return partition_for(group_key(tenant_id, group_id), partitions)
