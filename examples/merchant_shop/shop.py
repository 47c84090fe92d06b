"""A small shop that earns its customers loyalty points, using only partner_sdk.

Run it (the platform must be running, e.g. `python3 dev.py demo`):

    export LOYALTY_PLATFORM_URL=http://127.0.0.1:5000
    export LOYALTY_MERCHANT_KEY=lk_...            # printed by the demo
    export LOYALTY_WEBHOOK_SECRET=whsec_...       # from registering /webhooks/loyalty
    export SHOP_COOKIE_SECURE=0                   # plain http on your machine only
    flask --app examples/merchant_shop/shop.py run --port 5050
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, abort, redirect, render_template_string, request, url_for

from partner_sdk import (
    ClickCapture,
    LoyaltyError,
    MerchantClient,
    OrderResult,
    ValidationError,
    WebhookSignatureError,
    click_token_from_environ,
    verify_webhook,
)
from partner_sdk.webhooks import SIGNATURE_HEADER

PRODUCTS = {
    "lamp": {"name": "Brass desk lamp", "price_cents": 27400},
    "kettle": {"name": "Copper kettle", "price_cents": 4599},
}
EVENTS_MAX = 200
ORDERS_MAX = 1000

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Example shop</title></head>
<body><nav><a href="{{ url_for('landing') }}">Shop</a> · <a href="{{ url_for('events') }}">Webhook events</a></nav>
<main><h1>{{ title }}</h1>{{ body|safe }}</main></body></html>"""


class Shop:
    """What the shop keeps in memory: the SDK client, the webhook events received and
    what the platform answered for each checkout (a real shop keeps these in its database)."""

    def __init__(self, loyalty: MerchantClient, currency: str, events_file: str | None):
        self.loyalty = loyalty
        self.currency = currency
        self.events_file = events_file
        self.received: list[dict[str, Any]] = []
        self.recorded: dict[str, OrderResult] = {}
        self.lock = threading.Lock()


def create_app(env: Mapping[str, str] | None = None) -> Flask:
    env = os.environ if env is None else env
    app = Flask(__name__)
    app.config.update(
        PLATFORM_URL=env.get("LOYALTY_PLATFORM_URL", "http://127.0.0.1:5000"),
        MERCHANT_KEY=env.get("LOYALTY_MERCHANT_KEY", ""),
        # Read at each delivery: the secret is known only once the endpoint is registered.
        WEBHOOK_SECRET=env.get("LOYALTY_WEBHOOK_SECRET", ""),
    )
    shop = Shop(
        loyalty=MerchantClient(app.config["PLATFORM_URL"], app.config["MERCHANT_KEY"], timeout_s=5),
        currency=env.get("SHOP_CURRENCY", "EUR"),
        events_file=env.get("SHOP_EVENTS_FILE"),
    )
    # Every GET with ?lp_click=... becomes a first-party cookie and a clean redirect.
    app.wsgi_app = ClickCapture(app.wsgi_app, secure=env.get("SHOP_COOKIE_SECURE", "1") != "0")  # type: ignore[method-assign]
    _catalog_pages(app, shop)
    _checkout_pages(app, shop)
    _order_pages(app, shop)
    _webhook_receiver(app, shop)
    app.extensions["loyalty"] = shop.loyalty
    app.extensions["received_events"] = shop.received
    app.extensions["recorded_orders"] = shop.recorded
    return app


def page(title: str, template: str, status: int = 200, **context: Any):
    body = render_template_string(template, **context)
    return render_template_string(PAGE, title=title, body=body), status


def _catalog_pages(app: Flask, shop: Shop) -> None:
    @app.get("/")
    def landing():
        return page(
            "Welcome",
            "<ul>{% for key, p in products.items() %}<li><a href='{{ url_for('product', key=key) }}'>{{ p.name }}</a>"
            " {{ '%.2f'|format(p.price_cents / 100) }}</li>{% endfor %}</ul>"
            "<p>Every order earns loyalty points you can spend at every shop of the coalition.</p>",
            products=PRODUCTS,
        )

    @app.get("/products/<key>")
    def product(key: str):
        item = PRODUCTS.get(key) or abort(404)
        return page(
            item["name"],
            "<p>{{ '%.2f'|format(item.price_cents / 100) }} {{ currency }}</p>"
            "<a href='{{ url_for('checkout', amount_cents=item.price_cents) }}'>Buy</a>",
            item=item,
            currency=shop.currency,
        )


CHECKOUT_FORM = (
    "{% if error %}<p role='alert'>{{ error }}</p>{% endif %}"
    "<form method='post'><label>Email <input type='email' name='email' required value='{{ email }}'></label>"
    "<label>Amount (cents) <input type='number' name='amount_cents' min='1' required value='{{ amount }}'></label>"
    "<input type='hidden' name='order_id' value='{{ order_id }}'><button>Pay</button></form>"
)


