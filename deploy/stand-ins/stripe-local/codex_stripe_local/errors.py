"""Stripe's error answers: `{"error": {"type", "code", "message", "param", ...}}` with Stripe's status
codes (https://docs.stripe.com/api/errors): 400 invalid requests, 401 a bad key, 402 a declined card,
404 a missing object."""

from __future__ import annotations

from typing import Any

__all__ = ["StripeError", "card_declined", "invalid", "missing", "missing_param", "unexpected_state"]


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
        executed: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": type, "message": message}
        if code is not None:
            self.body["code"] = code
            self.body["doc_url"] = f"https://docs.stripe.com/error-codes/{code.replace('_', '-')}"
        if param is not None:
            self.body["param"] = param
        self.body.update(extra or {})
        # Stripe saves an idempotent result only once the endpoint started executing: a declined card
        # is saved and replayed, a request that failed validation is not.
        self.executed = executed

    def answer(self) -> dict[str, Any]:
        return {"error": self.body}


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, "invalid_request_error", message, code=code, param=param)


def missing_param(param: str) -> StripeError:
    return invalid(f"Missing required param: {param}.", param=param, code="parameter_missing")


def missing(kind: str, object_id: str, *, param: str = "id") -> StripeError:
    return StripeError(
        404,
        "invalid_request_error",
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def unexpected_state(message: str, intent: dict[str, Any]) -> StripeError:
    return StripeError(
        400,
        "invalid_request_error",
        message,
        code="payment_intent_unexpected_state",
        extra={"payment_intent": intent},
        executed=True,
    )


def card_declined(intent: dict[str, Any], charge_id: str, payment_method: dict[str, Any]) -> StripeError:
    return StripeError(
        402,
        "card_error",
        "Your card was declined.",
        code="card_declined",
        extra={
            "decline_code": "generic_decline",
            "charge": charge_id,
            "payment_intent": intent,
            "payment_method": payment_method,
        },
        executed=True,
    )
