"""Sealing and signing the log, and what a caller may read of it.

A caller is party to an entry when the entry posts to one of its own accounts
(``ledger.owner_accounts``): a merchant's issued points, receivable and
payable, an affiliate's payable. The operator is party to every entry. Any
other entry answers 404, as if it did not exist.
"""

from __future__ import annotations

import base64

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

import ledger
from app.config import ConfigError
from app.pagination import Page, trimmed
from app.transparency.errors import EntryNotInLog, ProofOrderInvalid, TreeSizeOutOfRange
from app.unit_of_work import UnitOfWork

_SIGNER = "ledger_signer"


def configure(app: Flask) -> None:
    """Load the signing key once; a key that is not 32 bytes of base64 stops the start."""
    try:
        app.extensions[_SIGNER] = ledger.Signer.from_base64(
            app.config["LEDGER_SIGNING_KEY"], app.config["LEDGER_SIGNING_KEY_ID"]
        )
    except ledger.SigningKeyInvalid as error:
        raise ConfigError(f"LEDGER_SIGNING_KEY: {error}") from None


def signer() -> ledger.Signer:
    return current_app.extensions[_SIGNER]


def seal_and_sign(uow: UnitOfWork, *, wait: bool) -> int:
    """Seal one batch and sign a head if one is due (the tree grew and LEDGER_HEAD_INTERVAL_S passed)."""
    sealed = ledger.seal(uow.session, wait=wait)
    interval_s = current_app.config["LEDGER_HEAD_INTERVAL_S"]
    ledger.sign_tree_head(uow.session, signer(), now=uow.now, min_interval_s=interval_s)
    return sealed


def head_now(uow: UnitOfWork) -> ledger.Head:
    """A signed head covering every entry the unit can see, its own included: seals what
    is left and signs, unless the newest head already covers the whole tree."""
    while ledger.seal(uow.session):
        pass
    newest = ledger.newest_head(uow.session)
    if newest is not None and newest.tree_size == ledger.tree_size(uow.session):
        return newest
    head = ledger.sign_tree_head(uow.session, signer(), now=uow.now)
    if head is None:
        raise RuntimeError("signing a head on demand returned none")
    return head


def newest_head(session: Session) -> ledger.Head:
    """The newest signed head; before any, the empty tree's head, signed on the fly at time 0."""
    head = ledger.newest_head(session)
    if head is not None:
        return head
    key = signer()
    empty_root = ledger.root_hash(session, 0)
    signature = key.sign(ledger.signed_bytes(0, 0, empty_root))
    return ledger.Head(0, 0, empty_root, 0, key.key_id, signature)


def caller_accounts() -> list[str] | None:
    """The ledger accounts of the calling merchant or affiliate; None for the operator (every entry)."""
    for kind in ("merchant", "affiliate"):
        owner = g.get(kind)
        if owner is not None:
            return ledger.owner_accounts(kind, str(owner.id))
    return None


def entry_view(logged: ledger.LoggedEntry) -> dict:
    """An entry as the log's answers show it, read from its canonical bytes."""
    fields = logged.fields()
    return {
        "id": str(fields["id"]),
        "kind": fields["kind"],
        "ref": fields["ref"],
        "memo": fields["memo"],
        "created_at": fields["at"],
        "reverses_entry_id": None if fields["reverses"] is None else str(fields["reverses"]),
        "postings": [{"account": a, "asset": s, "amount": n} for a, s, n in fields["postings"]],
    }


def logged_view(logged: ledger.LoggedEntry) -> dict:
    """A logged entry with its leaf: index, hash, the canonical bytes (base64) and the entry they encode."""
    return {
        "leaf_index": logged.leaf_index,
        "leaf_hash": logged.leaf_hash,
        "canonical": base64.b64encode(logged.canonical).decode("ascii"),
        "entry": entry_view(logged),
    }


def consistency(session: Session, first: int, second: int) -> dict:
    current = ledger.tree_size(session)
    for field, size in (("first", first), ("second", second)):
        if size > current:
            raise TreeSizeOutOfRange(field, size, current)
    if first > second:
        raise ProofOrderInvalid(first, second)
    return {"first": first, "second": second, "proof": ledger.consistency_proof(session, first, second)}


def entry_proof(session: Session, entry_id: int, tree_size: int | None) -> dict:
    size = newest_head(session).tree_size if tree_size is None else tree_size
    current = ledger.tree_size(session)
    if size > current:
        raise TreeSizeOutOfRange("tree_size", size, current)
    logged = ledger.party_entry(session, entry_id, caller_accounts())
    if logged is None or logged.leaf_index >= size:
        raise EntryNotInLog(entry_id, size)
    return {
        **logged_view(logged),
        "tree_size": size,
        "proof": ledger.inclusion_proof(session, logged.leaf_index, size),
    }


def own_entries(session: Session, *, after: int, limit: int) -> Page:
    found = ledger.party_entries(session, caller_accounts(), after=after, limit=limit + 1)
    page = trimmed(found, limit, lambda logged: str(logged.leaf_index))
    return Page([logged_view(e) for e in page.data], page.next_cursor)


def tree_heads(session: Session, *, limit: int, cursor: str | None) -> Page:
    """Signed heads newest first; the cursor is the id of the last head of the previous page."""
    before = None if cursor is None else int(cursor)
    found = ledger.list_heads(session, limit=limit + 1, before_id=before)
    return trimmed(found, limit, lambda head: str(head.id))


def pointer(session: Session, head: ledger.Head | None, entry_ids: list[int]) -> dict:
    """Where entries are in the log: ``head`` and the leaf indexes it covers, ascending."""
    if head is None:
        return {"tree_head": None, "leaf_indexes": []}
    leaves = ledger.leaf_indexes_of(session, entry_ids).values()
    return {"tree_head": head, "leaf_indexes": sorted(i for i in leaves if i < head.tree_size)}
