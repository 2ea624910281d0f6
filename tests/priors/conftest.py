from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from streams.lab.dev.gcs import emulated_gcs


@pytest.fixture(scope="session")
def priors_gcs_client() -> Iterator[Any]:
    with emulated_gcs("priors-test") as client:
        yield client
