"""``roasloop train-ctr``: train the CTR/CVR model, store the artifact, register the version."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas.events import SpendReported
from streams.core.settings import Settings, load_settings
from streams.core.storage import ObjectStorage, open_storage
from streams.lab.priors.synthetic import SyntheticHistory
from streams.priors.ctr import CONTENT_TYPE, CtrModel, train_ctr_model
from streams.priors.features import EntityFeatures
from streams.priors.history import AdDayRow, SpendHistory
from streams.priors.registry import ModelRegistry, ModelVersion

CTR_MODEL_NAME = "ctr"


def store_model(storage: ObjectStorage, model: CtrModel, model_name: str = CTR_MODEL_NAME) -> str:
    """Write the artifact under a fresh, never-reused key; return the key."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    key = f"models/{model_name}/{stamp}-{uuid.uuid4().hex[:8]}.json"
    storage.put(key, model.to_bytes(), content_type=CONTENT_TYPE,
                metadata={"model": model_name, "auc": f"{model.metrics['ctr']['auc']:.4f}"})
    return key


async def register_model(settings: Settings, model_name: str, key: str, metrics: dict[str, Any],
                         params: dict[str, Any], activate: bool) -> ModelVersion:
    from streams.core.db import create_pool

    pool = await create_pool(settings, min_size=1, max_size=2)
    try:
        return await ModelRegistry(pool).register(model_name, key, metrics, params, activate=activate)
    finally:
        await pool.close()


def _rows(args: argparse.Namespace) -> Iterable[AdDayRow]:
    if args.source == "synthetic":
        return SyntheticHistory(n_ads=args.ads, days=args.days, seed=args.seed).rows()
    if not (args.spend_events and args.features):
        raise SystemExit("--source events needs --spend-events FILE.jsonl and --features FILE.json")
    features = TypeAdapter(list[EntityFeatures]).validate_json(Path(args.features).read_bytes())
    lines = Path(args.spend_events).read_text().splitlines()
    events = (SpendReported.model_validate_json(line) for line in lines if line.strip())
    return SpendHistory(events, {f.entity_id: f for f in features}).rows()


def _cmd_train_ctr(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not args.no_register:
        settings.require("database_url")
    model = train_ctr_model(_rows(args), validation_fraction=args.validation_fraction)
    key = store_model(open_storage(settings), model, args.model_name)
    summary: dict[str, Any] = {"artifact_key": key}
    for part in ("ctr", "cvr"):
        if part in model.metrics:
            m = model.metrics[part]
            summary[part] = {k: m[k] for k in ("auc", "log_loss", "baseline_log_loss")}
            summary[part]["ece"] = m["calibration"]["ece"]
    if not args.no_register:
        params = {"source": args.source, "validation_fraction": args.validation_fraction}
        version = asyncio.run(register_model(settings, args.model_name, key, model.metrics, params,
                                             activate=not args.no_activate))
        summary.update(version=version.version, active=version.active)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("train-ctr", help="train the CTR/CVR prior model on a time split and register it")
    p.add_argument("--source", choices=("synthetic", "events"), default="synthetic",
                   help="training history: a generated market, or spend.v1 events + entity features")
    p.add_argument("--spend-events", metavar="FILE", help="JSON lines of SpendReported events")
    p.add_argument("--features", metavar="FILE", help="JSON array of EntityFeatures for those entities")
    p.add_argument("--ads", type=int, default=600, help="synthetic: number of ads")
    p.add_argument("--days", type=int, default=90, help="synthetic: days of history")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--validation-fraction", type=float, default=0.2, help="last fraction of days held out")
    p.add_argument("--model-name", default=CTR_MODEL_NAME)
    p.add_argument("--no-activate", action="store_true", help="register without making it the active version")
    p.add_argument("--no-register", action="store_true", help="store the artifact only (no database)")
    p.set_defaults(func=_cmd_train_ctr)
