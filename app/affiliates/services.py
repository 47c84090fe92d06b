"""Affiliates and their keys (operator), programs (merchant), applications and links.

The mutations work in the caller's unit of work and leave the commit to it
(the view's ``idempotent``, which stores the answer with the same commit)."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.affiliates.errors import (
    AffiliateNotFound,
    AlreadyApplied,
    ApplicationNotFound,
    LandingUrlRefused,
    LinkNotFound,
    LinkProgramNotFound,
    NotApproved,
    OpenProgramNotFound,
    ProgramNotFound,
    ProgramPaused,
)
from app.affiliates.models import (
    Affiliate,
    AffiliateIdentity,
    Application,
    Link,
    Program,
)
from app.affiliates.urls import BadLandingUrl, check_landing_url
from app.constants import ACTIVE_KEYS_PER_AFFILIATE_MAX, LINK_CODE_BYTES
from app.identity.keys import KeyRing
from app.identity.models import AffiliateKey
from app.merchants.models import MerchantDomain, MerchantTerms
from app.pagination import Page, paginate
from app.unit_of_work import UnitOfWork

# ----------------------------------------------------------------- affiliates and keys


def create_affiliate(uow: UnitOfWork, data: dict) -> tuple[Affiliate, AffiliateKey, str]:
    """Create an affiliate with its first API key; returns the key in clear, once."""
    session, now = uow.session, uow.now
    affiliate = Affiliate(name=data["name"], email=data["email"], website=data["website"], active=True, created_at=now)
    session.add(affiliate)
    session.flush()
    key, clear = KEYS.add(session, affiliate.id, now)
    return affiliate, key, clear


def list_affiliates(session: Session, *, limit: int, cursor: str | None) -> Page:
    return paginate(session, select(Affiliate), Affiliate.id, limit=limit, cursor=cursor)


def get_affiliate(session: Session, affiliate_id: int) -> Affiliate:
    affiliate = session.get(Affiliate, affiliate_id)
    if affiliate is None:
        raise AffiliateNotFound(affiliate_id)
    return affiliate


def update_affiliate(uow: UnitOfWork, affiliate_id: int, data: dict) -> Affiliate:
    affiliate = get_affiliate(uow.session, affiliate_id)
    affiliate.active = data["active"]
    uow.session.flush()
    return affiliate


# ----------------------------------------------------------------- programs


def create_program(uow: UnitOfWork, merchant: MerchantTerms, data: dict) -> Program:
    rule = data["commission"]
    program = Program(
        merchant_id=merchant.id,
        name=data["name"],
        commission_type=rule["type"],
        commission_bps=rule.get("basis_points"),
        commission_cents=rule.get("amount_cents"),
        lead_amount_cents=data["lead_amount_cents"],
        attribution_window_days=data["attribution_window_days"],
        hold_days=data["hold_days"],
        network_fee_bps=data["network_fee_bps"],
        cap_cents=data["cap_cents"],
        auto_approve_affiliates=data["auto_approve_affiliates"],
        active=True,
        created_at=uow.now,
    )
    uow.session.add(program)
    uow.session.flush()
    return program


def list_programs(session: Session, merchant: MerchantTerms, *, limit: int, cursor: str | None) -> Page:
    query = select(Program).where(Program.merchant_id == merchant.id)
    return paginate(session, query, Program.id, limit=limit, cursor=cursor)


def get_program(session: Session, merchant: MerchantTerms, program_id: int) -> Program:
    program = session.get(Program, program_id)
    if program is None or program.merchant_id != merchant.id:
        raise ProgramNotFound(program_id)
    return program


def update_program(uow: UnitOfWork, merchant: MerchantTerms, program_id: int, data: dict) -> Program:
    program = get_program(uow.session, merchant, program_id)
    for field, value in data.items():
        setattr(program, field, value)
    uow.session.flush()
    return program


# ----------------------------------------------------------------- applications


def apply(uow: UnitOfWork, affiliate: AffiliateIdentity, program_id: int) -> Application:
    """Ask to promote a program; approved at once when the program auto-approves."""
    session, now = uow.session, uow.now
    program = session.get(Program, program_id)
    if program is None or not program.active:
        raise OpenProgramNotFound(program_id)
    existing = session.execute(
        select(Application).where(Application.program_id == program_id, Application.affiliate_id == affiliate.id)
    ).scalar_one_or_none()
    if existing is not None:
        raise AlreadyApplied(program_id, existing.status)
    auto = program.auto_approve_affiliates
    application = Application(
        program_id=program_id,
        affiliate_id=affiliate.id,
        status="approved" if auto else "pending",
        created_at=now,
        decided_at=now if auto else None,
    )
    session.add(application)
    session.flush()
    return _with_affiliate(session, application)


def list_applications(
    session: Session,
    merchant: MerchantTerms,
    program_id: int,
    *,
    status: str | None = None,
    limit: int,
    cursor: str | None,
) -> Page:
    get_program(session, merchant, program_id)
    query = select(Application).where(Application.program_id == program_id)
    if status is not None:
        query = query.where(Application.status == status)
    page = paginate(session, query, Application.id, limit=limit, cursor=cursor)
    return Page([_with_affiliate(session, a) for a in page.data], page.next_cursor)


def affiliate_applications(session: Session, affiliate: AffiliateIdentity, *, limit: int, cursor: str | None) -> Page:
    query = select(Application).where(Application.affiliate_id == affiliate.id)
    page = paginate(session, query, Application.id, limit=limit, cursor=cursor)
    return Page([_with_affiliate(session, a) for a in page.data], page.next_cursor)


def decide_application(
    uow: UnitOfWork, merchant: MerchantTerms, program_id: int, application_id: int, status: str
) -> Application:
    session = uow.session
    get_program(session, merchant, program_id)
    application = session.get(Application, application_id)
    if application is None or application.program_id != program_id:
        raise ApplicationNotFound(program_id, application_id)
    application.status = status
    application.decided_at = uow.now
    session.flush()
    return _with_affiliate(session, application)


def _with_affiliate(session: Session, application: Application) -> Application:
    affiliate = session.get(Affiliate, application.affiliate_id)
    application.affiliate_name = affiliate.name
    application.affiliate_website = affiliate.website
    return application


# ----------------------------------------------------------------- links


def create_link(uow: UnitOfWork, affiliate: AffiliateIdentity, data: dict) -> Link:
    session = uow.session
    program = session.get(Program, data["program_id"])
    if program is None:
        raise LinkProgramNotFound(data["program_id"])
    approved = session.execute(
        select(Application.id).where(
            Application.program_id == program.id,
            Application.affiliate_id == affiliate.id,
            Application.status == "approved",
        )
    ).first()
    if approved is None:
        raise NotApproved(program.id)
    if not program.active:
        raise ProgramPaused(program.id)
    domains = (
        session.execute(select(MerchantDomain.domain).where(MerchantDomain.merchant_id == program.merchant_id))
        .scalars()
        .all()
    )
    try:
        landing_url = check_landing_url(data["landing_url"], list(domains))
    except BadLandingUrl as error:
        raise LandingUrlRefused(str(error)) from error
    link = Link(
        code=secrets.token_urlsafe(LINK_CODE_BYTES),
        affiliate_id=affiliate.id,
        program_id=program.id,
        landing_url=landing_url,
        active=True,
        created_at=uow.now,
    )
    session.add(link)
    session.flush()
    return link


def list_links(session: Session, affiliate: AffiliateIdentity, *, limit: int, cursor: str | None) -> Page:
    query = select(Link).where(Link.affiliate_id == affiliate.id)
    return paginate(session, query, Link.id, limit=limit, cursor=cursor)


def get_link(session: Session, affiliate: AffiliateIdentity, link_id: int) -> Link:
    link = session.get(Link, link_id)
    if link is None or link.affiliate_id != affiliate.id:
        raise LinkNotFound(link_id)
    return link


def update_link(uow: UnitOfWork, affiliate: AffiliateIdentity, link_id: int, data: dict) -> Link:
    link = get_link(uow.session, affiliate, link_id)
    link.active = data["active"]
    uow.session.flush()
    return link


KEYS = KeyRing(AffiliateKey, "affiliate_id", "affiliate", ACTIVE_KEYS_PER_AFFILIATE_MAX, get_affiliate)
