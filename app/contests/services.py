"""Contests: created with a committed seed and their prizes set aside, entered by
eligible members in their window, drawn once by the published function; winners
get their voucher through the boutique's prize redemption (no points)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audience import services as audience
from app.audience.models import COALITION, MERCHANTS
from app.boutique import services as boutique
from app.boutique.errors import OutOfStock
from app.boutique.models import VOUCHER, CatalogItem
from app.contests import draw
from app.contests.errors import (
    ContestNotFound,
    EntriesClosed,
    InvalidContest,
    NotDrawnYet,
    NotEligible,
    NotYourCustomer,
    TooManyContests,
)
from app.contests.models import API, Contest, ContestEntry, ContestWinner
from app.errors import is_unique_violation
from app.identity.callers import Caller
from app.members import services as members
from app.members.models import Member, MerchantMember
from app.pagination import Page, paginate
from app.segments import services as segments
from app.segments.errors import UnknownSegment
from app.unit_of_work import UnitOfWork

WINDOW_MAX = timedelta(days=366)
UNDRAWN_CONTESTS_MAX = 100
SCHEDULED, OPEN, CLOSED, DRAWN = "scheduled", "open", "closed", "drawn"


def status_of(contest: Contest, now: datetime) -> str:
    if contest.drawn_at is not None:
        return DRAWN
    if now < contest.entries_open_at:
        return SCHEDULED
    return OPEN if now < contest.entries_close_at else CLOSED


# -- creating -------------------------------------------------------------------------


def create_contest(uow: UnitOfWork, caller: Caller, data: dict) -> Contest:
    """A contest of the caller: its prizes set aside from the item's stock, its seed
    drawn now and kept secret, only the seed's SHA-256 shown until the draw."""
    session, now = uow.session, uow.now
    opens, closes = data["entries_open_at"], data["entries_close_at"]
    if opens < now:
        raise InvalidContest("entries_open_at", "In the past: the commitment must be published before entries open.")
    if closes <= opens:
        raise InvalidContest("entries_close_at", "Not after entries_open_at.")
    if closes - opens > WINDOW_MAX:
        raise InvalidContest("entries_close_at", f"The window may last at most {WINDOW_MAX.days} days.")
    item = _prize_item(session, caller, int(data["prize"]["item_id"]))
    segment_id = _eligible_segment(session, caller, data["eligibility"])
    undrawn = session.execute(
        select(func.count()).select_from(Contest).where(_owned_by(caller), Contest.drawn_at.is_(None))
    ).scalar_one()
    if undrawn >= UNDRAWN_CONTESTS_MAX:
        raise TooManyContests(UNDRAWN_CONTESTS_MAX)
    if data["winners"] > item.stock:
        raise InvalidContest("winners", f"More than the prize item's stock ({item.stock}): that many are set aside.")
    try:
        boutique.reserve_prize_stock(session, item.id, data["winners"])
    except OutOfStock as error:
        raise InvalidContest("winners", "More than the prize item's stock.") from error
    seed = draw.new_seed()
    contest = Contest(
        merchant_id=caller.merchant_id,
        name=data["name"],
        item_id=item.id,
        winners_count=data["winners"],
        entries_open_at=opens,
        entries_close_at=closes,
        segment_id=segment_id,
        free_entry=segment_id is None,
        seed=seed,
        seed_commitment=draw.commitment(seed),
        created_at=now,
    )
    session.add(contest)
    session.flush()
    return view(session, contest, now)


def _prize_item(session: Session, caller: Caller, item_id: int) -> CatalogItem:
    item = session.get(CatalogItem, item_id)
    if item is None or item.kind != VOUCHER or not (caller.is_operator or item.merchant_id == caller.merchant_id):
        raise InvalidContest("prize", "Not a voucher item of yours.")
    return item


def _eligible_segment(session: Session, caller: Caller, eligibility: dict) -> int | None:
    if eligibility.get("free_entry"):
        return None
    try:
        return segments.owned_segment(session, caller.merchant_id, int(eligibility["segment_id"]))
    except UnknownSegment as error:
        raise InvalidContest("eligibility", "Not a segment of yours.") from error


def _owned_by(caller: Caller):
    if caller.is_operator:
        return Contest.merchant_id.is_(None)
    return Contest.merchant_id == caller.merchant_id


# -- reading --------------------------------------------------------------------------


def view(session: Session, contest: Contest, now: datetime) -> Contest:
    """The contest with what its answer shows: the seed and winners once drawn only."""
    contest.status = status_of(contest, now)
    drawn = contest.drawn_at is not None
    contest.seed_shown = contest.seed if drawn else None
    contest.entries_shown = contest.entries_count if drawn else _count_entries(session, contest.id)
    contest.winners = winners_of(session, contest.id) if drawn else None
    return contest


