"""Commission webhooks: the merchant and the affiliate each hear of every change,
in the transaction of the change (the outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.commissions.models import Commission
from app.commissions.schemas import CommissionSchema
from app.webhooks.services import emit

_SCHEMA = CommissionSchema()
# What the merchant pays the network is not the affiliate's business.
_MERCHANT_ONLY = ("fee_cents",)


def announce(session: Session, commission: Commission, event_type: str, *, now: datetime) -> None:
    """``commission.created|approved|rejected`` to the merchant's and the affiliate's endpoints."""
    data = _SCHEMA.dump(commission)
    emit(session, "merchant", commission.merchant_id, event_type, data, now=now)
    for field in _MERCHANT_ONLY:
        data.pop(field, None)
    emit(session, "affiliate", commission.affiliate_id, event_type, data, now=now)
