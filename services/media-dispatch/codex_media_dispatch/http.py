"""media-dispatch's HTTP API: assets for their owners and admins, and RunPod's webhook."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import Body, FromPath, QueryParameter, SkipValidation

from codex_media_dispatch import handlers, repository
from codex_media_dispatch.bootstrap import Deps
from codex_media_dispatch.domain import AssetNotFound, AssetState, headline
from codex_media_dispatch.handlers import RunpodWebhook
from codex_media_dispatch.repository import Row
from codex_platform.errors import InvalidInput
from codex_platform.http import BEARER_SECURITY, SENSITIVE_PATH_OPT, CurrentPrincipal, problems, require_roles
from codex_platform.http.jwt_verifier import Principal

DepsParam = SkipValidation[Deps]


class Progress(msgspec.Struct, kw_only=True):
    percent: int | None
    stage: str | None


class Timings(msgspec.Struct, kw_only=True):
    created_at: datetime
    first_submitted_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    time_in_queue_s: float | None
    """From the upload's completion to the first submission to RunPod."""
    time_to_ready_s: float | None


class Rendition(msgspec.Struct, kw_only=True):
    name: str
    key: str
    width: int
    height: int
    codec: str
    bitrate: int
    size_bytes: int
    duration_s: float


class Asset(msgspec.Struct, kw_only=True):
    id: str
    upload_id: str
    owner_id: str
    filename: str
    state: AssetState
    headline: str
    attempts: int
    """Submissions to RunPod so far."""
    resubmissions: int
    progress: Progress | None
    error_code: str | None
    error_message: str | None
    encoder: str | None
    decoder: str | None
    gpu: str | None
    gpu_seconds: float
    estimated_cost_usd: float
    duration_s: float | None
    renditions: list[Rendition]
    thumbnail_key: str | None
    timings: Timings
    updated_at: datetime

    @classmethod
    def of(cls, row: Row, price_per_s: float) -> Asset:
        created, first, finished = row["created_at"], row["first_submitted_at"], row["finished_at"]
        renditions = [msgspec.convert(r, Rendition) for r in row["renditions"] or []]
        gpu_s = row["gpu_seconds"]
        cost = round(gpu_s * price_per_s, 6)
        percent, stage = row["progress_percent"], row["progress_stage"]
        ready = finished is not None and row["state"] == "ready"
        timings = Timings(
            created_at=created,
            first_submitted_at=first,
            started_at=row["started_at"],
            finished_at=finished,
            time_in_queue_s=(first - created).total_seconds() if first else None,
            time_to_ready_s=(finished - created).total_seconds() if ready else None,
        )
        return cls(
            id=row["id"],
            upload_id=row["upload_id"],
            owner_id=row["owner_id"],
            filename=row["filename"],
            state=row["state"],
            headline=headline(row["state"], [r.name for r in renditions], row["duration_s"], gpu_s, cost),
            attempts=row["attempts"],
            resubmissions=row["resubmissions"],
            progress=Progress(percent=percent, stage=stage) if percent is not None or stage else None,
            error_code=row["error_code"],
            error_message=row["error_message"],
            encoder=row["encoder"],
            decoder=row["decoder"],
            gpu=row["gpu_name"],
            gpu_seconds=round(gpu_s, 3),
            estimated_cost_usd=cost,
            duration_s=row["duration_s"],
            renditions=renditions,
            thumbnail_key=row["thumbnail_key"],
            timings=timings,
            updated_at=row["updated_at"],
        )


class AssetPage(msgspec.Struct, kw_only=True):
    items: list[Asset]
    next_cursor: str | None
    """Pass as `cursor` for the next (older) page; null on the last one."""


class WebhookReceived(msgspec.Struct, kw_only=True):
    received: bool = True


def _visible(row: Row | None, principal: Principal) -> Row:
    # Another owner's asset is answered as missing, so that its existence is not revealed.
    if row is None or (principal.role != "admin" and row["owner_id"] != principal.user_id):
        raise AssetNotFound
    return row


def _cursor_of(row: Row) -> str:
    raw = f"{row['created_at'].isoformat()}|{row['id']}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, asset_id = raw.split("|", 1)
        return datetime.fromisoformat(created), asset_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor", "is not a cursor this API gave", source="query") from None


