"""The catalog: keys, co-partitioning, and one topic per event."""

from __future__ import annotations

import pytest

from schemas.codec import EVENT_MODELS
from schemas.topics import BY_NAME, CATALOG, GROUP_PARTITIONS, topic_for
from tests.schemas.test_events import EXAMPLES


def test_every_event_has_exactly_one_topic() -> None:
    assert sorted(t.model.__name__ for t in CATALOG) == sorted(m.__name__ for m in EVENT_MODELS)


@pytest.mark.parametrize(
    ("index", "key"),
    [(0, b"acme"), (1, b"acme:d1"), (2, b"acme:d1"), (4, b"acme:k1"), (5, b"acme:k1"), (6, b"acme:k1"),
     (7, b"acme:k1"), (8, b"acme:k1")],
)
def test_keys_follow_the_design_table(index: int, key: bytes) -> None:
    event = EXAMPLES[index]
    assert topic_for(event).key(event) == key


def test_topics_read_together_are_co_partitioned() -> None:
    group_keyed = ["revenue.v1", "spend.v1", "decisions.v1", "budget.requests.v1", "budget.outcomes.v1"]
    assert {BY_NAME[n].partitions for n in group_keyed} == {GROUP_PARTITIONS}


def test_a_topic_refuses_an_event_of_another_model() -> None:
    with pytest.raises(TypeError, match="clicks.v1 carries AdClicked"):
        BY_NAME["clicks.v1"].key(EXAMPLES[1])
