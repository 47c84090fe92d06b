"""Offers: consent before every mail, a reproducible holdout that gets nothing,
tracking links without personal data, and a report that equals a recount."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

import ledger
from app.audience.models import MERCHANTS, Consent
from app.mail import OutboxMail
from app.offers.services import held_out
from app.unit_of_work import UnitOfWork
from tests.conftest import ADMIN_KEY, make_app
from tests.factories.merchants import auth, create_merchant
from tests.factories.names import unique_email
from tests.factories.orders import record_order

OPERATOR = auth(ADMIN_KEY)
LINK = re.compile(r"https?://[^/\s]+(/r/\S+)")
PIXEL = re.compile(r'src="https?://[^/"]+(/o/[^"]+)"')


@pytest.fixture(scope="module")
def offers_app(databases):
    application = make_app(databases.new(), OFFER_MAILS_PER_MINUTE=100_000)
    yield application
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


@pytest.fixture
def api(offers_app):
    return offers_app.test_client()


def engine_of(app):
    from app.extensions import db

    with app.app_context():
        return db.engine


def order(api, merchant, email, amount_cents=3000):
    answer = record_order(api, merchant["headers"], member_email=email, amount_cents=amount_cents)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def consent(app, member_ids, purpose):
    with Session(engine_of(app)) as s:
        now = ledger.utcnow()
        s.execute(
            insert(Consent),
            [{"member_id": m, "purpose": purpose, "granted": True, "changed_at": now} for m in member_ids],
        )
        s.commit()


def new_offer(api, headers, segment_id, **overrides):
    now = ledger.utcnow()
    body = {
        "segment_id": segment_id,
        "subject": overrides.pop("subject", f"Offer {random.randrange(10**9)}"),
        "body": "Festival weekend.\n\nCome and see.",
        "reward": {"type": "bonus", "points": 100},
        "starts_at": (now - timedelta(seconds=1)).isoformat(),
        "ends_at": (now + timedelta(days=7)).isoformat(),
        **overrides,
    }
    answer = api.post("/v1/offers", json=body, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def segment(api, headers, rules):
    answer = api.post("/v1/segments", json={"name": "Target", "rules": rules}, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def send_all(app, now=None):
    from app.offers import services

    total = 0
    with app.app_context():
        while True:
            uow = UnitOfWork(Session(engine_of(app)), now=now or ledger.utcnow())
            try:
                done = services.send_due(uow)
            finally:
                uow.close()
            if not done:
                return total
            total += done


def mails(app, subject):
    with Session(engine_of(app)) as s:
        return list(s.execute(select(OutboxMail).where(OutboxMail.subject == subject)).scalars())


def points_of(app, member_ids):
    with Session(engine_of(app)) as s:
        return {m: ledger.member_points(s, str(m)) for m in member_ids}


def path_of(pattern, mail):
    return pattern.search(mail.html if pattern is PIXEL else mail.body).group(1)


def test_the_holdout_is_reproducible_and_within_one_point_of_its_share_on_10000_members():
    for holdout_bp in (1000, 2500):
        offer = SimpleNamespace(salt="5f1c2d3e4a5b6c7d8e9f00112233aabb", holdout_bp=holdout_bp)
        split = [held_out(offer, member_id) for member_id in range(1, 10_001)]

        assert split == [held_out(offer, member_id) for member_id in range(1, 10_001)]
        assert abs(sum(split) - holdout_bp) <= 100, sum(split)  # 10,000 members: 1 point is 100 of them
    other = SimpleNamespace(salt="00000000000000000000000000000000", holdout_bp=1000)
    assert split != [held_out(other, m) for m in range(1, 10_001)]  # another offer, another split


def test_only_consenting_targeted_members_are_mailed_and_only_they_get_the_bonus_once(api, offers_app):
    shop = create_merchant(api, OPERATOR)
    people = [unique_email() for _ in range(40)]
    ids = {email: int(order(api, shop, email)["member_id"]) for email in people}
    consenting = [ids[e] for e in people[:30]]
    consent(offers_app, consenting, MERCHANTS)
    target = segment(api, shop["headers"], {"bought": "here"})
    offer = new_offer(api, shop["headers"], target["id"], holdout_bp=3000)

    send_all(offers_app)

    sent_to = {m.recipient for m in mails(offers_app, offer["subject"])}
    with Session(engine_of(offers_app)) as s:
        salt = s.execute(text("SELECT salt FROM offers WHERE id = :i"), {"i": int(offer["id"])}).scalar_one()
    split = SimpleNamespace(salt=salt, holdout_bp=3000)
    expected = {e for e in people[:30] if not held_out(split, ids[e])}
    assert sent_to == expected and expected
    for email in people:
        again = order(api, shop, email)
        bonus = [b["points"] for b in again["bonuses"]]
        assert bonus == ([100] if email in expected else []), email
        assert order(api, shop, email)["bonuses"] == []  # once each
    report = api.get(f"/v1/offers/{offer['id']}/report", headers=shop["headers"]).get_json()
    assert (report["eligible"], report["sent"]) == (40, len(expected))
    assert report["held_out"] == sum(held_out(split, m) for m in ids.values())
    assert report["points_cost"] == 100 * len(expected)


def test_a_withdrawn_consent_stops_the_mail_even_for_an_offer_already_prepared(api, offers_app):
    shop = create_merchant(api, OPERATOR)
    email = unique_email()
    member_id = int(order(api, shop, email)["member_id"])
    consent(offers_app, [member_id], MERCHANTS)
    offer = new_offer(api, shop["headers"], segment(api, shop["headers"], {"bought": "here"})["id"], holdout_bp=0)
    from app.offers import services

    with offers_app.app_context():
        uow = UnitOfWork(Session(engine_of(offers_app)))
        try:
            services.send_due(uow)  # chooses the recipients, mails nobody yet
        finally:
            uow.close()
    with Session(engine_of(offers_app)) as s:
        s.execute(
            text("UPDATE consents SET granted = false WHERE member_id = :m AND purpose = 'merchants'"), {"m": member_id}
        )
        s.commit()

    send_all(offers_app)

    assert mails(offers_app, offer["subject"]) == []
    report = api.get(f"/v1/offers/{offer['id']}/report", headers=shop["headers"]).get_json()
    assert (report["eligible"], report["sent"], report["held_out"]) == (1, 0, 0)


def test_tracking_links_carry_no_personal_data_and_count_once(api, offers_app):
    shop = create_merchant(api, OPERATOR)
    email = unique_email()
    member_id = int(order(api, shop, email)["member_id"])
    consent(offers_app, [member_id], MERCHANTS)
    offer = new_offer(api, shop["headers"], segment(api, shop["headers"], {"bought": "here"})["id"], holdout_bp=0)
    send_all(offers_app)
    [mail] = mails(offers_app, offer["subject"])
    pixel, link = path_of(PIXEL, mail), path_of(LINK, mail)

    from app.offers import tracking

    with offers_app.app_context():
        for token, kind in ((pixel.split("/")[-1], tracking.OPEN), (link.split("/")[-1], tracking.CLICK)):
            offer_id, ref = tracking.read(token, kind)  # all a link carries: the offer and a random reference
            assert offer_id == int(offer["id"]) and re.fullmatch(r"[0-9a-f]{32}", ref)
            assert email not in token
    opened = api.get(pixel)
    assert opened.status_code == 200 and opened.mimetype == "image/gif"
    api.get(pixel)
    clicked = api.get(link)
    assert clicked.status_code == 302 and clicked.headers["Location"] == "https://shop.example/"
    api.get(link)
    report = api.get(f"/v1/offers/{offer['id']}/report", headers=shop["headers"]).get_json()
    assert (report["opened"], report["clicked"]) == (1, 1)
    assert api.get(pixel[:-3] + "xyz").status_code == 200  # a damaged pixel still answers, counts nothing
    damaged = api.get(link[:-3] + "xyz")
    assert damaged.status_code == 302 and damaged.headers["Location"] == "/"  # to the boutique, counting nothing


def test_offer_mails_keep_to_the_rate_per_minute(databases):
    app = make_app(databases.new(), OFFER_MAILS_PER_MINUTE=5)
    try:
        api = app.test_client()
        shop = create_merchant(api, OPERATOR)
        ids = [int(order(api, shop, unique_email())["member_id"]) for _ in range(12)]
        consent(app, ids, MERCHANTS)
        offer = new_offer(api, shop["headers"], segment(api, shop["headers"], {"bought": "here"})["id"], holdout_bp=0)
        now = ledger.utcnow()

        send_all(app, now)
        assert len(mails(app, offer["subject"])) == 5
        send_all(app, now + timedelta(seconds=61))
        assert len(mails(app, offer["subject"])) == 10
        send_all(app, now + timedelta(seconds=122))
        assert len(mails(app, offer["subject"])) == 12
    finally:
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()


def test_offers_refuse_what_cannot_be_sent(api):
    shop, other = create_merchant(api, OPERATOR), create_merchant(api, OPERATOR)
    theirs = segment(api, other["headers"], {})
    mine = segment(api, shop["headers"], {})
    now = ledger.utcnow()
    base = {
        "segment_id": mine["id"],
        "subject": "S",
        "body": "B",
        "reward": {"type": "bonus", "points": 10},
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
    }
    for change in (
        {"segment_id": theirs["id"]},
        {"ends_at": (now - timedelta(days=1)).isoformat()},
        {"ends_at": (now + timedelta(days=400)).isoformat()},
        {"reward": {"type": "bonus"}},
        {"reward": {"type": "bonus", "points": 10, "item_id": "1"}},
        {"reward": {"type": "coupon", "points": 10}},
        {"holdout_bp": 6000},
        {"subject": ""},
    ):
        answer = api.post("/v1/offers", json=base | change, headers=shop["headers"])
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json", (change, answer.get_json())
    assert api.get("/v1/offers/999999", headers=shop["headers"]).status_code == 404


def test_a_voucher_offer_gives_each_mailed_recipient_a_code_at_no_points_while_stock_lasts(api, offers_app):
    from tests.factories.boutique import reward

    shop = create_merchant(api, OPERATOR)
    voucher = reward(api, shop, kind="voucher", generate_codes=3)
    people = [unique_email() for _ in range(5)]
    ids = [int(order(api, shop, email)["member_id"]) for email in people]
    consent(offers_app, ids[:4], MERCHANTS)  # the fifth never consented
    target = segment(api, shop["headers"], {"bought": "here"})
    offer = new_offer(
        api, shop["headers"], target["id"], reward={"type": "voucher", "item_id": voucher["id"]}, holdout_bp=0
    )
    balances = points_of(offers_app, ids)

    send_all(offers_app)

    report = api.get(f"/v1/offers/{offer['id']}/report", headers=shop["headers"]).get_json()
    assert (report["eligible"], report["sent"]) == (5, 3)  # 3 codes for 4 consenting members
    assert report["points_cost"] == 3 * voucher["points_price"]
    sent_to = {m.recipient for m in mails(offers_app, offer["subject"])}
    assert len(sent_to) == 3 and sent_to <= set(people[:4])
    supplied = api.get("/v1/redemptions?limit=100", headers=shop["headers"]).get_json()["data"]
    given = [r for r in supplied if r["item_id"] == voucher["id"]]
    assert len(given) == 3 and all(r["points"] == 0 and r["status"] == "fulfilled" for r in given)
    assert points_of(offers_app, ids) == balances

    with Session(engine_of(offers_app)) as s:
        assert ledger.verify(s).ok