def _checkout_pages(app: Flask, shop: Shop) -> None:
    @app.route("/checkout", methods=["GET", "POST"])
    def checkout():
        if request.method == "GET":
            amount = request.args.get("amount_cents", "")
            # The order id is fixed when the form is shown: a double submit is one order.
            return page(
                "Checkout", CHECKOUT_FORM, email="", amount=amount, order_id=f"shop-{uuid.uuid4().hex[:16]}", error=None
            )
        form = request.form
        try:
            order = shop.loyalty.record_order(
                form["order_id"],
                int(form["amount_cents"]),
                form["email"],
                currency=shop.currency,
                click_token=click_token_from_environ(request.environ),
            )
        except (ValueError, ValidationError) as error:
            message = getattr(error, "errors", None) or str(error)
            return page(
                "Checkout",
                CHECKOUT_FORM,
                422,
                email=form.get("email", ""),
                amount=form.get("amount_cents", ""),
                order_id=form.get("order_id", ""),
                error=f"Please check the form: {message}",
            )
        except LoyaltyError as error:
            # The sale stands even when the loyalty platform is unreachable; a real shop queues a retry.
            return page("Checkout", "<p role='alert'>Paid, but points could not be recorded: {{ e }}</p>", 502, e=error)
        with shop.lock:
            shop.recorded[order.order_id] = order
            while len(shop.recorded) > ORDERS_MAX:
                del shop.recorded[next(iter(shop.recorded))]
        return redirect(url_for("order_page", order_id=order.order_id))


def _order_pages(app: Flask, shop: Shop) -> None:
    @app.get("/orders/<order_id>")
    def order_page(order_id: str):
        try:
            order = shop.loyalty.get_order(order_id)
        except LoyaltyError:
            abort(404)
        return page(
            f"Order {order.order_id}",
            "<p>Paid {{ '%.2f'|format(o.amount_cents / 100) }}, net {{ '%.2f'|format(o.net_amount_cents / 100) }} {{ o.currency }}.</p>"
            "<p>This order earned <strong id='points'>{{ o.points_net }}</strong> points; the member now has "
            "<strong id='balance'>{{ o.points_balance }}</strong> points.</p>"
            "{% if o.commission %}<p>Referred by an affiliate: commission "
            "<strong id='commission'>{{ o.commission.status }}</strong>.</p>{% endif %}"
            "{% if o.net_amount_cents %}<form method='post' action='{{ url_for('refund', order_id=o.order_id) }}'>"
            "<input type='hidden' name='refund_id' value='{{ refund_id }}'>"
            "<input type='hidden' name='amount_cents' value='{{ o.net_amount_cents }}'>"
            "<button>Refund the order</button></form>{% endif %}",
            o=order,
            refund_id=f"refund-{uuid.uuid4().hex[:16]}",
        )

    @app.post("/orders/<order_id>/refund")
    def refund(order_id: str):
        try:
            shop.loyalty.refund(order_id, request.form["refund_id"], int(request.form["amount_cents"]))
        except (ValueError, LoyaltyError) as error:
            return page("Refund", "<p role='alert'>The refund failed: {{ e }}</p>", 422, e=error)
        return redirect(url_for("order_page", order_id=order_id))


def _webhook_receiver(app: Flask, shop: Shop) -> None:
    @app.post("/webhooks/loyalty")
    def webhook():
        try:
            event = verify_webhook(
                request.get_data(), request.headers.get(SIGNATURE_HEADER, ""), app.config["WEBHOOK_SECRET"]
            )
        except WebhookSignatureError:
            return {"error": "bad signature"}, 400
        with shop.lock:
            if any(seen["id"] == event.id for seen in shop.received):
                return "", 204  # retries of a delivered event are acknowledged once more, not stored twice
            shop.received.append(event.raw)
            del shop.received[:-EVENTS_MAX]
            if shop.events_file:
                Path(shop.events_file).write_text(json.dumps(shop.received, indent=1))
        return "", 204

    @app.get("/events")
    def events():
        with shop.lock:
            shown = list(reversed(shop.received))
        return page(
            "Webhook events",
            "<table><thead><tr><th>event</th><th>type</th><th>order</th><th>points</th></tr></thead><tbody>"
            "{% for e in events %}<tr><td>{{ e.id }}</td><td class='type'>{{ e.type }}</td>"
            "<td>{{ e.data.order_id }}</td><td>{{ e.data.points_balance }}</td></tr>{% endfor %}</tbody></table>",
            events=shown,
        )
