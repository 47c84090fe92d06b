"""Demo data: two merchants and members whose history shows every flow."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

import ledger
from app.boutique import catalog
from app.boutique import services as boutique
from app.identity.keys import KEY_PREFIX, hash_key
from app.members.models import Member
from app.merchants.models import Merchant
from app.merchants.services import create_merchant
from app.orders.services import record_order, refund_order
from app.transparency import services as transparency
from app.unit_of_work import UnitOfWork

# In the instance folder, beside the demo database: the secret the demo's keys derive from.
DEMO_KEYS_SECRET_FILE = "demo-keys.secret"

MERCHANTS = [
    {
        "name": "Maison Lumière",
        "domains": ["maison-lumiere.example"],
        "currency": "EUR",
        "earn_rule": {"points": 10, "per_amount_cents": 1500},
        "price_per_1000_points_cents": 500,
        "points_lifetime_days": 365,
    },
    {
        "name": "Vélo Nord",
        "domains": ["velo-nord.example", "shop.velo-nord.example"],
        "currency": "EUR",
        "earn_rule": {"points": 10, "per_amount_cents": 1500},
        "price_per_1000_points_cents": 450,
        "points_lifetime_days": 365,
    },
]

# (merchant index, order id, cents, email, days ago)
ORDERS = [
    (0, "ML-1001", 27400, "alice@example.com", 400),
    (0, "ML-1002", 33500, "alice@example.com", 60),
    (1, "VN-2001", 4599, "bruno@example.com", 30),
    (1, "VN-2002", 89900, "alice@example.com", 20),
    (0, "ML-1003", 12000, "chloe@example.com", 10),
    (1, "VN-2003", 30600, "chloe@example.com", 5),
    (1, "VN-2004", 450000, "alice@example.com", 3),
]

# The boutique: (supplier index, kind, title, category, points, wholesale cents, stock or codes, picture)
REWARDS = [
    (0, "voucher", "10 € voucher at Maison Lumière", "vouchers", 2400, 1000, 25, "voucher-10.svg"),
    (1, "voucher", "25 € voucher at Vélo Nord", "vouchers", 6000, 2500, 25, "voucher-25.svg"),
    (0, "physical", "Postcard set", "stationery", 150, 60, 40, "candle.svg"),
    (0, "physical", "Scented candle trio", "home", 1200, 500, 12, "candle.svg"),
    (0, "physical", "Wool throw blanket", "home", 9000, 3800, 5, "blanket.svg"),
    (0, "physical", "Brass desk lamp", "home", 14000, 6000, 3, "lamp.svg"),
    (1, "physical", "Bike light set", "cycling", 1400, 550, 20, "bike-light.svg"),
    (1, "physical", "Commuter helmet", "cycling", 9600, 4000, 6, "helmet.svg"),
]


def _stable(key, name: str) -> str:
    """The demo's key for ``name``, the same at every start (the guide's exported
    variables keep working): derived from a random secret kept in the instance folder,
    which a new demo database does not touch. Replaces the random key just issued."""
    secret_file = Path(current_app.instance_path) / DEMO_KEYS_SECRET_FILE
    if not secret_file.exists():
        secret_file.write_text(secrets.token_hex(32))
    digest = hmac.new(bytes.fromhex(secret_file.read_text().strip()), name.encode(), hashlib.sha256).digest()
    clear = KEY_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")
    key.prefix, key.key_hash = clear[:10], hash_key(clear)
    return clear


def _at(uow: UnitOfWork, when: datetime) -> UnitOfWork:
    """The unit, its clock set to ``when``: the demo's history happened over months."""
    uow.now = when
    return uow


def seed(uow: UnitOfWork, *, base_url: str, echo: Callable[[str], None]) -> None:
    session = uow.session
    if session.execute(select(Merchant.id)).first() is not None:
        raise RuntimeError("the database already has merchants; demo data goes into an empty one")
    now = uow.now
    merchants, keys = [], []
    for data in MERCHANTS:
        merchant, key, _ = create_merchant(_at(uow, now - timedelta(days=500)), data)
        merchants.append(merchant.terms())
        keys.append(_stable(key, f"merchant:{data['name']}"))
    for index, order_id, cents, email, days in ORDERS:
        data = {"order_id": order_id, "amount_cents": cents, "currency": "EUR", "member_email": email}
        record_order(_at(uow, now - timedelta(days=days)), merchants[index], data)
    # Bruno returns part of his order; Chloe spends points, then returns the order they came from.
    refund_order(
        _at(uow, now - timedelta(days=25)), merchants[1], "VN-2001", {"refund_id": "VN-R-1", "amount_cents": 1500}
    )
    items = _seed_catalog(_at(uow, now - timedelta(days=30)), merchants)
    chloe = session.execute(select(Member).where(Member.email == "chloe@example.com")).scalar_one()
    redemption = boutique.place_redemption(
        _at(uow, now - timedelta(days=4)),
        member_id=chloe.id,
        item_id=items["Postcard set"].id,
        idempotency_key="demo-redeem-1",
        shipping_address="Chloé Martin, 3 rue des Lilas, 69001 Lyon",
        timeout_s=current_app.config["REDEMPTION_HOLD_TIMEOUT_S"],
    )
    boutique.fulfil_redemption(
        _at(uow, now - timedelta(days=3)), merchants[0], int(redemption["id"]), tracking_reference="COLIS-8841"
    )
    refund_order(
        _at(uow, now - timedelta(days=2)), merchants[0], "ML-1003", {"refund_id": "ML-R-1", "amount_cents": 12000}
    )
    uow.commit(ledger.expire_lots(session, now=_at(uow, now).now))
    head = uow.commit(transparency.head_now(uow))
    echo(f"Ledger log: {head.tree_size} entries under a signed tree head")
    _print_welcome(base_url, keys, echo)
    _seed_affiliate(_at(uow, now), merchants[0], base_url=base_url, echo=echo)


