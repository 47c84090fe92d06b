"""The boutique calls of the SDK for suppliers: catalog items, redemptions, vouchers, on loopback."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.orm import Session

import ledger
from app.boutique import services as boutique
from app.unit_of_work import UnitOfWork
from partner_sdk import Conflict, MerchantClient, NotFound, ValidationError
from tests.e2e.sdk_world import new_merchant_client
from tests.factories.names import unique, unique_email

HOLD_TIMEOUT_S = 3600


@pytest.fixture
def supplier(live_server: Any) -> MerchantClient:
    return new_merchant_client(live_server)


def member_with_points(client: MerchantClient, amount_cents: int = 150_000) -> str:
    """A member who earned 1000 points at this merchant (10 per full 15 EUR)."""
    return client.record_order(unique("order"), amount_cents, unique_email()).member_id


def place(engine: Any, member_id: str, item_id: str, address: str = "1 Rue Test, Paris") -> str:
    """What the member does on the boutique's web pages: redeem one reward."""
    with UnitOfWork(Session(engine)) as uow:
        redemption = boutique.place_redemption(
            uow,
            member_id=int(member_id),
            item_id=int(item_id),
            idempotency_key=uuid.uuid4().hex,
            shipping_address=address,
            timeout_s=HOLD_TIMEOUT_S,
        )
        assert not uow.replayed
        return redemption["id"]


def verify_ledger(engine: Any) -> None:
    with Session(engine) as session:
        assert ledger.verify(session).violations == []


def lamp(client: MerchantClient, **options: Any) -> Any:
    return client.create_catalog_item(
        "physical", unique("Lamp"), "home", 100, 300, description="A warm desk lamp.", stock=5, **options
    ).item


def test_catalog_items_are_created_changed_listed_over_pages_and_deactivated(supplier: MerchantClient) -> None:
    first = lamp(supplier)
    more = [lamp(supplier) for _ in range(2)]

    changed = supplier.update_catalog_item(first.id, stock=7, points_price=900, title="Brass lamp")
    withdrawn = supplier.deactivate_catalog_item(more[0].id)

    assert (first.kind, first.category, first.points_price, first.wholesale_value_cents, first.stock) == (
        "physical",
        "home",
        100,
        300,
        5,
    )
    assert (changed.stock, changed.points_price, changed.title) == (7, 900, "Brass lamp")
    assert withdrawn.active is False
    assert supplier.get_catalog_item(first.id).title == "Brass lamp"
    page = supplier.list_catalog_items(limit=2)
    assert len(page.data) == 2 and page.next_cursor is not None
    assert [i.id for i in supplier.iter_catalog_items(page_size=2)] == [first.id] + [i.id for i in more]
    assert [i.id for i in supplier.iter_catalog_items(active=False, page_size=1)] == [more[0].id]


def test_voucher_items_take_uploaded_and_generated_codes_and_a_code_is_accepted_once(
    supplier: MerchantClient, engine: Any
) -> None:
    code = f"SDK-{uuid.uuid4().hex[:10].upper()}"
    created = supplier.create_catalog_item("voucher", "10 EUR voucher", "vouchers", 50, 1000, voucher_codes=[code])
    added = supplier.add_voucher_codes(created.item.id, generate=2)
    uploaded = supplier.add_voucher_codes(created.item.id, [f"{code}-2"])
    member_id = member_with_points(supplier)

    redemption_id = place(engine, member_id, created.item.id, address="")
    accepted = supplier.redeem_voucher(code)

    assert (created.item.kind, created.item.stock, created.generated_codes) == ("voucher", 1, [])
    assert (added.added, added.stock, len(added.generated_codes)) == (2, 3, 2)
    assert (uploaded.added, uploaded.stock, uploaded.generated_codes) == (1, 4, [])
    redemption = supplier.get_redemption(redemption_id)
    assert (redemption.status, redemption.voucher_code) == ("fulfilled", code)
    assert (accepted.code, accepted.item_id, accepted.redemption_id) == (code, created.item.id, redemption_id)
    with pytest.raises(Conflict):
        supplier.redeem_voucher(code)
    with pytest.raises(NotFound):
        supplier.redeem_voucher("NO-SUCH-CODE")
    verify_ledger(engine)


def test_redemptions_are_listed_over_pages_fulfilled_and_cancelled(supplier: MerchantClient, engine: Any) -> None:
    item = lamp(supplier)
    member_id = member_with_points(supplier)
    placed = [place(engine, member_id, item.id) for _ in range(3)]

    fulfilled = supplier.fulfil_redemption(placed[0], tracking_reference="TRK-1")
    cancelled = supplier.cancel_redemption(placed[1], "Out of stock, sorry")

    assert (fulfilled.status, fulfilled.tracking_reference) == ("fulfilled", "TRK-1")
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "Out of stock, sorry")
    page = supplier.list_redemptions(limit=2)
    assert len(page.data) == 2 and page.next_cursor is not None
    assert [r.id for r in supplier.iter_redemptions(page_size=2)] == placed
    assert [r.id for r in supplier.iter_redemptions(status="placed", page_size=1)] == [placed[2]]
    shown = supplier.get_redemption(placed[2])
    assert (shown.status, shown.points, shown.item_id, shown.shipping_address) == (
        "placed",
        100,
        item.id,
        "1 Rue Test, Paris",
    )
    with pytest.raises(Conflict):
        supplier.cancel_redemption(placed[0], "Too late")
    verify_ledger(engine)


def test_bad_boutique_calls_raise_validation_errors_naming_the_field(supplier: MerchantClient) -> None:
    with pytest.raises(ValidationError) as bad_price:
        supplier.create_catalog_item("physical", "Lamp", "home", -1, 300, stock=1)
    with pytest.raises(ValidationError) as bad_status:
        supplier.list_redemptions(status="lost")
    item = lamp(supplier)
    with pytest.raises(ValidationError) as no_reason:
        supplier.cancel_redemption("1", "")

    assert "points_price" in bad_price.value.errors
    assert "status" in bad_status.value.errors
    assert "reason" in no_reason.value.errors
    assert supplier.get_catalog_item(item.id).active is True


def test_another_suppliers_items_and_redemptions_are_not_found(
    supplier: MerchantClient, live_server: Any, engine: Any
) -> None:
    item = lamp(supplier)
    redemption_id = place(engine, member_with_points(supplier), item.id)
    stranger = new_merchant_client(live_server)

    for call in (
        lambda: stranger.get_catalog_item(item.id),
        lambda: stranger.update_catalog_item(item.id, stock=0),
        lambda: stranger.deactivate_catalog_item(item.id),
        lambda: stranger.get_redemption(redemption_id),
        lambda: stranger.fulfil_redemption(redemption_id),
        lambda: stranger.cancel_redemption(redemption_id, "Not mine"),
    ):
        with pytest.raises(NotFound):
            call()
    assert stranger.list_catalog_items().data == []
    assert stranger.list_redemptions().data == []
    assert supplier.get_redemption(redemption_id).status == "placed"
    assert supplier.get_catalog_item(item.id).stock == 4
