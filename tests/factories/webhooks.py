"""Webhook endpoints registered through the API, and what the outbox holds for them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.webhooks.models import WebhookDelivery, WebhookEvent

ENDPOINT_URL = "https://hooks.shop.example/loyalty"


def register_endpoint(client, headers: dict, *, url: str = ENDPOINT_URL, events=("order.points_awarded",), **body):
    """POST /v1/webhook-endpoints; the response, unchecked."""
    return client.post("/v1/webhook-endpoints", json={"url": url, "events": list(events), **body}, headers=headers)


def deliveries_to(engine, endpoint_id: str) -> list[tuple[str, str]]:
    """(event type, body) of every delivery queued for the endpoint, in order."""
    with Session(engine) as s:
        rows = s.execute(
            select(WebhookEvent.event_type, WebhookEvent.body)
            .join(WebhookDelivery, WebhookDelivery.event_id == WebhookEvent.id)
            .where(WebhookDelivery.endpoint_id == int(endpoint_id))
            .order_by(WebhookDelivery.id)
        ).all()
    return [(row.event_type, row.body) for row in rows]
