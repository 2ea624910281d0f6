"""``roasloop ingest ...``: the setup the ingress needs before traffic arrives.

- ``roasloop ingest api-key issue TENANT [--label L]`` prints a new producer key for ``POST
  /v1/clicks`` (shown once; only its hash is stored); ``api-key revoke KEY`` disables one.
- ``roasloop ingest portal PORTAL_ID TENANT`` maps a HubSpot portal to a tenant for webhooks.
- ``roasloop ingest landing-hosts TENANT HOST...`` sets the click redirect's allow-list.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from streams.ingest import api_keys


def _run(action: Callable[[asyncpg.Connection[Any]], Awaitable[str]]) -> int:
    from streams.core.db import connect
    from streams.core.settings import load_settings

    settings = load_settings()

    async def go() -> str:
        conn = await connect(settings)
        try:
            return await action(conn)
        finally:
            await conn.close()

    print(asyncio.run(go()))
    return 0


def _issue(args: argparse.Namespace) -> int:
    return _run(lambda conn: api_keys.issue(conn, args.tenant, args.label))


def _revoke(args: argparse.Namespace) -> int:
    async def revoke(conn: asyncpg.Connection[Any]) -> str:
        return "revoked" if await api_keys.revoke(conn, args.key) else "no such active key"

    return _run(revoke)


def _portal(args: argparse.Namespace) -> int:
    async def upsert(conn: asyncpg.Connection[Any]) -> str:
        await conn.execute(
            "INSERT INTO hubspot_portals (portal_id, tenant_id) VALUES ($1, $2) "
            "ON CONFLICT (portal_id) DO UPDATE SET tenant_id = $2", args.portal_id, args.tenant,
        )
        return f"portal {args.portal_id} -> {args.tenant}"

    return _run(upsert)


def _landing_hosts(args: argparse.Namespace) -> int:
    hosts = sorted({h.strip().lower() for h in args.hosts if h.strip()})

    async def upsert(conn: asyncpg.Connection[Any]) -> str:
        await conn.execute(
            "INSERT INTO tenants (tenant_id, landing_hosts) VALUES ($1, $2) "
            "ON CONFLICT (tenant_id) DO UPDATE SET landing_hosts = $2", args.tenant, hosts,
        )
        return f"{args.tenant}: {', '.join(hosts)}"

    return _run(upsert)


def register(subparsers: Any) -> None:
    ingest = subparsers.add_parser("ingest", help="ingress setup: producer API keys, HubSpot portals, landing hosts")
    sub = ingest.add_subparsers(dest="ingest_command", required=True)
    keys = sub.add_parser("api-key", help="producer API keys for POST /v1/clicks")
    key_sub = keys.add_subparsers(dest="api_key_command", required=True)
    issue = key_sub.add_parser("issue", help="print a new key for a tenant (shown once)")
    issue.add_argument("tenant")
    issue.add_argument("--label", default="")
    issue.set_defaults(func=_issue)
    revoke = key_sub.add_parser("revoke", help="disable a key")
    revoke.add_argument("key")
    revoke.set_defaults(func=_revoke)
    portal = sub.add_parser("portal", help="map a HubSpot portal id to a tenant")
    portal.add_argument("portal_id", type=int)
    portal.add_argument("tenant")
    portal.set_defaults(func=_portal)
    hosts = sub.add_parser("landing-hosts", help="set the hosts clicks may redirect to (*.example.com allowed)")
    hosts.add_argument("tenant")
    hosts.add_argument("hosts", nargs="+")
    hosts.set_defaults(func=_landing_hosts)
