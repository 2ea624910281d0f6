"""Creating campaigns, ad sets, ad images, ad videos, ad creatives and ads through the Graph API.

Why creation retries differently from budget changes (:meth:`MetaClient.apply_budget`): a budget
write is idempotent (setting 50.00 twice leaves 50.00), a creation is not (posting a campaign twice
makes two). So only answers that prove nothing was created are retried - throttling (Meta refuses
before acting), a refused connection - with the same bounded backoff; a timeout, a dropped
connection or a 5xx may have created the object, and the call fails as ``maybe_applied`` instead
of risking a duplicate: the launcher reports it, and a person checks Ads Manager. Every body is
scrubbed of the account's token, app secret and proof before it becomes an exception or a result
(the client registers them, as :class:`MetaClient` does). Endpoints and shapes follow the
Marketing API reference: ``POST /act_<id>/{campaigns,adsets,adcreatives,ads}`` answer ``{"id"}``,
``adimages`` takes base64 ``bytes`` and answers ``{"images": {name: {"hash"}}}``, ``advideos``
takes a multipart ``source`` and answers ``{"id"}``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from streams.integrations.meta import MetaChangeFailed, MetaClient, MetaError, MetaUnclear


def _form(fields: dict[str, Any]) -> dict[str, str]:
    """Graph form values: objects and lists as JSON, numbers as strings, None left out."""
    return {k: json.dumps(v, separators=(",", ":")) if isinstance(v, dict | list) else str(v)
            for k, v in fields.items() if v is not None}


class MetaCreator(MetaClient):
    """A :class:`MetaClient` (one account's token) that also creates objects."""

    async def post_edge(self, account_id: str, edge: str, fields: dict[str, Any],
                     files: dict[str, tuple[str, bytes, str]] | None = None) -> dict[str, Any]:
        """POST ``/act_<id>/<edge>``; retry only what cannot have created anything."""
        last: dict[str, Any] | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                return await self._call("POST", f"{account_id}/{edge}", data={**_form(fields), **self._auth()},
                                        files=files)
            except MetaError as exc:
                last = exc.body
                if exc.kind == "throttled" and attempt < self.policy.max_attempts:
                    await self._backoff(attempt, exc, attempt, last, unclear=False)
                    continue
                raise MetaChangeFailed(exc.message, attempt, exc.body,
                                       maybe_applied=exc.kind != "throttled" and exc.status >= 500) from None
            except MetaUnclear as exc:
                raise MetaChangeFailed(f"{exc}: it may have been created; check Ads Manager before retrying",
                                       attempt, last, maybe_applied=True) from None
            except ConnectionError as exc:
                if attempt >= self.policy.max_attempts:
                    raise MetaChangeFailed(str(exc), attempt, last) from None
                await self._backoff(attempt, exc, attempt, last, unclear=False)
        raise MetaChangeFailed(f"gave up after {self.policy.max_attempts} attempts", self.policy.max_attempts, last)

    async def update_object(self, entity_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """POST ``/<id>`` with new field values (status, bid): idempotent, so an unclear call is retried."""
        last: dict[str, Any] | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                return await self._call("POST", entity_id, data={**_form(fields), **self._auth()})
            except MetaError as exc:
                last = exc.body
                if exc.kind == "permanent" or attempt >= self.policy.max_attempts:
                    raise MetaChangeFailed(exc.message, attempt, exc.body) from None
                await self._backoff(attempt, exc, attempt, last, unclear=exc.status >= 500)
            except (MetaUnclear, ConnectionError) as exc:
                if attempt >= self.policy.max_attempts:
                    raise MetaChangeFailed(str(exc), attempt, last, maybe_applied=True) from None
                await self._backoff(attempt, exc, attempt, last, unclear=True)
        raise MetaChangeFailed(f"gave up after {self.policy.max_attempts} attempts", self.policy.max_attempts, last)

    async def read_object(self, entity_id: str, fields: str) -> dict[str, Any]:
        """GET ``/<id>?fields=...`` once (a read changes nothing; a failure is the caller's to weigh)."""
        return await self._call("GET", entity_id, params={"fields": fields, **self._auth()})

    async def upload_image(self, account_id: str, name: str, data: bytes) -> str:
        body = await self.post_edge(account_id, "adimages", {"bytes": base64.b64encode(data).decode(), "name": name})
        images = body.get("images") or {}
        first: Any = next(iter(images.values()), {}) if isinstance(images, dict) else {}
        image_hash = first.get("hash") if isinstance(first, dict) else None
        if not image_hash:
            raise MetaChangeFailed("Meta answered the image upload without a hash", 1, body)
        return str(image_hash)

    async def upload_video(self, account_id: str, name: str, data: bytes, content_type: str) -> str:
        body = await self.post_edge(account_id, "advideos", {"name": name},
                                 files={"source": (name, data, content_type)})
        return _id(body, "video upload")

    async def create_object(self, account_id: str, edge: str, fields: dict[str, Any]) -> str:
        return _id(await self.post_edge(account_id, edge, fields), edge)


def _id(body: dict[str, Any], what: str) -> str:
    if not body.get("id"):
        raise MetaChangeFailed(f"Meta answered the {what} without an id", 1, body)
    return str(body["id"])
