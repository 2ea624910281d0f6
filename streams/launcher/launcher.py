"""One launch request, from intent to outcome: resolve, upload, create, settle - once.

The guarantees mirror the executor's: a request is claimed by an intent row before Meta is called
(:mod:`.store`), so a redelivery creates nothing twice; it ends in exactly one final row and one
``LaunchSettled`` on ``launch.outcomes.v1``, published before that row commits (with a created
ad's ``CreativeDescribed``, :mod:`.creative`); every Graph call
uses the ad account's own credentials (opened from their seal for the call, never logged); without
credentials for the account it is a dry run that records the parameters it would send. Objects
are created with the request's status (``PAUSED`` unless asked otherwise). A Meta error becomes a
``failed`` outcome with Meta's message, scrubbed of tokens; a refused token also marks the
account so the alerts stage raises it.

Status and bid changes (pause or resume an ad set or ad; an ad set's bid amount or strategy) take
the same path in this module rather than the executor's, which is budget-shaped end to end
(``ad_change_history`` holds budgets): they pass the kill switch and an hourly limit per entity and
change type (``ROASLOOP_LAUNCHER_MAX_{STATUS,BID}_CHANGES_PER_ENTITY_HOUR``), settle ``applied``,
``blocked`` or ``failed``, and are retried when unclear, because setting a status twice is harmless.
Approval mode does not apply to them yet.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import httpx
import structlog

from schemas.events import CreativeDescribed
from schemas.launch import AdSetSpec, AdSpec, BidSpec, CampaignSpec, LaunchRequested, LaunchSettled, StatusSpec
from streams.assets import AssetLibrary, AssetNotFound, InvalidAsset
from streams.core.controls import ad_accounts, killswitch
from streams.core.redaction import scrub_text
from streams.core.sealing import CannotOpen, Sealer
from streams.core.stage import Resources
from streams.integrations.meta import BackoffPolicy, MetaChangeFailed
from streams.integrations.meta_launch import MetaCreator
from streams.launcher import graph, store
from streams.launcher.creative import describe_created_ad
from streams.launcher.settings import LauncherSettings
from streams.priors.creatives import record as record_description

log = structlog.get_logger("roasloop.launcher")
REFUSED_CODES = (190, 200)
CHANGES = ("status", "bid")
INTERRUPTED = ("interrupted: a previous attempt stopped while calling Meta; objects it may have created are "
               "listed under 'created' or visible in Ads Manager")


class Refused(Exception):
    """The request cannot be carried out as asked (a parent that does not exist, a missing asset)."""


class Blocked(Exception):
    """A guardrail stopped a status or bid change (the kill switch, too many changes this hour)."""


Record = dict[str, Any]


class Launcher:
    def __init__(self, res: Resources, settings: LauncherSettings, library: AssetLibrary,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.res = res
        self.settings = settings
        self.library = library
        self.transport = transport
        self.sealer = Sealer.from_setting(res.settings.credentials_keys)
        self.click_base = settings.click_base_url or res.settings.public_base_url
        self._described: dict[str, CreativeDescribed] = {}  # request id -> its new ad's description, until settled

    # -- credentials -------------------------------------------------------------------------
    async def creator_for(self, request: LaunchRequested) -> MetaCreator | None:
        """The account's client, or None (dry run) when roasloop holds no credentials for it."""
        core = self.res.settings
        async with self.res.pool.acquire() as conn:
            creds = await ad_accounts.credentials_for(conn, self.sealer, request.tenant_id, request.account_id)
        if creds is None:
            if core.meta_access_token is None or core.meta_app_secret is None:
                return None
            creds = ad_accounts.Credentials(request.tenant_id, request.account_id, core.meta_access_token,
                                            core.meta_app_secret)
        s = self.settings
        http = httpx.AsyncClient(base_url=core.meta_graph_url.rstrip("/"), transport=self.transport,
                                 timeout=httpx.Timeout(s.meta_timeout_seconds, connect=5.0))
        return MetaCreator(http, version=core.meta_api_version, access_token=creds.access_token,
                           app_secret=creds.app_secret, clock=self.res.clock,
                           policy=BackoffPolicy(s.backoff_base_seconds, s.backoff_max_seconds, s.meta_max_attempts))

    # -- one request -------------------------------------------------------------------------
    async def handle(self, request: LaunchRequested) -> None:
        async with self.res.pool.acquire() as conn:
            prior = await store.claim(conn, request, self.res.clock.now())
        if prior in store.FINAL:
            log.info("launch_redelivered", request_id=request.request_id, status=prior)
            return
        if prior == "executing":
            await self.settle(request, "failed", {}, [], INTERRUPTED)
            return
        created: dict[str, str] = {}
        sent: list[Record] = []
        status, error = "failed", None
        client: MetaCreator | None = None
        try:
            client = await self.creator_for(request)
            await self.run(request, client, created, sent)
            status = "dry_run" if client is None else "applied" if request.spec.kind in CHANGES else "created"
        except Blocked as exc:
            status, error = "blocked", str(exc)
        except MetaChangeFailed as exc:
            meta = (exc.response or {}).get("error")
            code = f"Meta error {meta.get('code')}/{meta.get('error_subcode')}: " if isinstance(meta, dict) else ""
            error = scrub_text(code + exc.message)[:1000] + ("; it may have been created" if exc.maybe_applied else "")
            await self._maybe_refused(request, exc, error)
        except (Refused, CannotOpen) as exc:
            error = scrub_text(str(exc))[:1000]
        except Exception as exc:  # a bug or an outage mid-way: still exactly one outcome, saying so
            log.exception("launch_failed", request_id=request.request_id)
            error = f"{type(exc).__name__}: {scrub_text(str(exc))[:300]}"
        finally:
            if client is not None:
                await client.aclose()
        await self.settle(request, status, created, sent, error)

    async def _maybe_refused(self, request: LaunchRequested, exc: MetaChangeFailed, reason: str) -> None:
        error = (exc.response or {}).get("error")
        if isinstance(error, dict) and error.get("code") in REFUSED_CODES:
            async with self.res.pool.acquire() as conn:
                await ad_accounts.mark_refused(conn, request.tenant_id, request.account_id, reason,
                                               self.res.clock.now())

    async def run(self, request: LaunchRequested, client: MetaCreator | None, created: dict[str, str],
                  sent: list[Record]) -> None:
        spec = request.spec
        if isinstance(spec, CampaignSpec):
            await self._create(request, client, "campaigns", graph.campaign_fields(spec, request.status), created,
                               sent, "campaign_id")
        elif isinstance(spec, AdSetSpec):
            campaign_id = spec.campaign_id or await self._parent(request, spec.campaign_request_id, "campaign_id",
                                                                 client)
            fields = graph.adset_fields(spec, campaign_id, request.status)
            await self._create(request, client, "adsets", fields, created, sent, "adset_id")
        elif isinstance(spec, AdSpec):
            await self._ad(request, spec, client, created, sent)
        else:
            await self._change(request, spec, client, created, sent)

    async def _change(self, request: LaunchRequested, spec: StatusSpec | BidSpec, client: MetaCreator | None,
                      created: dict[str, str], sent: list[Record]) -> None:
        """A pause, resumption or re-bid: through the kill switch and the per-type hourly limit, then Meta."""
        limit = (self.settings.max_status_changes_per_entity_hour if spec.kind == "status"
                 else self.settings.max_bid_changes_per_entity_hour)
        now = self.res.clock.now()
        async with self.res.pool.acquire() as conn:
            campaign = await store.campaign_of_entity(conn, request.tenant_id, spec.entity_id)
            if await killswitch.is_paused(conn, request.tenant_id, campaign or ""):
                raise Blocked(f"kill switch engaged for {'campaign ' + campaign if campaign else 'the tenant'}")
            done = await store.changes_since(conn, request.tenant_id, spec.kind, spec.entity_id,
                                             now - timedelta(hours=1))
        if done >= limit:
            raise Blocked(f"{spec.entity_id} had {done} {spec.kind} change(s) in the last hour; the limit is {limit}")
        fields: Record = ({"status": spec.status} if isinstance(spec, StatusSpec)
                          else {"bid_strategy": spec.bid_strategy, "bid_amount": spec.bid_amount_minor})
        fields = {k: v for k, v in fields.items() if v is not None}
        sent.append({"entity_id": spec.entity_id, "fields": fields})
        if client is not None:
            await client.update_object(spec.entity_id, fields)
            created["entity_id"] = spec.entity_id

    async def _parent(self, request: LaunchRequested, parent_request: str | None, key: str,
                      client: MetaCreator | None) -> str:
        assert parent_request is not None
        async with self.res.pool.acquire() as conn:
            found, why = await store.created_id(conn, request.tenant_id, parent_request, key)
        if found is not None:
            return found
        if client is None:  # a dry run may build on a dry-run parent
            return f"dry-run:{parent_request}"
        raise Refused(f"{key}: {why}")

    async def _create(self, request: LaunchRequested, client: MetaCreator | None, edge: str, fields: Record,
                      created: dict[str, str], sent: list[Record], key: str) -> str:
        sent.append({"edge": edge, "fields": {k: v for k, v in fields.items() if v is not None}})
        if client is None:
            return f"dry-run:{edge}"
        created[key] = await client.create_object(request.account_id, edge, fields)
        await self._progress(request, created, sent)
        return created[key]

    async def _progress(self, request: LaunchRequested, created: dict[str, str], sent: list[Record]) -> None:
        async with self.res.pool.acquire() as conn:
            await store.note_progress(conn, request.tenant_id, request.request_id, created, sent)

    async def _ad(self, request: LaunchRequested, spec: AdSpec, client: MetaCreator | None, created: dict[str, str],
                  sent: list[Record]) -> None:
        adset_id = spec.adset_id or await self._parent(request, spec.adset_request_id, "adset_id", client)
        if not self.click_base:
            raise Refused("no click redirect to link to: set ROASLOOP_LAUNCHER_CLICK_BASE_URL or PUBLIC_BASE_URL")
        try:
            record, data = self.library.fetch(spec.asset_id)
        except (AssetNotFound, InvalidAsset) as exc:
            raise Refused(f"asset_id: {exc}") from None
        if record.type not in ("image", "video"):
            raise Refused(f"asset_id: {spec.asset_id} is a {record.type}, an ad needs an image or a video")
        if record.type == "video" and not spec.thumbnail_url:
            raise Refused("thumbnail_url: a video ad needs a thumbnail")
        edge = "adimages" if record.type == "image" else "advideos"
        sent.append({"edge": edge, "asset_id": record.asset_id, "sha256": hashlib.sha256(data).hexdigest(),
                     "bytes": len(data)})
        link = graph.tracking_url(self.click_base, request.tenant_id, spec.landing_url)
        if client is None:
            media = {"image_hash" if record.type == "image" else "video_id": f"dry-run:{edge}"}
        elif record.type == "image":
            media = {"image_hash": await client.upload_image(request.account_id, record.name, data)}
        else:
            media = {"video_id": await client.upload_video(request.account_id, record.name, data,
                                                           record.content_type)}
        created.update(media if client is not None else {})
        creative = graph.creative_fields(spec, link, **media)
        creative_id = await self._create(request, client, "adcreatives", creative, created, sent, "creative_id")
        await self._create(request, client, "ads", graph.ad_fields(spec, adset_id, creative_id, request.status),
                           created, sent, "ad_id")
        if client is not None:
            created["adset_id"] = adset_id
            described = await describe_created_ad(client, request, spec, record, creative["object_story_spec"],
                                                  adset_id, created["ad_id"])
            if described is not None:
                self._described[request.request_id] = described

    # -- the outcome -------------------------------------------------------------------------
    async def settle(self, request: LaunchRequested, status: str, created: dict[str, str], sent: list[Record],
                     error: str | None) -> None:
        described = self._described.pop(request.request_id, None)
        async with self.res.effects() as fx:
            if not await store.settle(fx.conn, request.tenant_id, request.request_id, status, created, sent, error,
                                      fx.now):
                return
            if status == "created":
                await self._catalog(fx.conn, request, created)
            if status == "created" and described is not None:  # the new ad's creative, for the priors
                group = await store.group_of(fx.conn, request.tenant_id, described.entity_id)
                described = described.model_copy(update={"group_id": group or described.group_id})
                if await record_description(fx.conn, described):
                    fx.emit(described)
            fx.emit(LaunchSettled(
                event_id=f"launch-outcome-{request.request_id}", tenant_id=request.tenant_id, occurred_at=fx.now,
                produced_at=fx.now, request_id=request.request_id, account_id=request.account_id,
                kind=request.spec.kind, outcome=status, created=created, error=error))
        log.info("launch_settled", request_id=request.request_id, kind=request.spec.kind, outcome=status,
                 created=created)

    async def _catalog(self, conn: Any, request: LaunchRequested, created: dict[str, str]) -> None:
        """New entities join their allocation group (ad sets, campaigns) and the ad catalog (ads)."""
        spec, tenant = request.spec, request.tenant_id
        if isinstance(spec, CampaignSpec):
            campaign = created["campaign_id"]
            await store.join_group(conn, tenant, campaign, spec.group_id or campaign, campaign)
        elif isinstance(spec, AdSetSpec):
            campaign = (spec.campaign_id or await self._parent(request, spec.campaign_request_id, "campaign_id",
                                                               None))
            group = await store.group_of(conn, tenant, campaign) or campaign
            await store.join_group(conn, tenant, created["adset_id"], group, campaign)
        elif isinstance(spec, AdSpec):
            campaign_id = await store.campaign_of_adset(conn, tenant, created["adset_id"])
            if campaign_id is not None:  # else attribution learns the ad's place from its first click
                await store.catalog_ad(conn, tenant, created["ad_id"], created["adset_id"], campaign_id,
                                       self.res.clock.now())
