"""One tenant's priors as one artifact: the CTR/CVR model, the winner index and the prior settings.

The rebuild job evaluates and promotes the three together, so they are stored and activated
together: a reader never pairs a new model with an old index. The artifact is one JSON document
(the model in LightGBM's text format, the index as a base64 FAISS snapshot) that loads without
any training state; a document that does not parse raises, and the registry's reader then keeps
the version it had (:class:`~streams.priors.registry.ActiveArtifact`).
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from streams.priors.ctr import CtrModel
from streams.priors.source import CtrAndWinnersPriorSource, PriorConfig
from streams.priors.winners import WinnerIndex

BUNDLE_FORMAT = "roasloop.priors/1"
CONTENT_TYPE = "application/json"


def model_name_for(tenant_id: str) -> str:
    """The registry name of a tenant's priors (the registry allows ``[a-z0-9_-.]``)."""
    safe = re.sub(r"[^a-z0-9_\-.]", "-", tenant_id.lower())
    if safe != tenant_id:  # keep distinct tenants distinct after folding
        safe = f"{safe}-{zlib.crc32(tenant_id.encode()):08x}"
    return f"priors.{safe}"


@dataclass
class PriorBundle:
    ctr: CtrModel | None
    winners: WinnerIndex | None
    config: PriorConfig
    embedder: str
    metrics: dict[str, Any] = field(default_factory=dict)

    def source(self) -> CtrAndWinnersPriorSource:
        # live entities carry their recorded embeddings, so no embedder is needed to search
        return CtrAndWinnersPriorSource(self.ctr, self.winners, config=self.config)

    def to_bytes(self) -> bytes:
        return json.dumps({
            "format": BUNDLE_FORMAT,
            "ctr": self.ctr.to_bytes().decode() if self.ctr is not None else None,
            "winners": base64.b64encode(self.winners.to_bytes()).decode() if self.winners is not None else None,
            "config": self.config.model_dump(), "embedder": self.embedder, "metrics": self.metrics,
        }).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PriorBundle:
        doc = json.loads(data)
        if doc.get("format") != BUNDLE_FORMAT:
            raise ValueError(f"not a priors bundle (format {doc.get('format')!r}, want {BUNDLE_FORMAT!r})")
        return cls(
            ctr=CtrModel.from_bytes(doc["ctr"].encode()) if doc.get("ctr") else None,
            winners=WinnerIndex.from_bytes(base64.b64decode(doc["winners"])) if doc.get("winners") else None,
            config=PriorConfig.model_validate(doc["config"]), embedder=str(doc["embedder"]),
            metrics=dict(doc.get("metrics") or {}))