def _count_entries(session: Session, contest_id: int) -> int:
    query = select(func.count()).select_from(ContestEntry).where(ContestEntry.contest_id == contest_id)
    return session.execute(query).scalar_one()


def winners_of(session: Session, contest_id: int) -> list[str]:
    """The winners' entry ids, in draw order."""
    query = (
        select(ContestEntry.entry_id)
        .join(
            ContestWinner,
            (ContestWinner.contest_id == ContestEntry.contest_id) & (ContestWinner.member_id == ContestEntry.member_id),
        )
        .where(ContestWinner.contest_id == contest_id)
    )
    return list(session.execute(query.order_by(ContestWinner.position)).scalars())


def list_contests(session: Session, caller: Caller, *, limit: int, cursor: str | None, now: datetime) -> Page:
    """The caller's contests (the operator: its own), oldest first."""
    page = paginate(session, select(Contest).where(_owned_by(caller)), Contest.id, limit=limit, cursor=cursor)
    return Page([view(session, c, now) for c in page.data], page.next_cursor)


def readable(session: Session, caller: Caller, contest_id: int) -> Contest:
    """A contest the caller may read: its own; the operator reads every contest."""
    contest = session.get(Contest, contest_id)
    if contest is None or not (caller.is_operator or contest.merchant_id == caller.merchant_id):
        raise ContestNotFound(contest_id)
    return contest


def owned(session: Session, caller: Caller, contest_id: int, *, lock: bool = False) -> Contest:
    query = select(Contest).where(Contest.id == contest_id, _owned_by(caller))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    contest = session.execute(query).scalar_one_or_none()
    if contest is None:
        raise ContestNotFound(contest_id)
    return contest


def entry_list(session: Session, caller: Caller, contest_id: int, *, limit: int, cursor: str | None) -> Page:
    """The entries' ids in draw order (ascending), keyset-paginated."""
    contest = readable(session, caller, contest_id)
    query = select(ContestEntry).where(ContestEntry.contest_id == contest.id)
    if cursor is not None:
        query = query.where(ContestEntry.entry_id > cursor)
    rows = list(session.execute(query.order_by(ContestEntry.entry_id).limit(limit + 1)).scalars())
    page = rows[:limit]
    return Page(page, page[-1].entry_id if len(rows) > limit else None)


# -- entering -------------------------------------------------------------------------


def refusal(session: Session, contest: Contest, member_id: int) -> str | None:
    """Why the member may not enter (None: they may). A segment contest is for existing
    customers: in the segment now, and the owner's customer (the operator's: a
    customer of any merchant). A free-entry contest is open to every member."""
    if contest.free_entry:
        return None
    if contest.segment_id is None or not segments.segments_of(session, member_id, {contest.segment_id}):
        return "This contest is for the members of a group of customers you are not in."
    if contest.merchant_id is not None:
        if not members.is_customer(session, contest.merchant_id, member_id):
            return "This contest is for the shop's existing customers."
    elif session.execute(select(MerchantMember.member_id).where(MerchantMember.member_id == member_id)).first() is None:
        return "This contest is for existing customers of the coalition's shops."
    return None