def _seed_affiliate(uow: UnitOfWork, merchant: Merchant, *, base_url: str, echo: Callable[[str], None]) -> None:
    """One affiliate with an approved application to an 8% program of the first merchant, and a link."""
    from app.affiliates import services as affiliates
    from app.affiliates.models import AffiliateIdentity

    affiliate, key, _ = affiliates.create_affiliate(
        uow,
        {"name": "Le Comparateur", "email": "team@comparateur.example", "website": "https://comparateur.example/"},
    )
    clear = _stable(key, "affiliate:Le Comparateur")
    program = affiliates.create_program(
        uow,
        merchant,
        {
            "name": "Spring collection",
            "commission": {"type": "percent", "basis_points": 800},
            "lead_amount_cents": None,
            "attribution_window_days": 30,
            "hold_days": 30,
            "network_fee_bps": 1000,
            "cap_cents": None,
            "auto_approve_affiliates": True,
        },
    )
    identity = AffiliateIdentity(affiliate.id, affiliate.name, affiliate.email, affiliate.website)
    affiliates.apply(uow, identity, program.id)
    link = affiliates.create_link(
        uow,
        identity,
        {"program_id": program.id, "landing_url": "https://maison-lumiere.example/printemps?ref=comparateur"},
    )
    uow.commit(link.id)
    echo("Affiliate network (docs/affiliates.md)")
    echo(f"  Affiliate key (Le Comparateur): {clear}")
    echo(f"  Tracking URL:                  {base_url}/c/{link.code}")
    echo(f"  Follow it without redirecting:  curl -sI {base_url}/c/{link.code}")
    echo('  Then send the lp_click value from the Location header as "click_token" with an order,')
    echo(f"  and read the report: curl -s {base_url}/v1/affiliate/report -H 'Authorization: Bearer {clear}'")
    echo("")


def _seed_catalog(uow: UnitOfWork, merchants: list[Merchant]) -> dict:
    items = {}
    for index, kind, title, category, points, wholesale, units, picture in REWARDS:
        data = {
            "kind": kind,
            "title": title,
            "category": category,
            "points_price": points,
            "wholesale_value_cents": wholesale,
            "image_url": f"/static/boutique/rewards/{picture}",
            "description": f"{title}, supplied by {merchants[index].name}.",
        }
        data.update({"generate_codes": units} if kind == "voucher" else {"stock": units})
        items[title] = catalog.create_item(uow, merchants[index], data)
    return uow.commit(items)


def _print_welcome(base_url: str, keys: list[str], echo: Callable[[str], None]) -> None:
    admin_key = current_app.config["LOYALTY_ADMIN_KEY"]
    echo("")
    echo("Loyalty platform demo is ready")
    echo(f"  Base URL:                     {base_url}")
    echo(f"  API reference (browsable):    {base_url}/docs")
    echo(f"  API description (OpenAPI):    {base_url}/openapi.json")
    echo(f"  Operator key:                 {admin_key}")
    echo(f"  Merchant key (Maison Lumière): {keys[0]}")
    echo(f"  Merchant key (Vélo Nord):      {keys[1]}")
    echo("")
    echo("Record an order (274.00 EUR earns 180 points):")
    echo(
        f"  curl -s -X POST {base_url}/v1/orders -H 'Authorization: Bearer {keys[0]}' "
        "-H 'Content-Type: application/json' "
        '-d \'{"order_id": "ML-2001", "amount_cents": 27400, "currency": "EUR", '
        '"member_email": "alice@example.com"}\''
    )
    echo("Look up the member's balance:")
    echo(f"  curl -s '{base_url}/v1/members?email=alice@example.com' -H 'Authorization: Bearer {keys[0]}'")
    echo("")
    echo("Rewards boutique (members' web pages):")
    echo(f"  1. Open {base_url}/signin and enter alice@example.com (about 3,800 points)")
    echo(f"  2. Open the sign-in link from the development outbox: {base_url}/dev/outbox")
    echo("  3. Pick a reward, confirm, and see it under My orders and My points")
    echo("Rewards waiting for Maison Lumière to send them:")
    echo(f"  curl -s '{base_url}/v1/redemptions?status=placed' -H 'Authorization: Bearer {keys[0]}'")
    echo("")
