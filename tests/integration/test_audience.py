"""What members tell us: interests from the operator's list, consent per purpose
with its history, and one-click unsubscribe from every offer mail."""

from __future__ import annotations

import json
import re

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.audience import services as audience
from app.audience.models import COALITION, MERCHANTS, Consent
from app.mail import OutboxMail
from tests.conftest import make_app, upgrade
from tests.factories.members import csrf_of, member_with_points, web_client
from tests.factories.names import unique

UNSUBSCRIBE = re.compile(r"(https?://\S+/unsubscribe/\S+)")


def add_interest(client, admin_headers, slug=None, label="Rock music"):
    slug = slug or unique("rock").lower().replace("_", "-")
    response = client.post("/v1/interests", json={"slug": slug, "label": label}, headers=admin_headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def member_id_of(earned: dict) -> int:
    return int(earned["member_id"])


def save_preferences(member, *, merchants=False, coalition=False, interests=()):
    page = member.get("/account")
    form = {"csrf_token": csrf_of(page), "interests": list(interests)}
    if merchants:
        form["offers_merchants"] = "1"
    if coalition:
        form["offers_coalition"] = "1"
    return member.post("/account/preferences", data=form)


def test_the_operator_manages_the_interests_and_every_key_reads_them(client, admin_headers, merchant):
    rock = add_interest(client, admin_headers)

    again = {"slug": rock["slug"], "label": "Again"}
    assert client.post("/v1/interests", json=again, headers=admin_headers).status_code == 409
    assert (
        client.post("/v1/interests", json={"slug": "x", "label": "X"}, headers=merchant["headers"]).status_code == 401
    )
    assert (
        client.post("/v1/interests", json={"slug": "Not valid", "label": "X"}, headers=admin_headers).status_code == 422
    )
    listed = client.get("/v1/interests", headers=merchant["headers"]).get_json()
    assert {"slug": rock["slug"], "label": "Rock music"}.items() <= next(
        i for i in listed if i["slug"] == rock["slug"]
    ).items()

    retired = client.post(f"/v1/interests/{rock['slug']}/retire", headers=admin_headers).get_json()

    assert retired["retired_at"] is not None
    assert rock["slug"] not in {i["slug"] for i in client.get("/v1/interests", headers=admin_headers).get_json()}
    everything = client.get("/v1/interests", query_string={"retired": "true"}, headers=admin_headers).get_json()
    assert rock["slug"] in {i["slug"] for i in everything}
    assert client.post("/v1/interests/no-such-thing/retire", headers=admin_headers).status_code == 404


def test_a_member_chooses_interests_and_consents_and_the_export_keeps_each_change(
    app, client, engine, merchant, admin_headers
):
    rock = add_interest(client, admin_headers)
    _, earned, member = member_with_points(app, engine, client, merchant)

    assert rock["label"] in member.get("/account").get_data(as_text=True)
    assert save_preferences(member, merchants=True, interests=[rock["slug"]]).status_code == 303
    assert save_preferences(member, merchants=True, coalition=True, interests=[rock["slug"]]).status_code == 303
    assert save_preferences(member, coalition=True).status_code == 303

    exported = member.get("/account/export").get_json()
    assert exported["interests"] == []
    assert {p: c["granted"] for p, c in exported["consents"].items()} == {MERCHANTS: False, COALITION: True}
    history = [(e["purpose"], e["granted"], e["source"]) for e in exported["consent_history"]]
    assert history == [
        (MERCHANTS, True, "account-page"),
        (COALITION, True, "account-page"),
        (MERCHANTS, False, "account-page"),
    ]
    assert all(e["at"] for e in exported["consent_history"])


def test_an_interest_not_in_the_list_is_refused_and_changes_nothing(app, client, engine, merchant):
    _, earned, member = member_with_points(app, engine, client, merchant)

    refused = save_preferences(member, merchants=True, interests=["not-in-the-list"])

    assert refused.status_code == 422
    assert "Choose interests from the list." in refused.get_data(as_text=True)
    assert member.get("/account/export").get_json()["consents"][MERCHANTS]["granted"] is False


def _offer_mail(app, member_id: int, email: str, purpose: str) -> bool:
    with app.app_context():
        from app import unit_of_work

        with unit_of_work.unit() as uow:
            sent = audience.send_with_consent(
                uow.session,
                member_id=member_id,
                email=email,
                purpose=purpose,
                subject="Festival weekend",
                body="Double points on rock records.",
                html="<p>Double points on rock records.</p>",
                now=uow.now,
            )
            uow.commit(None)
    return sent


def _mails_to(engine, email: str) -> list[OutboxMail]:
    with Session(engine) as s:
        return list(s.execute(select(OutboxMail).where(OutboxMail.recipient == email)).scalars())


def test_no_offer_mail_leaves_without_the_purposes_consent(app, client, engine, merchant):
    email, earned, member = member_with_points(app, engine, client, merchant)
    before = len(_mails_to(engine, email))

    assert _offer_mail(app, member_id_of(earned), email, MERCHANTS) is False
    save_preferences(member, coalition=True)
    assert _offer_mail(app, member_id_of(earned), email, MERCHANTS) is False

    assert len(_mails_to(engine, email)) == before
    assert _offer_mail(app, member_id_of(earned), email, COALITION) is True
    assert len(_mails_to(engine, email)) == before + 1


def test_an_offer_mail_carries_one_click_unsubscribe_and_its_link_works_in_one_click(app, client, engine, merchant):
    email, earned, member = member_with_points(app, engine, client, merchant)
    save_preferences(member, merchants=True)
    assert _offer_mail(app, member_id_of(earned), email, MERCHANTS) is True
    [mail] = [m for m in _mails_to(engine, email) if m.subject == "Festival weekend"]
    headers = json.loads(mail.headers)
    link = UNSUBSCRIBE.search(mail.body).group(1)
    assert headers == {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert link in mail.html
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    browser = web_client(app)  # not signed in: the link alone is enough

    page = browser.get(path)
    assert page.status_code == 200 and "offers from the shops I bought from" in page.get_data(as_text=True)
    assert member.get("/account/export").get_json()["consents"][MERCHANTS]["granted"] is True  # opening changes nothing
    done = browser.post(path)

    assert done.status_code == 200 and 'data-testid="unsubscribed"' in done.get_data(as_text=True)
    exported = member.get("/account/export").get_json()
    assert exported["consents"][MERCHANTS]["granted"] is False
    assert exported["consent_history"][-1] | {"at": None} == {
        "purpose": MERCHANTS,
        "granted": False,
        "source": "unsubscribe-link",
        "at": None,
    }
    assert _offer_mail(app, member_id_of(earned), email, MERCHANTS) is False


def test_a_mail_clients_one_click_post_unsubscribes_without_a_page(app, client, engine, merchant):
    email, earned, member = member_with_points(app, engine, client, merchant)
    save_preferences(member, coalition=True)
    with app.test_request_context():
        url = audience.unsubscribe_url(member_id_of(earned), COALITION)
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]

    answer = web_client(app).post(path, data={"List-Unsubscribe": "One-Click"})

    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    exported = member.get("/account/export").get_json()
    assert exported["consents"][COALITION]["granted"] is False
    assert exported["consent_history"][-1]["source"] == "list-unsubscribe"


def test_a_forged_or_mangled_unsubscribe_link_is_an_html_404_and_changes_nothing(app, client, engine, merchant):
    email, earned, member = member_with_points(app, engine, client, merchant)
    save_preferences(member, merchants=True)
    with app.test_request_context():
        token = audience.unsubscribe_url(member_id_of(earned), MERCHANTS).rsplit("/", 1)[1]
    browser = web_client(app)

    for bad in (token[:-2] + "xx", "nonsense", "a" * 500):
        for answer in (browser.get(f"/unsubscribe/{bad}"), browser.post(f"/unsubscribe/{bad}")):
            assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert member.get("/account/export").get_json()["consents"][MERCHANTS]["granted"] is True


def test_deleting_the_account_withdraws_every_consent_and_forgets_the_interests(
    app, client, engine, merchant, admin_headers
):
    rock = add_interest(client, admin_headers)
    email, earned, member = member_with_points(app, engine, client, merchant)
    save_preferences(member, merchants=True, coalition=True, interests=[rock["slug"]])

    member.post("/account/delete", data={"csrf_token": csrf_of(member.get("/account")), "confirm": "DELETE"})

    with Session(engine) as s:
        consents = s.execute(select(Consent).where(Consent.member_id == member_id_of(earned))).scalars().all()
        assert {c.purpose: c.granted for c in consents} == {MERCHANTS: False, COALITION: False}
        assert audience.interests_of(s, member_id_of(earned)) == []
        assert audience.consenting(s, [member_id_of(earned)], MERCHANTS) == set()


def test_the_earlier_single_offers_choice_becomes_consent_to_both_purposes(databases):
    url = databases.new(migrate=False)
    upgrade(url, "0014")
    app = make_app(url)
    from app.extensions import db

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO members (id, email, created_at) VALUES (1, 'a@x.example', '2026-01-01 00:00:00+00')")
            )
            conn.execute(
                text("INSERT INTO members (id, email, created_at) VALUES (2, 'b@x.example', '2026-01-01 00:00:00+00')")
            )
            conn.execute(
                text(
                    "INSERT INTO member_profiles (member_id, offers_consent, offers_consent_at, session_epoch) "
                    "VALUES (1, true, '2026-02-01 00:00:00+00', 0), (2, false, NULL, 0)"
                )
            )
        db.engine.dispose()
    upgrade(url)
    with app.app_context():
        with Session(db.engine) as s:
            assert audience.consenting(s, [1, 2], MERCHANTS) == {1}
            assert audience.consenting(s, [1, 2], COALITION) == {1}
            [event, _] = audience.consent_history(s, 1)
            assert (event.source, event.at.isoformat()) == ("earlier-choice", "2026-02-01T00:00:00+00:00")
        db.engine.dispose()
