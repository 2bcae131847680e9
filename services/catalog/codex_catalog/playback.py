"""Playback: short-lived presigned GET URLs for an entitled caller, one per rendition + the thumbnail.

The URLs go straight to the object store, which answers Range requests (a `<video>` element seeks
without the catalog in the path). Their life is `playback_url_ttl_s`: long enough to start and seek
a video, short enough that a shared link soon stops working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from codex_catalog.domain import Asset
from codex_platform.storage import Storage


@dataclass(frozen=True, slots=True)
class RenditionUrl:
    name: str
    url: str
    width: int
    height: int
    bitrate: int
    codec: str


@dataclass(frozen=True, slots=True)
class PlaybackUrls:
    renditions: list[RenditionUrl]
    thumbnail_url: str | None
    duration_s: float | None
    expires_at: datetime


async def playback_urls(storage: Storage, asset: Asset, *, ttl_s: int, now: datetime) -> PlaybackUrls:
    """Presigned URLs for every rendition of `asset`, largest first, and its thumbnail."""
    ordered = sorted(asset.renditions, key=lambda r: (r.height * r.width, r.bitrate), reverse=True)
    renditions = [
        RenditionUrl(
            name=r.name,
            url=await storage.presign_get(r.key, expires_in=ttl_s, response_content_type="video/mp4"),
            width=r.width,
            height=r.height,
            bitrate=r.bitrate,
            codec=r.codec,
        )
        for r in ordered
    ]
    thumbnail = await thumbnail_url(storage, asset, ttl_s=ttl_s)
    return PlaybackUrls(renditions, thumbnail, asset.duration_s, now + timedelta(seconds=ttl_s))


async def thumbnail_url(storage: Storage, asset: Asset | None, *, ttl_s: int) -> str | None:
    if asset is None or asset.thumbnail_key is None or asset.state != "ready":
        return None
    return await storage.presign_get(
        asset.thumbnail_key, expires_in=ttl_s, response_content_type="image/jpeg"
    )
