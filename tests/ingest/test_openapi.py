"""The ingress describes its own routes in the process's ``/openapi.json``."""

from __future__ import annotations

from streams.core.settings import Settings
from tests.ingest.conftest import ingress


async def test_openapi_describes_the_ingress_routes(settings: Settings) -> None:
    async with ingress(settings) as ing:
        document = (await ing.client.get("/openapi.json")).json()
    assert {"/webhooks/hubspot", "/c/{tenant_id}/{ad_id}", "/v1/clicks"} <= set(document["paths"])
    assert not any(path.startswith("/v1/tenants") for path in document["paths"])  # the console's, not ingest's
