"""Commission webhooks: the merchant and the affiliate each hear of every change,
in the transaction of the change (the outbox)."""

from __future__ import annotations

from app.commissions.models import Commission
from app.commissions.schemas import CommissionSchema
from app.unit_of_work import UnitOfWork

_SCHEMA = CommissionSchema()
# What the merchant pays the network is not the affiliate's business.
_MERCHANT_ONLY = ("fee_cents",)


def announce(uow: UnitOfWork, commission: Commission, event_type: str) -> None:
    """``commission.created|approved|rejected|paid`` to the merchant's and the affiliate's endpoints."""
    data = _SCHEMA.dump(commission)
    uow.emit("merchant", commission.merchant_id, event_type, data)
    for field in _MERCHANT_ONLY:
        data.pop(field, None)
    uow.emit("affiliate", commission.affiliate_id, event_type, data)
