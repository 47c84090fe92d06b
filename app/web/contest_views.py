"""The members' contest pages: the open contests they may enter, a contest's page with
its Enter button (a POST with the CSRF token), and after the draw its result: the
winners, the seed, the hash of the entry list and how to check it all."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for

from app import unit_of_work
from app.boutique import shop
from app.boutique.models import CatalogItem
from app.contests import services as contests
from app.contests.models import BOUTIQUE, Contest
from app.errors import PROBLEMS, DomainError
from app.extensions import db
from app.web.views import bp, error_page, member_required


@bp.get("/contests")
@member_required
def contests_page():
    session, now = db.session, unit_of_work.current().now
    entered = contests.entered_by(session, g.member.id)
    return render_template(
        "contests.html",
        open_contests=contests.open_to(session, g.member.id, now),
        entered=[contests.view(session, c, now) for c in entered],
    )


@bp.get("/contests/<id:contest_id>")
@member_required
def contest_page(contest_id: int):
    session, now = db.session, unit_of_work.current().now
    contest = session.get(Contest, contest_id)
    if contest is None:
        abort(404)
    entry_id = contests.entry_id_of(session, contest.id, g.member.id)
    entered = entry_id is not None
    refusal = contests.refusal(session, contest, g.member.id)
    if refusal is not None and not entered:
        abort(404)  # a contest for a group the member is not in is none of their business
    contests.view(session, contest, now)
    item = session.get(CatalogItem, contest.item_id)
    return render_template(
        "contest.html",
        contest=contest,
        item=item,
        supplier=shop.merchant_names(session, {item.merchant_id}).get(item.merchant_id, ""),
        entered=entered,
        won=entered and contest.winners is not None and entry_id in contest.winners,
        entry_id=entry_id,
    )


@bp.post("/contests/<id:contest_id>/enter")
@member_required
def contest_enter(contest_id: int):
    uow = unit_of_work.current()
    try:
        _entry, new = contests.enter(uow, contest_id, g.member.id, source=BOUTIQUE)
    except DomainError as error:
        uow.discard()
        return error_page(PROBLEMS[error.problem].status, "You cannot enter", error.detail)
    uow.commit(None)
    flash("You are entered in the draw." if new else "You had entered already.")
    return redirect(url_for("web.contest_page", contest_id=contest_id), code=303)
