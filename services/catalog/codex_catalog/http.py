"""The HTTP API under /content: each route turns its request into a command call and shapes the answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, TypeAlias

from litestar import Controller, Request, get, patch, post
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.params import FromPath, JSONBody, Parameter, SkipValidation
from litestar.types import ControllerRouterHandler

from codex_catalog import commands
from codex_catalog.bootstrap import Deps
from codex_catalog.commands import ContentChanges, NewContent
from codex_catalog.domain import Caller
from codex_catalog.listing import DEFAULT_PAGE, MAX_PAGE, MAX_QUERY, Pricing, listing_query, own_query
from codex_catalog.payloads import (
    Content,
    ContentCreate,
    ContentPage,
    ContentUpdate,
    OwnContentPage,
    Playback,
)
from codex_platform.http import (
    BEARER_SECURITY,
    CurrentPrincipal,
    Principal,
    authenticate,
    problems,
    require_roles,
)

# Dependencies we build ourselves: Litestar need not (and, for asyncpg's pool, cannot) validate them.
DepsParam: TypeAlias = SkipValidation[Deps]
ViewerParam: TypeAlias = SkipValidation[Caller | None]
ContentId: TypeAlias = FromPath[uuid.UUID]
# Public routes that show more to a signed-in caller: OpenAPI's way to say the token is optional.
OPTIONAL_BEARER: list[dict[str, list[str]]] = [{}, *BEARER_SECURITY]
PLAYBACK_REFUSALS = {
    403: "Paid content the caller has not bought",
    404: "No such content, or not published and not the caller's",
    409: "The video is not ready (processing or failed)",
}


def caller_of(principal: Principal) -> Caller:
    iat = principal.claims.get("iat")
    issued_at = datetime.fromtimestamp(iat, UTC) if isinstance(iat, int | float) else None
    return Caller(user_id=principal.user_id, role=principal.role, issued_at=issued_at)


async def provide_viewer(request: Request[Any, Any, Any]) -> Caller | None:
    """The caller on public routes: anonymous without a token; a token sent must be valid."""
    if "authorization" not in request.headers:
        return None
    return caller_of(await authenticate(request))


class ContentController(Controller):
    path = "/content"
    tags = ["content"]
    dependencies = {"viewer": Provide(provide_viewer)}

    @post(
        "/",
        operation_id="createContent",
        status_code=201,
        security=BEARER_SECURITY,
        guards=[require_roles("creator", "admin")],
        responses=problems(400, 401, 403),
    )
    async def create(
        self, data: JSONBody[ContentCreate], principal: CurrentPrincipal, deps: DepsParam
    ) -> Content:
        """A draft; with an `upload_id` it follows its video (processing, then ready or failed)."""
        new = NewContent(data.title, data.description, data.price_cents, data.currency, data.upload_id)
        content = await commands.create_content(caller_of(principal), new, deps=deps)
        return Content.of(await commands.describe(content, deps=deps))

    @get("/", operation_id="listContent", responses=problems(400, 401))
    async def list_content(
        self,
        deps: DepsParam,
        creator: Annotated[
            str | None, Parameter(description="Only this creator's content", max_length=100)
        ] = None,
        pricing: Annotated[Pricing | None, Parameter(description="Only free or only paid content")] = None,
        q: Annotated[
            str | None,
            Parameter(description="Search title and description (web search syntax)", max_length=MAX_QUERY),
        ] = None,
        cursor: Annotated[
            str | None, Parameter(description="`next_cursor` of the previous page", max_length=500)
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    ) -> ContentPage:
        """Published content, newest first (best match first with `q`), a page at a time."""
        query = listing_query(limit=limit, creator=creator, pricing=pricing, q=q, cursor=cursor)
        return ContentPage.of(await commands.list_content(query, deps=deps))

    @get(
        "/mine",
        operation_id="listOwnContent",
        security=BEARER_SECURITY,
        guards=[require_roles("creator", "admin")],
        responses=problems(400, 401, 403),
    )
    async def list_own(
        self,
        principal: CurrentPrincipal,
        deps: DepsParam,
        cursor: Annotated[
            str | None, Parameter(description="`next_cursor` of the previous page", max_length=500)
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    ) -> OwnContentPage:
        """The caller's own content in every status, newest created first: drafts to edit and publish."""
        query = own_query(principal.user_id, limit=limit, cursor=cursor)
        return OwnContentPage.of(await commands.list_own(caller_of(principal), query, deps=deps))

    @get(
        "/{content_id:uuid}",
        operation_id="getContent",
        security=OPTIONAL_BEARER,
        responses=problems(400, 401, 404, descriptions={401: "A token was sent and is not valid"}),
    )
    async def get_content(self, content_id: ContentId, viewer: ViewerParam, deps: DepsParam) -> Content:
        """Published content for anyone; drafts and the like for their creator (and admins)."""
        return Content.of(await commands.view_content(viewer, str(content_id), deps=deps))

    @patch(
        "/{content_id:uuid}",
        operation_id="updateContent",
        security=BEARER_SECURITY,
        responses=problems(400, 401, 403, 404, 409),
    )
    async def update(
        self,
        content_id: ContentId,
        data: JSONBody[ContentUpdate],
        principal: CurrentPrincipal,
        deps: DepsParam,
    ) -> Content:
        """Change what is sent (the creator or an admin); published content keeps its upload."""
        changes = ContentChanges(
            data.title, data.description, data.price_cents, data.currency, data.upload_id
        )
        content = await commands.update_content(caller_of(principal), str(content_id), changes, deps=deps)
        return Content.of(await commands.describe(content, deps=deps))

    @post(
        "/{content_id:uuid}/publish",
        operation_id="publishContent",
        status_code=200,
        security=BEARER_SECURITY,
        responses=problems(400, 401, 403, 404, 409),
    )
    async def publish(self, content_id: ContentId, principal: CurrentPrincipal, deps: DepsParam) -> Content:
        """Publish now if the video is ready, else as soon as it is (`publish_requested` says so)."""
        content = await commands.publish_content(caller_of(principal), str(content_id), deps=deps)
        return Content.of(await commands.describe(content, deps=deps))

    @post(
        "/{content_id:uuid}/archive",
        operation_id="archiveContent",
        status_code=200,
        security=BEARER_SECURITY,
        responses=problems(400, 401, 403, 404),
    )
    async def archive(self, content_id: ContentId, principal: CurrentPrincipal, deps: DepsParam) -> Content:
        """Take the content out of the listings for good; buyers keep watching what they bought."""
        content = await commands.archive_content(caller_of(principal), str(content_id), deps=deps)
        return Content.of(await commands.describe(content, deps=deps))

    @get(
        "/{content_id:uuid}/playback",
        operation_id="getPlayback",
        security=BEARER_SECURITY,
        cache_control=CacheControlHeader(private=True, no_store=True),
        responses=problems(400, 401, 403, 404, 409, descriptions=PLAYBACK_REFUSALS),
    )
    async def playback(self, content_id: ContentId, principal: CurrentPrincipal, deps: DepsParam) -> Playback:
        """Short-lived URLs of each rendition and the thumbnail, for the creator, admins, buyers, and
        anyone signed in for free content. The URLs accept Range requests (seeking)."""
        urls = await commands.play_content(caller_of(principal), str(content_id), deps=deps)
        return Playback.of(str(content_id), urls)


ROUTES: list[ControllerRouterHandler] = [ContentController]
