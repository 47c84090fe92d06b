"""The members' web pages: sign-in by emailed link, catalog, redeem, orders,
points and account. Server-rendered; every POST form carries a CSRF token."""

from __future__ import annotations

import json
import secrets
from functools import wraps
from urllib.parse import urlsplit

import marshmallow as ma
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect

import ledger
from app import unit_of_work
from app.audience import services as audience
from app.audience.models import COALITION, MERCHANTS, PURPOSE_TEXT
from app.boutique import services as boutique
from app.boutique import shop
from app.constants import CATALOG_PAGE_SIZE, MOVEMENTS_PAGE_SIZE, OUTBOX_SHOWN_MAX
from app.errors import PROBLEMS, DomainError
from app.extensions import db
from app.mail import outbox
from app.members import account as member_account
from app.members import history
from app.members import sign_in as links
from app.programme import tiers
from app.unit_of_work import SAFE_METHODS, IdempotencyKeyReused
from app.web.schemas import CatalogArgs, DeleteForm, MovementArgs, PreferencesForm, RedeemForm, SignInForm
from app.web.sessions import MemberSessionInterface

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/boutique")
csrf = CSRFProtect()
ORDERS_SHOWN_MAX = 100
REDEEM_KEY_BYTES = 24
# Endpoints whose POST is authorized by a signed token in the address, not by a session.
CSRF_EXEMPT: set[str] = set()
REDEEM_FORM_REUSED = "This form was already sent for another reward or address: check your orders, then confirm again."


def register(app: Flask) -> None:
    app.session_interface = MemberSessionInterface()
    csrf.init_app(app)
    app.register_blueprint(bp)


@bp.before_request
def _load_member():
    if request.method not in SAFE_METHODS and request.endpoint not in CSRF_EXEMPT:
        csrf.protect()
    g.member = None
    member_id = session.get("member_id")
    if member_id is not None:
        g.member = links.session_member(db.session, member_id, session.get("epoch"))
        if g.member is None:
            session.clear()


@bp.context_processor
def _page_context():
    points = history.points(db.session, g.member.id) if g.get("member") is not None else None
    return {"member": g.get("member"), "points": points}


