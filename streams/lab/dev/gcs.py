"""Google Cloud Storage on this machine: ``gcp-storage-emulator`` for tests and local runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from streams.lab.dev.ports import free_port, wait_for_port


@contextmanager
def emulated_gcs(bucket: str = "roasloop-test") -> Iterator[Any]:
    """Run ``gcp-storage-emulator`` in this process; yield a ``storage.Client`` talking to it.

    The stand-in for GCS in tests and local runs (the emulator is a test dependency, imported
    only here). Credentials are anonymous: nothing here can reach real Google Cloud.
    """
    from gcp_storage_emulator.server import create_server
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage as gcs

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket)
    server.start()
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    try:
        wait_for_port("127.0.0.1", port, timeout=10)
        yield gcs.Client(project="roasloop-test", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous
