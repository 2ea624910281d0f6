"""``roasloop run <stage> ...``: stages in one process, behind uvicorn."""

from __future__ import annotations

from collections.abc import Sequence

import uvicorn

from streams.core.http import build_asgi
from streams.core.http_server import HeaderDeadlineProtocol
from streams.core.logging import configure_logging
from streams.core.settings import load_settings
from streams.core.stage import StageRunner
from streams.stages import load_stage


def run_stages(names: Sequence[str], host: str | None = None, port: int | None = None) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    settings.require("kafka_bootstrap_servers")
    stages = [load_stage(name) for name in names]
    if any(s.needs_database for s in stages):
        settings.require("database_url")
    runner = StageRunner(stages, settings)
    app = build_asgi(runner)
    uvicorn.run(app, host=host or settings.http_host, port=port if port is not None else settings.http_port,
                log_level="warning", access_log=False, lifespan="on", http=HeaderDeadlineProtocol)
    return 0
