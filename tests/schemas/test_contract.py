"""The exported JSON Schemas and the decoder agree: valid by schema <=> accepted by ``decode``.

A producer in another language only has the schemas. Hypothesis takes a valid event of every
topic and changes one or two things a foreign producer gets wrong (a missing or foreign
``event_type``, ``1250000.0`` for an integer, ``"100"`` or ``true`` for a number, a bound's edge,
a timestamp in another shape, a field added or left out) and asserts that the schema and the
decoder give the same verdict. The oracle is ``jsonschema_rs`` with formats asserted: its regexes
end at ``$`` the way ECMA-262 (JSON Schema's dialect) and pydantic's do, where Python's ``re``
would let a trailing newline through.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas import InvalidEvent, decode_as, encode
from schemas.bounds import INT64_MAX, MAX_MONEY_MINOR
from schemas.codec import EVENT_MODELS
from schemas.envelope import Envelope
from schemas.export import export_json_schemas
from tests.schemas.test_events import EXAMPLES

Path = tuple[str | int, ...]
EDGE_NUMBERS: list[object] = [
    0, -1, 1, 0.0, 1.0, 1.5, -0.5, 1250000.0, 1e300, 1e20,
    MAX_MONEY_MINOR, MAX_MONEY_MINOR + 1, float(MAX_MONEY_MINOR), -MAX_MONEY_MINOR, -MAX_MONEY_MINOR - 1,
    INT64_MAX, INT64_MAX + 1, -INT64_MAX - 1, -INT64_MAX - 2, 10**30,
]
OTHER_VALUES: list[object] = [
    None, True, False, "100", "1.0", "", "x", "USD", "usd", "XYZ", "JPY", "evt-1\n", "évt", [], {}, [1], {"a": 1},
    "2026-05-01T12:30:00Z", "2026-05-01t12:30:00.5+02:00", "2026-05-01 12:30:00Z", "2026-05-01T12:30Z",
    "2026-05-01T12:30:00", "2026-05-01T12:30:00+0000", "1700000000", "2026-02-30T00:00:00Z", "2026-05-01",
    "20260501", "2026-05-01T24:00:00Z", "AdClicked", "SpendReported", "adclicked", "none", "url", "synthetic",
    "reversal", "completed", "awaiting_approval", "approve", "adset", "campaign", "hubspot",
]
VALUES = st.sampled_from(EDGE_NUMBERS + OTHER_VALUES).map(lambda v: json.loads(json.dumps(v)))  # fresh copies
EXTRA_KEYS = st.sampled_from(["event_type", "clickid", "amount", "applied_budget_minor", "ad_id", "schema_version",
                              "produced_at", "extra"])


def _schemas(tmp: Any) -> dict[str, Any]:
    return {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in export_json_schemas(tmp)}


@pytest.fixture(scope="module")
def validators(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    schemas = _schemas(tmp_path_factory.mktemp("schemas"))
    return {name: jsonschema_rs.validator_for(schema, validate_formats=True) for name, schema in schemas.items()}


def _paths(node: object, prefix: Path = ()) -> list[Path]:
    """Every key and list item of a JSON document, parents before children."""
    found: list[Path] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _parent(doc: Any, path: Path) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with one to three changes: a value replaced, a key removed, a key added."""
    doc = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(EXTRA_KEYS)] = draw(VALUES)
    return doc


def _invariants_json_schema_cannot_state(doc: dict[str, Any]) -> bool:
    """AllocationDecided's shares sum to 1 and name each entity once (documented on the model)."""
    if doc.get("event_type") != "AllocationDecided" or not isinstance(doc.get("allocations"), list):
        return True
    items = [a for a in doc["allocations"] if isinstance(a, dict)]
    shares = [a.get("share") for a in items]
    if not all(isinstance(s, int | float) and not isinstance(s, bool) for s in shares):
        return True  # the schema refuses those already
    ids = [a.get("entity_id") for a in items]
    return abs(sum(shares) - 1.0) <= 1e-6 and len(set(map(str, ids))) == len(ids)  # type: ignore[arg-type]


def _accepted(doc: dict[str, Any], model: type[Envelope]) -> bool:
    try:
        decode_as(json.dumps(doc), model)
    except InvalidEvent:
        return False
    return True


def _same_verdict(validators: dict[str, Any], model: type[Envelope], doc: dict[str, Any]) -> None:
    by_schema = validators[model.__name__].is_valid(doc) and _invariants_json_schema_cannot_state(doc)
    assert _accepted(doc, model) == by_schema, (model.__name__, doc)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.event_type)
def test_every_example_is_valid_by_schema_and_accepted(validators: dict[str, Any], event: Envelope) -> None:
    doc = json.loads(encode(event))
    assert validators[type(event).__name__].is_valid(doc)
    assert _accepted(doc, type(event))


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.event_type)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_schema_and_decoder_agree_on_every_changed_event(validators: dict[str, Any], event: Envelope,
                                                        data: st.DataObject) -> None:
    doc = data.draw(mutated(json.loads(encode(event))))
    _same_verdict(validators, type(event), doc)


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda m: m.__name__)
def test_event_type_is_required_by_schema_and_decoder(validators: dict[str, Any], model: type[Envelope]) -> None:
    [event] = [e for e in EXAMPLES if type(e) is model][:1]
    doc = json.loads(encode(event))
    del doc["event_type"]
    assert not validators[model.__name__].is_valid(doc)
    assert not _accepted(doc, model)


@given(amount=st.integers(-2, MAX_MONEY_MINOR + 2).map(float) | st.integers(-2, MAX_MONEY_MINOR + 2),
       impressions=st.integers(0, 10**6).map(float))
@example(amount=1250000.0, impressions=1000.0)
@settings(max_examples=200, deadline=None)
def test_whole_number_floats_are_integers_for_schema_and_decoder(amount: float, impressions: float) -> None:
    [spend] = [e for e in EXAMPLES if e.event_type == "SpendReported"]
    doc = json.loads(encode(spend))
    doc["spend"]["amount_minor"] = amount
    doc["impressions"] = impressions
    expected = 0 <= amount <= MAX_MONEY_MINOR
    schema = json.loads(json.dumps(type(spend).model_json_schema()))
    assert jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(doc) == expected
    assert _accepted(doc, type(spend)) == expected
    if expected:
        decoded = decode_as(json.dumps(doc), type(spend))
        assert decoded.spend.amount_minor == int(amount) and type(decoded.spend.amount_minor) is int


def test_money_bound_is_the_same_number_in_schema_decoder_and_operator_api() -> None:
    from streams.core.controls.group_budgets import MAX_TOTAL_MINOR

    [request] = [e for e in EXAMPLES if e.event_type == "BudgetChangeRequested"]
    schema = type(request).model_json_schema()
    money = schema["$defs"]["Money"]["properties"]["amount_minor"]
    assert money["maximum"] == MAX_MONEY_MINOR == MAX_TOTAL_MINOR
    doc = json.loads(encode(request))
    doc["requested_budget"]["amount_minor"] = 10**30
    with pytest.raises(InvalidEvent, match=r"requested_budget.amount_minor: .*less than or equal to 1000000000000"):
        decode_as(json.dumps(doc), type(request))
