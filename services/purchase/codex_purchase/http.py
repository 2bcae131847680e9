"""HTTP routes: start a purchase, poll one, list mine, and Stripe's webhook. Controllers only translate
HTTP to the calls in purchasing.py, webhooks.py and the repository."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter, SkipValidation
from litestar.types import ControllerRouterHandler

from codex_platform.errors import InvalidInput
from codex_platform.http import BEARER_SECURITY, CurrentPrincipal, problems
from codex_purchase.deps import Deps
from codex_purchase.domain import PurchaseNotFound, Status
from codex_purchase.purchasing import start_purchase
from codex_purchase.repository import PurchaseRow, Repository
from codex_purchase.webhooks import apply_event, concerns_a_payment, receive_event

__all__ = ["ROUTES"]

ContentId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class PurchaseCreate(msgspec.Struct, forbid_unknown_fields=True):
    content_id: ContentId


class PurchaseStarted(msgspec.Struct):
    """What the client needs to pay with Stripe.js: the intent's client secret and the publishable key."""

    purchase_id: str
    status: Status
    payment_intent_id: str
    client_secret: str
    amount: int
    currency: str
    publishable_key: str


class Purchase(msgspec.Struct):
    id: str
    content_id: str
    customer_id: str
    status: Status
    amount_cents: int
    currency: str
    amount_refunded_cents: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    refunded_at: datetime | None


class PurchasePage(msgspec.Struct):
    items: list[Purchase]
    next_cursor: str | None


class WebhookReceived(msgspec.Struct):
    received: bool
    duplicate: bool


def _view(row: PurchaseRow) -> Purchase:
    return Purchase(
        id=str(row.id),
        content_id=row.content_id,
        customer_id=row.customer_id,
        status=row.status,
        amount_cents=row.amount_cents,
        currency=row.currency,
        amount_refunded_cents=row.amount_refunded_cents,
        created_at=row.created_at,
        updated_at=row.updated_at,
        completed_at=row.completed_at,
        refunded_at=row.refunded_at,
    )


def _cursor(row: PurchaseRow) -> str:
    return base64.urlsafe_b64encode(f"{row.created_at.isoformat()}|{row.id}".encode()).decode()


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        when, _, purchase_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(when), uuid.UUID(purchase_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("cursor", "is not a cursor this service gave out", source="query") from None


class PurchaseController(Controller):
    path = "/purchases"
    tags = ["purchases"]
    security = BEARER_SECURITY

    @post("/", operation_id="startPurchase", responses=problems(400, 401, 409, 503))
    async def start(
        self, data: JSONBody[PurchaseCreate], principal: CurrentPrincipal, deps: SkipValidation[Deps]
    ) -> Response[PurchaseStarted]:
        """Start buying a content (price from the catalog, never the client); a purchase already
        pending for it is returned (200) instead of a new one (201)."""
        row, created = await start_purchase(deps, customer_id=principal.user_id, content_id=data.content_id)
        assert row.payment_intent_id is not None and row.client_secret is not None
        started = PurchaseStarted(
            purchase_id=str(row.id),
            status=row.status,
            payment_intent_id=row.payment_intent_id,
            client_secret=row.client_secret,
            amount=row.amount_cents,
            currency=row.currency,
            publishable_key=deps.settings.stripe_publishable_key,
        )
        return Response(started, status_code=201 if created else 200)

    @get("/{purchase_id:uuid}", operation_id="getPurchase", responses=problems(401, 404))
    async def get_one(
        self, purchase_id: FromPath[uuid.UUID], principal: CurrentPrincipal, deps: SkipValidation[Deps]
    ) -> Purchase:
        """One purchase, for its buyer (or an admin): the frontend polls `status` after paying."""
        async with deps.pool.acquire() as conn:
            row = await Repository(conn).get(purchase_id)
        if row is None or (row.customer_id != principal.user_id and principal.role != "admin"):
            raise PurchaseNotFound("No such purchase")
        return _view(row)

    @get("/", operation_id="listMyPurchases", responses=problems(400, 401))
    async def list_mine(
        self,
        principal: CurrentPrincipal,
        deps: SkipValidation[Deps],
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> PurchasePage:
        """My purchases, newest first; `next_cursor` fetches the next page."""
        async with deps.pool.acquire() as conn:
            rows = await Repository(conn).page(principal.user_id, limit + 1, _after(cursor))
        more = len(rows) > limit
        rows = rows[:limit]
        return PurchasePage([_view(r) for r in rows], _cursor(rows[-1]) if more and rows else None)


# Declared, so that the document says what every webhook carries (issue 18); a request without it is
# refused (400) before the body is read, as one whose signature does not verify is.
StripeSignature = Annotated[
    str,
    Parameter(
        header="Stripe-Signature",
        max_length=2048,
        description="Stripe's signature of the raw body (`t=<time>,v1=<HMAC-SHA256>`)",
    ),
]


@post(
    "/webhooks/stripe",
    operation_id="receiveStripeWebhook",
    tags=["webhooks"],
    status_code=200,
    responses=problems(400, descriptions={400: "The Stripe-Signature does not verify on this body."}),
)
async def stripe_webhook(
    request: Request[Any, Any, Any], deps: SkipValidation[Deps], stripe_signature: StripeSignature
) -> Response[WebhookReceived]:
    """Stripe's events, verified by their `Stripe-Signature` on the raw body; answered at once, then
    applied from Stripe's current state of the payment."""
    event = deps.stripe.verify(await request.body(), stripe_signature)
    fresh = await receive_event(deps, event)
    background = None
    if fresh and concerns_a_payment(event) and event.payment_intent_id is not None:
        background = BackgroundTask(apply_event, deps, event.id, event.payment_intent_id)
    return Response(WebhookReceived(received=True, duplicate=not fresh), background=background)


ROUTES: list[ControllerRouterHandler] = [PurchaseController, stripe_webhook]