@get(
    "/assets/{asset_id:str}",
    operation_id="getAsset",
    tags=["assets"],
    security=BEARER_SECURITY,
    responses=problems(401, 404),
)
async def get_asset(asset_id: FromPath[str], principal: CurrentPrincipal, deps: DepsParam) -> Asset:
    """An asset (its owner or an admin): state, submissions, progress, timings, encoder, GPU time and cost."""
    row = _visible(await repository.get_asset(deps.pool, asset_id), principal)
    return Asset.of(row, deps.settings.gpu_price_per_s)


@get(
    "/assets",
    operation_id="listAssets",
    tags=["assets"],
    security=BEARER_SECURITY,
    responses=problems(400, 401),
)
async def list_assets(
    principal: CurrentPrincipal,
    deps: DepsParam,
    upload_id: Annotated[str | None, QueryParameter(name="upload_id", max_length=200)] = None,
    asset_state: Annotated[
        Literal["queued", "submitted", "running", "ready", "failed", "canceled"] | None,
        QueryParameter(name="state"),
    ] = None,
    limit: Annotated[int, QueryParameter(name="limit", ge=1, le=200)] = 50,
    cursor: Annotated[str | None, QueryParameter(name="cursor", max_length=200)] = None,
) -> AssetPage:
    """The caller's assets, newest first (an admin sees everyone's). `upload_id=` finds an upload's asset."""
    rows = await repository.list_assets(
        deps.pool,
        owner_id=None if principal.role == "admin" else principal.user_id,
        upload_id=upload_id,
        state=asset_state,
        limit=limit + 1,
        before=_parse_cursor(cursor) if cursor else None,
    )
    page = rows[:limit]
    price = deps.settings.gpu_price_per_s
    return AssetPage(
        items=[Asset.of(row, price) for row in page],
        next_cursor=_cursor_of(page[-1]) if len(rows) > limit else None,
    )


@post(
    "/assets/{asset_id:str}/retry",
    operation_id="retryAsset",
    tags=["assets"],
    status_code=200,
    security=BEARER_SECURITY,
    guards=[require_roles("admin")],
    responses=problems(401, 403, 404, 409),
)
async def retry_asset(asset_id: FromPath[str], deps: DepsParam) -> Asset:
    """Queue a failed or canceled asset again, with a fresh budget of submissions (admin)."""
    return Asset.of(await handlers.retry_asset(asset_id, deps=deps), deps.settings.gpu_price_per_s)


@post(
    "/assets/{asset_id:str}/cancel",
    operation_id="cancelAsset",
    tags=["assets"],
    status_code=200,
    security=BEARER_SECURITY,
    guards=[require_roles("admin")],
    responses=problems(401, 403, 404, 409),
)
async def cancel_asset(asset_id: FromPath[str], deps: DepsParam) -> Asset:
    """Cancel an asset that is not finished, and its job at RunPod (admin); catalog hears it failed."""
    return Asset.of(await handlers.cancel_asset(asset_id, deps=deps), deps.settings.gpu_price_per_s)


@post(
    "/webhooks/runpod/{job_id:str}",
    operation_id="receiveRunpodWebhook",
    tags=["webhooks"],
    status_code=200,
    opt={SENSITIVE_PATH_OPT: True},
    responses=problems(400, 401),
)
async def receive_runpod_webhook(
    job_id: FromPath[str],
    deps: DepsParam,
    token: Annotated[str, QueryParameter(name="token", max_length=200)],
    data: Annotated[
        dict[str, Any],
        Body(description="RunPod's `/status` body of the job (`id`, `status`, `output`, `error`, ...)"),
    ],
) -> Response[WebhookReceived]:
    """RunPod's notice that a job ended. Authenticated by the job's secret in the URL (RunPod does not
    sign webhooks); answered at once (RunPod gives up quickly), applied just after."""
    webhook = RunpodWebhook(job_id=job_id, token=token, body=data)
    await handlers.authenticate_webhook(webhook, deps=deps)
    return Response(WebhookReceived(), background=BackgroundTask(handlers.apply_webhook, webhook, deps=deps))


ROUTES = [get_asset, list_assets, retry_asset, cancel_asset, receive_runpod_webhook]
