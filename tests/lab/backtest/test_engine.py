"""The replay gives each logged decision exactly the facts the live sampler had applied when it decided."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from schemas.envelope import Envelope
from schemas.events import AllocationDecided, EvidenceMark
from schemas.topics import topic_for
from streams.lab.backtest.engine import Replay, replay_records
from streams.lab.backtest.policies import Choice, Logged
from streams.lab.backtest.records import ReplayRecord, to_ms
from streams.lab.backtest.report import summary, warnings
from streams.sampler.settings import load_sampler_settings
from streams.sampler.state import GroupState
from tests.lab.backtest.factories import at, decision, revenue, spend


class SpendSeen(Logged):
    """Repeats the logged choice and notes the spend its state held for each entity."""

    name = "spend-seen"

    def __init__(self) -> None:
        self.seen: list[dict[str, int]] = []

    def choose(self, logged: AllocationDecided, state: GroupState) -> Choice:
        self.seen.append({e: sum(c.spend_minor for c in days.values()) for e, days in sorted(state.days.items())})
        return super().choose(logged, state)


def records(events: Iterable[tuple[Envelope, int]]) -> list[ReplayRecord]:
    """Records in stream order; each event at the given offset of partition 0 of its topic."""
    return [ReplayRecord(topic_for(e).name, 0, offset, to_ms(e.occurred_at), e) for e, offset in events]


def decided(when: datetime, spend_next: int | None) -> AllocationDecided:
    event = decision(when, {"a": 0.5, "b": 0.5}, {"a": 500, "b": 500})
    if spend_next is None:
        return event
    return event.model_copy(update={"evidence": [EvidenceMark(topic="spend.v1", partition=0, next_offset=spend_next)]})


def test_a_fact_stamped_before_a_decision_but_applied_after_it_live_is_left_out() -> None:
    spy = SpendSeen()
    stream = records([(spend("a", at(1), 100), 0), (spend("b", at(2), 200), 1), (decided(at(3), 1), 0),
                      (decided(at(5), 2), 1)])
    result = replay_records(stream, [spy])
    assert spy.seen == [{"a": 100}, {"a": 100, "b": 200}]
    assert result.incomplete_evidence == 0


def test_a_decision_waits_for_facts_it_saw_that_come_later_in_the_stream() -> None:
    spy = SpendSeen()
    stream = records([(spend("a", at(1), 100), 0), (decided(at(2), 2), 0), (spend("b", at(3), 200), 1)])
    result = replay_records(stream, [spy])
    assert spy.seen == [{"a": 100, "b": 200}]
    assert [d.event.occurred_at for d in result.logged] == [at(2)]


def test_a_decision_whose_facts_never_arrive_is_decided_at_the_end_and_counted() -> None:
    spy = SpendSeen()
    result = replay_records(records([(spend("a", at(1), 100), 0), (decided(at(2), 5), 0)]), [spy])
    assert spy.seen == [{"a": 100}]
    assert result.incomplete_evidence == 1


def test_a_decision_stops_waiting_once_the_stream_is_well_past_it() -> None:
    """Facts it names that are not in the stream by then never will be (e.g. before the range):
    holding it to the end would hold every later decision too."""
    replay = Replay([SpendSeen()])
    replay.feed(records([(decided(at(2), 5), 0)])[0])
    replay.feed(records([(revenue("a", at(2) + timedelta(minutes=1), 200), 0)])[0])  # spend.v1:0 not yet at 4
    assert replay.logged == []
    replay.feed(records([(revenue("a", at(2) + timedelta(minutes=6), 300, deal="e"), 1)])[0])
    assert [d.event.occurred_at for d in replay.logged] == [at(2)]
    assert replay.incomplete == 1


def test_a_decision_without_evidence_sees_every_fact_before_it_in_the_stream() -> None:
    spy = SpendSeen()
    stream = records([(spend("a", at(1), 100), 0), (revenue("a", at(1), 5_000), 0), (decided(at(2), None), 0),
                      (spend("b", at(3), 200), 1), (decided(at(4), None), 1)])
    replay_records(stream, [spy])
    assert spy.seen == [{"a": 100}, {"a": 100, "b": 200}]


def test_decisions_made_with_other_sampler_settings_are_counted() -> None:
    ours = load_sampler_settings().decision_digest()
    stream = records([(spend("a", at(1), 100), 0),
                      (decided(at(2), 1).model_copy(update={"settings_digest": ours}), 0),
                      (decided(at(3), 1).model_copy(update={"settings_digest": "0123456789abcdef"}), 1),
                      (decided(at(4), 1), 2)])  # no digest: an older log, nothing to compare
    result = replay_records(stream, [SpendSeen()])
    assert result.other_settings == 1
    data = summary(result, [])
    assert any("other sampler settings" in w for w in warnings(data["meta"]))
