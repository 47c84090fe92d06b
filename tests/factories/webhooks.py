"""Webhook endpoints registered through the API, and what the outbox holds for them."""

from __future__ import annotations

import socket

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


class FakeDns:
    """Stands in for ``addresses.resolve_name``: host names answer what a test says, or
    nothing (NXDOMAIN). Numeric spellings still go through the platform's own parser."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.answers[host])

    def install(self, monkeypatch) -> FakeDns:
        from app.webhooks import addresses

        monkeypatch.setattr(addresses, "resolve_name", self)
        return self


# Host names the fake DNS answers with a non-public address (or, for "nowhere", nothing).
PRIVATE_NAMES = {
    "internal.shop.example": ["10.0.0.5"],
    "metadata.shop.example": ["169.254.169.254"],
    "loopback6.shop.example": ["::1"],
    "mixed.shop.example": ["93.184.216.34", "127.0.0.1"],
    "xn--bcher-kva.example": ["192.168.0.3"],
}
# Every spelling of a non-public target that production must refuse.
NOT_PUBLIC_URLS = [
    "https://127.0.0.1/",
    "https://127.0.0.1:8443/hooks",
    "https://2130706433/",
    "https://0177.0.0.1/",
    "https://0x7f.1/",
    "https://0x7f000001/",
    "https://017700000001/",
    "https://127.1/",
    "https://127.0.0.1./",
    "https://１２７.０.０.１/",
    "https://localhost/",
    "https://LOCALHOST/",
    "https://localhost./",
    "https://ＬＯＣＡＬＨＯＳＴ/",
    "https://api.localhost/",
    "https://0.0.0.0/",
    "https://0/",
    "https://[::]/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[::127.0.0.1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://10.0.0.8/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/",
    "https://100.64.0.1/",
    "https://224.0.0.1/",
    "https://[ff02::1]/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    "https://[fc00::1]/",
    "https://[fd12:3456::1]/",
    "https://[fec0::1]/",
    "https://192.0.2.1/",
    "https://198.51.100.7/",
    "https://203.0.113.9/",
    "https://[2001:db8::1]/",
    "https://[2002:7f00:1::]/",
    "https://[2002:a00:1::]/",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    "https://[64:ff9b::a00:1]/",
    "https://internal.shop.example/",
    "https://Internal.Shop.Example./",
    "https://metadata.shop.example/",
    "https://loopback6.shop.example/",
    "https://mixed.shop.example/",
    "https://bücher.example/",
    "https://nowhere.shop.example/",
]
PUBLIC_ADDRESS = "93.184.216.34"
