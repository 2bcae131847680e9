"""The catalog's settings: `CODEX_CATALOG_<NAME>` or the conventional `<NAME>`, with local defaults."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from codex_platform.service import ServiceSettings
from codex_platform.settings import Port

# S3 caps a presigned URL's life at 7 days; a playback URL should outlive a page view, not a week.
UrlTtl = Annotated[int, msgspec.Meta(ge=10, le=7 * 24 * 3600)]


class CatalogSettings(ServiceSettings, frozen=True, kw_only=True):
    service: ClassVar[str] = "catalog"
    port: Port = 8002

    playback_url_ttl_s: UrlTtl = 300
    """How long the presigned rendition URLs of GET /content/{id}/playback stay valid."""
    thumbnail_url_ttl_s: UrlTtl = 3600
    """How long the thumbnail URL of GET /content/{id} stays valid (pages keep it on screen longer)."""
