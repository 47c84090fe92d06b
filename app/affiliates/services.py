"""Affiliates and their keys (operator), programs (merchant), applications and links."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.affiliates.models import (
    Affiliate,
    AffiliateIdentity,
    AffiliateKey,
    Application,
    Link,
    Program,
)
from app.affiliates.urls import BadLandingUrl, check_landing_url
from app.constants import ACTIVE_KEYS_PER_AFFILIATE_MAX, LINK_CODE_BYTES
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.keys import KeyRing
from app.merchants.models import MerchantDomain, MerchantTerms
from app.pagination import Page, paginate

# ----------------------------------------------------------------- affiliates and keys


def create_affiliate(session: Session, data: dict, *, now: datetime) -> tuple[Affiliate, AffiliateKey, str]:
    """Create an affiliate with its first API key; returns the key in clear, once."""
    affiliate = Affiliate(name=data["name"], email=data["email"], website=data["website"], active=True, created_at=now)
    session.add(affiliate)
    session.flush()
    key, clear = KEYS.add(session, affiliate.id, now)
    session.commit()
    return affiliate, key, clear


def list_affiliates(session: Session, *, limit: int, cursor: str | None) -> Page:
    return paginate(session, select(Affiliate), Affiliate.id, limit=limit, cursor=cursor)


def get_affiliate(session: Session, affiliate_id: int) -> Affiliate:
    affiliate = session.get(Affiliate, affiliate_id)
    if affiliate is None:
        raise NotFound(f"No affiliate {affiliate_id}.")
    return affiliate


def update_affiliate(session: Session, affiliate_id: int, data: dict) -> Affiliate:
    affiliate = get_affiliate(session, affiliate_id)
    affiliate.active = data["active"]
    session.commit()
    return affiliate


# ----------------------------------------------------------------- programs


def create_program(session: Session, merchant: MerchantTerms, data: dict, *, now: datetime) -> Program:
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
        created_at=now,
    )
    session.add(program)
    session.commit()
    return program


def list_programs(session: Session, merchant: MerchantTerms, *, limit: int, cursor: str | None) -> Page:
    query = select(Program).where(Program.merchant_id == merchant.id)
    return paginate(session, query, Program.id, limit=limit, cursor=cursor)


def get_program(session: Session, merchant: MerchantTerms, program_id: int) -> Program:
    program = session.get(Program, program_id)
    if program is None or program.merchant_id != merchant.id:
        raise NotFound(f"No program {program_id} of yours.")
    return program


def update_program(session: Session, merchant: MerchantTerms, program_id: int, data: dict) -> Program:
    program = get_program(session, merchant, program_id)
    for field, value in data.items():
        setattr(program, field, value)
    session.commit()
    return program


# ----------------------------------------------------------------- applications


def apply(session: Session, affiliate: AffiliateIdentity, program_id: int, *, now: datetime) -> Application:
    """Ask to promote a program; approved at once when the program auto-approves."""
    program = session.get(Program, program_id)
    if program is None or not program.active:
        raise NotFound(f"No open program {program_id}.")
    existing = session.execute(
        select(Application).where(Application.program_id == program_id, Application.affiliate_id == affiliate.id)
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict(f"You already applied to program {program_id} (status {existing.status}).")
    auto = program.auto_approve_affiliates
    application = Application(
        program_id=program_id,
        affiliate_id=affiliate.id,
        status="approved" if auto else "pending",
        created_at=now,
        decided_at=now if auto else None,
    )
    session.add(application)
    session.commit()
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
    session: Session, merchant: MerchantTerms, program_id: int, application_id: int, status: str, *, now: datetime
) -> Application:
    get_program(session, merchant, program_id)
    application = session.get(Application, application_id)
    if application is None or application.program_id != program_id:
        raise NotFound(f"No application {application_id} to program {program_id}.")
    application.status = status
    application.decided_at = now
    session.commit()
    return _with_affiliate(session, application)


def _with_affiliate(session: Session, application: Application) -> Application:
    affiliate = session.get(Affiliate, application.affiliate_id)
    application.affiliate_name = affiliate.name
    application.affiliate_website = affiliate.website
    return application


# ----------------------------------------------------------------- links


def create_link(session: Session, affiliate: AffiliateIdentity, data: dict, *, now: datetime) -> Link:
    program = session.get(Program, data["program_id"])
    if program is None:
        raise NotFound(f"No program {data['program_id']}.")
    approved = session.execute(
        select(Application.id).where(
            Application.program_id == program.id,
            Application.affiliate_id == affiliate.id,
            Application.status == "approved",
        )
    ).first()
    if approved is None:
        raise Forbidden(f"You are not approved for program {program.id}; apply first.")
    if not program.active:
        raise Invalid(f"Program {program.id} is paused.", errors={"program_id": ["The program is paused."]})
    domains = (
        session.execute(select(MerchantDomain.domain).where(MerchantDomain.merchant_id == program.merchant_id))
        .scalars()
        .all()
    )
    try:
        landing_url = check_landing_url(data["landing_url"], list(domains))
    except BadLandingUrl as error:
        raise Invalid("The landing URL is refused.", errors={"landing_url": [str(error)]}) from error
    link = Link(
        code=secrets.token_urlsafe(LINK_CODE_BYTES),
        affiliate_id=affiliate.id,
        program_id=program.id,
        landing_url=landing_url,
        active=True,
        created_at=now,
    )
    session.add(link)
    session.commit()
    return link


def list_links(session: Session, affiliate: AffiliateIdentity, *, limit: int, cursor: str | None) -> Page:
    query = select(Link).where(Link.affiliate_id == affiliate.id)
    return paginate(session, query, Link.id, limit=limit, cursor=cursor)


def get_link(session: Session, affiliate: AffiliateIdentity, link_id: int) -> Link:
    link = session.get(Link, link_id)
    if link is None or link.affiliate_id != affiliate.id:
        raise NotFound(f"No link {link_id} of yours.")
    return link


def update_link(session: Session, affiliate: AffiliateIdentity, link_id: int, data: dict) -> Link:
    link = get_link(session, affiliate, link_id)
    link.active = data["active"]
    session.commit()
    return link


KEYS = KeyRing(AffiliateKey, "affiliate_id", "affiliate", ACTIVE_KEYS_PER_AFFILIATE_MAX, get_affiliate)
