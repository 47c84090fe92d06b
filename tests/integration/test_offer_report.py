"""An offer's report, recounted from the orders and the mail outbox: 3 merchants,
2,000 members, a merchant's offer and the operator's, on a database of their own."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.audience.models import COALITION, MERCHANTS
from app.mail import OutboxMail
from tests.conftest import make_app
from tests.factories.merchants import create_merchant
from tests.factories.names import unique_email
from tests.integration.test_offers import LINK, OPERATOR, PIXEL, consent, engine_of, new_offer, order, segment, send_all

MEMBERS = 2000


def _recount(app, offer: dict, merchant_id: int | None, opened: set, clicked: set, bonuses: dict) -> dict:
    from app.offers.services import held_out

    with Session(engine_of(app)) as s:
        row = s.execute(
            text("SELECT salt, holdout_bp, starts_at, ends_at, segment_id FROM offers WHERE id = :i"),
            {"i": int(offer["id"])},
        ).one()
        eligible = list(
            s.execute(
                text("SELECT member_id FROM segment_members WHERE segment_id = :s"), {"s": row.segment_id}
            ).scalars()
        )
        mailed = set(s.execute(select(OutboxMail.recipient).where(OutboxMail.subject == offer["subject"])).scalars())
        emails = dict(s.execute(text("SELECT email, id FROM members")).all())
        orders = s.execute(
            text("SELECT member_id, merchant_id, amount_cents - refunded_cents AS net, created_at FROM orders")
        ).all()
    split = type("Split", (), {"salt": row.salt, "holdout_bp": row.holdout_bp})
    held = {m for m in eligible if held_out(split, m)}
    sent = {emails[e] for e in mailed}
    starts, ends = (datetime.fromisoformat(offer[k]) for k in ("starts_at", "ends_at"))
    in_window = [
        o
        for o in orders
        if (merchant_id is None or o.merchant_id == merchant_id) and starts <= _aware(o.created_at) < ends
    ]

    def group(members):
        mine = [o for o in in_window if o.member_id in members]
        return len({o.member_id for o in mine}), len(mine), sum(o.net for o in mine)

    (conv, n_orders, sales), (h_conv, h_orders, h_sales) = group(sent), group(held)
    return {
        "eligible": len(eligible),
        "sent": len(sent),
        "held_out": len(held),
        "opened": len(opened),
        "clicked": len(clicked),
        "converted": conv,
        "conversion_rate_bp": conv * 10_000 // len(sent),
        "holdout_conversion_rate_bp": h_conv * 10_000 // len(held),
        "orders": n_orders,
        "holdout_orders": h_orders,
        "incremental_orders": n_orders - round(h_orders * len(sent) / len(held)),
        "incremental_sales_cents": sales - round(h_sales * len(sent) / len(held)),
        "points_cost": bonuses.get(offer["subject"], 0),
    }


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=datetime.now().astimezone().tzinfo).astimezone()


def test_the_report_equals_a_recount_from_the_orders_and_the_mail_outbox(databases):
    rng = random.Random(2026)
    app = make_app(databases.new(), OFFER_MAILS_PER_MINUTE=100_000)
    try:
        api = app.test_client()
        merchants = [create_merchant(api, OPERATOR) for _ in range(3)]
        emails = [unique_email() for _ in range(MEMBERS)]
        ids = {e: int(order(api, rng.choice(merchants), e, rng.randrange(1000, 9000))["member_id"]) for e in emails}
        consent(app, [ids[e] for e in emails if rng.random() < 0.7], MERCHANTS)
        consent(app, [ids[e] for e in emails if rng.random() < 0.5], COALITION)
        shop = merchants[0]
        offers = [
            (
                new_offer(api, shop["headers"], segment(api, shop["headers"], {"bought": "anywhere"})["id"]),
                int(shop["id"]),
            ),
            (new_offer(api, OPERATOR, segment(api, OPERATOR, {})["id"], holdout_bp=2000), None),
        ]
        send_all(app)
        opened, clicked = {o["subject"]: set() for o, _ in offers}, {o["subject"]: set() for o, _ in offers}
        with Session(engine_of(app)) as s:
            sent_mails = list(s.execute(select(OutboxMail).where(OutboxMail.subject.in_(list(opened)))).scalars())
        for mail in sent_mails:
            if rng.random() < 0.3:
                api.get(PIXEL.search(mail.html).group(1))
                opened[mail.subject].add(mail.recipient)
            if rng.random() < 0.1:
                assert api.get(LINK.search(mail.body).group(1)).status_code == 302
                opened[mail.subject].add(mail.recipient)
                clicked[mail.subject].add(mail.recipient)
        names = {f"Offer: {o['subject']}": o["subject"] for o, _ in offers}
        bonuses: dict[str, int] = {}
        for email in emails:
            if rng.random() < 0.25:
                placed = order(api, rng.choice(merchants), email, rng.randrange(1000, 9000))
                for bonus in placed["bonuses"]:
                    if bonus["name"] in names:
                        bonuses[names[bonus["name"]]] = bonuses.get(names[bonus["name"]], 0) + bonus["points"]

        for offer, merchant_id in offers:
            headers = OPERATOR if merchant_id is None else shop["headers"]
            report = api.get(f"/v1/offers/{offer['id']}/report", headers=headers).get_json()
            expected = _recount(app, offer, merchant_id, opened[offer["subject"]], clicked[offer["subject"]], bonuses)
            assert {k: report[k] for k in expected} == expected
            assert report["sent"] > 300 and report["held_out"] > 100 and report["converted"] > 20
    finally:
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
