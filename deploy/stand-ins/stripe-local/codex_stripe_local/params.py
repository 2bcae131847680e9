"""Parameter checks that answer as Stripe does (`parameter_missing`, `parameter_unknown`,
`parameter_invalid_integer`, ...), on the decoded form (values are strings, as sent)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from codex_stripe_local.errors import StripeError, invalid, missing_param

__all__ = [
    "amount_param",
    "currency_param",
    "expand_param",
    "flag_param",
    "integer",
    "metadata_param",
    "no_unknown",
    "optional_str",
]

_CURRENCY = re.compile(r"^[a-z]{3}$")
# Stripe's minimum charge amounts for the common currencies, in the smallest unit
# (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
_MINIMUM = {"usd": 50, "eur": 50, "gbp": 30, "chf": 50, "cad": 50, "aud": 50, "jpy": 50}
_MAXIMUM = 99_999_999


def no_unknown(params: dict[str, Any], allowed: Iterable[str]) -> None:
    known = set(allowed)
    for name in params:
        if name not in known:
            raise invalid(f"Received unknown parameter: {name}", param=name, code="parameter_unknown")


def optional_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {name}", param=name, code="parameter_invalid_string")
    return value


def integer(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,18}", value):
        raise invalid(f"Invalid integer: {value}", param=name, code="parameter_invalid_integer")
    return int(value)


def amount_param(params: dict[str, Any], currency: str, *, required: bool = True) -> int | None:
    amount = integer(params, "amount")
    if amount is None:
        if required:
            raise missing_param("amount")
        return None
    minimum = _MINIMUM.get(currency, 1)
    if amount < minimum:
        raise invalid(
            f"Amount must be at least {minimum} in the smallest unit of {currency}",
            param="amount",
            code="amount_too_small",
        )
    if amount > _MAXIMUM:
        raise invalid(
            f"Amount must be no more than {_MAXIMUM} in the smallest unit of {currency}",
            param="amount",
            code="amount_too_large",
        )
    return amount


def currency_param(params: dict[str, Any]) -> str:
    value = params.get("currency")
    if value is None:
        raise missing_param("currency")
    currency = value.lower() if isinstance(value, str) else ""
    if not _CURRENCY.match(currency):
        raise invalid(f"Invalid currency: {value}", param="currency", code="parameter_invalid_string")
    return currency


def metadata_param(params: dict[str, Any], current: dict[str, str] | None = None) -> dict[str, str]:
    """Stripe merges metadata; an empty value unsets a key. Up to 50 keys, 40-character keys,
    500-character values."""
    value = params.get("metadata")
    metadata = dict(current or {})
    if value is None or value == "":
        return metadata if value is None else {}
    if not isinstance(value, dict):
        raise invalid("Invalid object", param="metadata", code="parameter_invalid_object")
    for key, item in value.items():
        if not isinstance(item, str):
            raise invalid("Invalid string", param=f"metadata[{key}]", code="parameter_invalid_string")
        if len(key) > 40 or len(item) > 500:
            raise invalid(
                "Metadata keys are at most 40 characters and values at most 500",
                param=f"metadata[{key}]",
            )
        if item == "":
            metadata.pop(key, None)
        else:
            metadata[key] = item
    if len(metadata) > 50:
        raise invalid("Metadata has at most 50 keys", param="metadata")
    return metadata


def flag_param(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise invalid(f"Invalid boolean: {value}", param=name, code="parameter_invalid_boolean")
    return bool(value == "true")


def expand_param(params: dict[str, Any], expandable: Iterable[str]) -> list[str]:
    value = params.get("expand")
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    allowed = set(expandable)
    for item in items:
        if item not in allowed:
            raise StripeError(
                400, "invalid_request_error", f"This property cannot be expanded ({item}).", param="expand"
            )
    return [str(item) for item in items]