def enter(uow: UnitOfWork, contest_id: int, member_id: int, *, source: str) -> tuple[ContestEntry, bool]:
    """Enter the member (the caller commits); entering again answers the same entry
    (False: not new). The contest row is share-locked so a draw never misses an
    entry that was let in."""
    session, now = uow.session, uow.now
    contest = session.execute(
        select(Contest)
        .where(Contest.id == contest_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if contest is None:
        raise ContestNotFound(contest_id)
    existing = session.get(ContestEntry, (contest.id, member_id))
    if existing is not None:
        return existing, False
    status = status_of(contest, now)
    if status != OPEN:
        raise EntriesClosed(status)
    reason = refusal(session, contest, member_id)
    if reason is not None:
        raise NotEligible(reason)
    entry = ContestEntry(
        contest_id=contest.id, member_id=member_id, entry_id=draw.new_entry_id(), source=source, created_at=now
    )
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError as error:  # the same member entering twice at once: the first one counts
        if not is_unique_violation(error):
            raise
        return session.get(ContestEntry, (contest.id, member_id), populate_existing=True), False
    return entry, True


def enter_customer(uow: UnitOfWork, caller: Caller, contest_id: int, email: str) -> tuple[ContestEntry, bool]:
    """The owner enters a member by email: a merchant, one of its own customers only."""
    session = uow.session
    contest = owned(session, caller, contest_id)
    member_id = members.find_member(session, email)
    if member_id is None or not (caller.is_operator or members.is_customer(session, caller.merchant_id, member_id)):
        raise NotYourCustomer()
    return enter(uow, contest.id, member_id, source=API)


# -- drawing --------------------------------------------------------------------------


def draw_contest(uow: UnitOfWork, caller: Caller, contest_id: int) -> Contest:
    """Draw once, after entries close: the seed is published with the ordered entries'
    hash and the winners; each winner gets a prize redemption and, with consent, a
    mail. Drawing again answers the same result."""
    session, now = uow.session, uow.now
    contest = owned(session, caller, contest_id, lock=True)
    if contest.drawn_at is None:
        if now < contest.entries_close_at:
            raise NotDrawnYet(contest.entries_close_at.isoformat())
        _draw(uow, contest)
    return view(session, contest, now)


def _draw(uow: UnitOfWork, contest: Contest) -> None:
    session, now = uow.session, uow.now
    members_of = dict(
        session.execute(
            select(ContestEntry.entry_id, ContestEntry.member_id).where(ContestEntry.contest_id == contest.id)
        ).all()
    )
    entries = draw.ordered(list(members_of))
    digest = draw.entries_hash(entries)
    won = [members_of[entry_id] for entry_id in draw.winners(contest.seed, entries, contest.winners_count)]
    for position, member_id in enumerate(won):
        redemption = boutique.give_prize(
            uow, member_id=int(member_id), item_id=contest.item_id, key=f"contest:{contest.id}"
        )
        session.add(
            ContestWinner(
                contest_id=contest.id, position=position, member_id=int(member_id), redemption_id=redemption.id
            )
        )
    if len(won) < contest.winners_count:
        boutique.return_prize_stock(session, contest.item_id, contest.winners_count - len(won))
    contest.entries_count, contest.entries_hash = len(entries), digest
    contest.algorithm, contest.drawn_at = draw.ALGORITHM, now
    session.flush()
    for member_id in won:
        _tell_winner(session, contest, int(member_id), now)


def _tell_winner(session: Session, contest: Contest, member_id: int, now: datetime) -> None:
    """Only through the consent check: the owner's customers under ``merchants``,
    everyone else (and every winner of the operator's contests) under ``coalition``."""
    member = session.get(Member, member_id)
    customer = contest.merchant_id is not None and members.is_customer(session, contest.merchant_id, member_id)
    url = f"{current_app.config['PUBLIC_URL']}/contests/{contest.id}"
    audience.send_with_consent(
        session,
        member_id=member_id,
        email=member.email,
        purpose=MERCHANTS if customer else COALITION,
        subject=f"You won: {contest.name}",
        body=f"You are one of the winners of {contest.name}. Your voucher code is in your orders.\n"
        f"The draw, and how to check it: {url}",
        now=now,
    )


# -- the boutique's pages ---------------------------------------------------------------

CONTESTS_SHOWN_MAX = 50


def open_to(session: Session, member_id: int, now: datetime) -> list[Contest]:
    """Open contests this member may enter and has not entered, soonest closing first."""
    query = (
        select(Contest)
        .where(Contest.drawn_at.is_(None), Contest.entries_open_at <= now, Contest.entries_close_at > now)
        .where(~select(ContestEntry.member_id).where(_entry_of(member_id)).exists())
        .order_by(Contest.entries_close_at, Contest.id)
        .limit(CONTESTS_SHOWN_MAX)
    )
    return [c for c in session.execute(query).scalars() if refusal(session, c, member_id) is None]


def entered_by(session: Session, member_id: int) -> list[Contest]:
    """The contests the member entered, newest first."""
    query = (
        select(Contest)
        .join(ContestEntry, ContestEntry.contest_id == Contest.id)
        .where(ContestEntry.member_id == member_id)
        .order_by(Contest.id.desc())
        .limit(CONTESTS_SHOWN_MAX)
    )
    return list(session.execute(query).scalars())


def _entry_of(member_id: int):
    return (ContestEntry.contest_id == Contest.id) & (ContestEntry.member_id == member_id)


def has_entered(session: Session, contest_id: int, member_id: int) -> bool:
    return entry_id_of(session, contest_id, member_id) is not None


def entry_id_of(session: Session, contest_id: int, member_id: int) -> str | None:
    """The member's entry id in the contest (shown to them alone), or None."""
    entry = session.get(ContestEntry, (contest_id, member_id))
    return None if entry is None else entry.entry_id
