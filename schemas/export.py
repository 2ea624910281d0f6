"""JSON Schema export, so a producer in any language can emit valid events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.codec import EVENT_MODELS
from schemas.envelope import Envelope


def wire_schema(model: type[Envelope]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one event as it travels: what the decoder accepts."""
    schema = model.model_json_schema(mode="validation")
    schema["$id"] = f"https://roasloop.dev/schemas/{model.__name__}.json"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def export_json_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for model in EVENT_MODELS:
        schema = wire_schema(model)
        path = directory / f"{model.__name__}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
