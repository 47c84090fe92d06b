"""Unsubscribe from a mail in one click: the link in every offer or contest mail
(``/unsubscribe/<token>``) and the same address as its ``List-Unsubscribe`` header.

The signed token names the member and the purpose the mail was sent under. The
link's page has one button; a mail client's one-click request (RFC 8058: a POST
with ``List-Unsubscribe=One-Click``) withdraws the consent without a page. Both
are POSTs without a CSRF token: the token in the address is the authority, and a
GET (a link scanner opening the mail) changes nothing.
"""

from __future__ import annotations

from flask import Response, render_template, request

from app import unit_of_work
from app.audience import services as audience
from app.audience.errors import InvalidUnsubscribeLink
from app.audience.models import ONE_CLICK, PURPOSE_TEXT, UNSUBSCRIBE_LINK
from app.extensions import db
from app.members.models import Member
from app.web.views import CSRF_EXEMPT, bp

UNSUBSCRIBE_TOKEN_LENGTH_MAX = 200


def _read(token: str) -> tuple[int, str]:
    if len(token) > UNSUBSCRIBE_TOKEN_LENGTH_MAX:
        raise InvalidUnsubscribeLink()
    member_id, purpose = audience.read_unsubscribe_token(token)
    if db.session.get(Member, member_id) is None:
        raise InvalidUnsubscribeLink()
    return member_id, purpose


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):
    _member_id, purpose = _read(token)
    return render_template("unsubscribe.html", token=token, purpose=PURPOSE_TEXT[purpose], done=False)


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str):
    member_id, purpose = _read(token)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    uow = unit_of_work.current()
    audience.set_consent(
        uow.session, member_id, purpose, False, source=ONE_CLICK if one_click else UNSUBSCRIBE_LINK, now=uow.now
    )
    uow.commit(None)
    if one_click:
        return Response("Unsubscribed.\n", mimetype="text/plain")
    return render_template("unsubscribe.html", token=token, purpose=PURPOSE_TEXT[purpose], done=True)


CSRF_EXEMPT.add("web.unsubscribe")
