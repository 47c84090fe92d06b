"""Who calls an operation open to the operator and to merchants alike (campaigns,
segments, offers, contests): a merchant, for its own resources, or the operator."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g


@dataclass(frozen=True)
class Caller:
    merchant_id: int | None  # None: the operator

    @property
    def is_operator(self) -> bool:
        return self.merchant_id is None


def current_caller() -> Caller:
    """The request's caller, as ``operator_or_merchant_required`` left it in ``g``."""
    merchant = g.get("merchant")
    return Caller(None if merchant is None else merchant.id)
