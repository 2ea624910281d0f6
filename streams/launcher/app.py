"""The launcher stage: consumes ``launch.requests.v1`` (group ``launcher``), creates on Meta, publishes
``launch.outcomes.v1``.

Why not the shared decode -> claim -> apply-in-one-transaction shape (:mod:`streams.core.process`):
a Graph call must not run inside the batch's transaction, because a creation that succeeded at
Meta and a transaction that then rolled back would be created again on redelivery. The launcher
instead commits an intent row before calling Meta and settles it (publishing the outcome before
that commit) after, so it subscribes with the default ``NACK_ON_ERROR`` and does its own
exactly-once on ``request_id`` (:mod:`.launcher`, :mod:`.store`). Requests are keyed by tenant, so
one tenant's campaign is created before the ad set that names it. Dry run when roasloop holds no
credentials for the request's ad account (and no ``META_ACCESS_TOKEN`` is set).
"""

from __future__ import annotations

import httpx

from schemas.launch import LaunchRequested
from schemas.topics import LAUNCH_REQUESTS
from streams.assets import AssetLibrary
from streams.core.faststream_app import lazy_app
from streams.core.stage import Resources, Stage
from streams.core.storage import ObjectStorage, open_storage
from streams.launcher.launcher import Launcher
from streams.launcher.settings import LauncherSettings, load_launcher_settings

GROUP = "launcher"


class LauncherStage(Stage):
    name = "launcher"

    def __init__(self, settings: LauncherSettings | None = None, *, storage: ObjectStorage | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self.storage = storage
        self.transport = transport
        self.launcher: Launcher | None = None

    @property
    def settings(self) -> LauncherSettings:
        if self._settings is None:
            self._settings = load_launcher_settings()
        return self._settings

    def subscribe(self, res: Resources) -> None:
        @res.subscriber(LAUNCH_REQUESTS, group=GROUP)  # type: ignore[untyped-decorator]
        async def on_request(request: LaunchRequested) -> None:
            if self.launcher is None:
                raise RuntimeError("launcher stage not started")
            await self.launcher.handle(request)

    async def start(self, res: Resources) -> None:
        storage = self.storage or open_storage(res.settings)
        self.launcher = Launcher(res, self.settings, AssetLibrary(storage, self.settings.assets_prefix),
                                 self.transport)

    async def stop(self, res: Resources) -> None:
        self.launcher = None


stage = LauncherStage()
__getattr__ = lazy_app(stage)