def member_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.member is None:
            return redirect(url_for("web.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def _parse(schema: ma.Schema, data) -> dict:
    try:
        return schema.load(data)
    except ma.ValidationError as error:
        raise FormError(error.messages) from error


class FormError(Exception):
    def __init__(self, messages: dict):
        super().__init__("form not valid")
        self.messages = messages


# --- problem types ----------------------------------------------------------------


@bp.get("/problems/<name>")
def problem_type(name: str):
    """What a problem ``type`` of the API means: every ``/problems/<name>`` resolves."""
    found = PROBLEMS.get(name)
    if found is None:
        abort(404)
    return render_template("problem.html", name=name, problem=found)


# --- catalog ----------------------------------------------------------------------


@bp.get("/")
def catalog():
    args = _parse(CatalogArgs(), request.args)
    points_max = None
    if args["affordable"] and g.member is not None:
        points_max = history.points(db.session, g.member.id).available
    page = shop.catalog(
        db.session,
        q=args["q"].strip(),
        category=args["category"] or None,
        points_max=points_max,
        limit=CATALOG_PAGE_SIZE,
        cursor=args["cursor"],
        now=unit_of_work.current().now,
    )
    return render_template(
        "catalog.html", page=page, args=args, categories=shop.categories(db.session, now=unit_of_work.current().now)
    )


@bp.get("/items/<id:item_id>")
def item(item_id: int):
    return render_template("item.html", shelf=shop.item(db.session, item_id, now=unit_of_work.current().now))


@bp.get("/items/<id:item_id>/redeem")
@member_required
def redeem_confirm(item_id: int):
    shelf = shop.item(db.session, item_id, now=unit_of_work.current().now)
    return render_template("redeem.html", shelf=shelf, key=secrets.token_urlsafe(REDEEM_KEY_BYTES), form={}, errors={})


@bp.post("/items/<id:item_id>/redeem")
@member_required
def redeem(item_id: int):
    form = request.form.to_dict()
    try:
        data = _parse(RedeemForm(), form)
        redemption = boutique.place_redemption(
            unit_of_work.current(),
            member_id=g.member.id,
            item_id=item_id,
            timeout_s=current_app.config["REDEMPTION_HOLD_TIMEOUT_S"],
            **data,
        )
    except FormError as error:
        return _redeem_again(item_id, form, error.messages, 422)
    except ledger.InsufficientPoints as error:
        message = f"Not enough points: this reward needs {error.wanted}, you have {error.available} available."
        return _redeem_again(item_id, form, {"_": [message]}, 422)
    except IdempotencyKeyReused:
        # The form was sent before for another reward or address: a fresh form, so that
        # confirming again is a new, deliberate redemption.
        form.pop("idempotency_key", None)
        return _redeem_again(item_id, form, {"_": [REDEEM_FORM_REUSED]}, 409)
    except DomainError as error:
        return _redeem_again(item_id, form, {"_": [error.detail]}, PROBLEMS[error.problem].status)
    if redemption["kind"] == "voucher":
        flash(f"Done: your voucher code for {redemption['title']} is in your orders.")
    else:
        flash(f"Done: {redemption['title']} is ordered; the points stay held until it is sent.")
    return redirect(url_for("web.orders", _anchor=f"r{redemption['id']}"), code=303)


def _redeem_again(item_id: int, form: dict, errors: dict, status: int):
    unit_of_work.current().discard()
    try:
        shelf = shop.item(db.session, item_id, now=unit_of_work.current().now)
    except DomainError:
        return render_template("error.html", title="Not available", detail=" ".join(errors.get("_", []))), status
    key = form.get("idempotency_key") or secrets.token_urlsafe(REDEEM_KEY_BYTES)
    return render_template("redeem.html", shelf=shelf, key=key, form=form, errors=errors), status


# --- the member's pages -----------------------------------------------------------


@bp.get("/orders")
@member_required
def orders():
    return render_template("orders.html", orders=boutique.of_member(db.session, g.member.id, limit=ORDERS_SHOWN_MAX))


@bp.get("/points")
@member_required
def points():
    args = _parse(MovementArgs(), request.args)
    before = int(args["before"]) if args["before"] else None
    moves, older = history.movements(db.session, g.member.id, before=before, limit=MOVEMENTS_PAGE_SIZE)
    return render_template(
        "points.html",
        movements=moves,
        older=older,
        expiries=history.next_expiries(db.session, g.member.id),
        arrivals=history.arrivals(db.session, g.member.id),
        tier=tiers.view(db.session, g.member.id, ledger.utcnow()),
    )


@bp.get("/account")
@member_required
def account():
    return _account_page({}, 200)


def _account_page(errors: dict, status: int):
    return (
        render_template(
            "account.html",
            errors=errors,
            consents=audience.consents_of(db.session, g.member.id),
            purposes=PURPOSE_TEXT,
            interests=audience.interests(db.session),
            chosen=set(audience.interests_of(db.session, g.member.id)),
        ),
        status,
    )


@bp.post("/account/preferences")
@member_required
def preferences():
    try:
        data = _parse(PreferencesForm(), PreferencesForm.fields_of(request.form))
        consents = {MERCHANTS: data["offers_merchants"], COALITION: data["offers_coalition"]}
        member_account.set_preferences(unit_of_work.current(), g.member.id, consents, data["interests"])
    except FormError as error:
        return _account_page(error.messages, 422)
    except DomainError as error:
        unit_of_work.current().discard()
        return _account_page(getattr(error, "errors", None) or {"_": [error.detail]}, PROBLEMS[error.problem].status)
    flash("Your choices are saved.")
    return redirect(url_for("web.account"), code=303)


@bp.get("/account/export")
@member_required
def export():
    body = json.dumps(member_account.export(db.session, g.member), indent=2, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-boutique-data.json"'},
    )


@bp.post("/account/delete")
@member_required
def delete_account():
    try:
        _parse(DeleteForm(), request.form)
    except FormError as error:
        return render_template("account.html", errors=error.messages), 422
    member_account.delete_account(unit_of_work.current(), g.member.id)
    session.clear()
    flash("Your account is deleted: your personal data is erased.")
    return redirect(url_for("web.catalog"), code=303)


# --- sign-in ----------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("web.catalog")
    return target


@bp.get("/signin")
def sign_in():
    return render_template("signin.html", next=_safe_next(request.args.get("next")), errors={}, form={})


@bp.post("/signin")
def sign_in_request():
    next_url = _safe_next(request.form.get("next"))
    try:
        data = _parse(SignInForm(), request.form)
    except FormError as error:
        return render_template("signin.html", next=next_url, errors=error.messages, form=request.form), 422
    links.request_link(
        unit_of_work.current(),
        email=data["email"],
        client=(request.remote_addr or "unknown")[:64],
        secret_key=current_app.config["SECRET_KEY"],
        link_url=lambda token: url_for("web.sign_in_link", token=token, next=next_url, _external=True),
    )
    return render_template("signin_sent.html", email=data["email"])


@bp.get("/signin/link")
def sign_in_link():
    # Mail scanners open links: only the button below (a POST) signs in.
    token = request.args.get("token", "")[:500]
    return render_template("signin_link.html", token=token, next=_safe_next(request.args.get("next")))


@bp.post("/signin/link")
def sign_in_use():
    member_id, epoch = links.use_link(
        unit_of_work.current(), token=request.form.get("token", "")[:500], secret_key=current_app.config["SECRET_KEY"]
    )
    session.clear()
    session.permanent = True
    session["member_id"] = member_id
    session["epoch"] = epoch
    flash("You are signed in.")
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/signout")
def sign_out():
    if g.member is not None:
        links.end_sessions(unit_of_work.current(), g.member.id)
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("web.catalog"), code=303)


@bp.get("/dev/outbox")
def dev_outbox():
    """Development only: the mails that would have been sent."""
    if current_app.config["LOYALTY_ENV"] == "production":
        abort(404)
    return render_template("outbox.html", mails=outbox(db.session, limit=OUTBOX_SHOWN_MAX))


# --- errors as pages, never JSON ------------------------------------------------


def error_page(status: int, title: str, detail: str) -> Response:
    """An error as an HTML page: every error outside /v1 is answered with one."""
    return Response(render_template("error.html", title=title, detail=detail), status=status, mimetype="text/html")


@bp.errorhandler(FormError)
def _form_error(error: FormError):
    fields = "; ".join(f"{name}: {' '.join(map(str, msgs))}" for name, msgs in error.messages.items())
    return error_page(400, "Not a valid request", fields)


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError):
    return error_page(400, "This form has expired", "Go back, reload the page and try again.")
