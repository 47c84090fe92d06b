"""The rewards a merchant supplies to the boutique and their redemptions (part of ``MerchantClient``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

from partner_sdk._client import Client, given, quote
from partner_sdk.answers import CatalogItem, CodesAdded, CreatedCatalogItem, Redemption, VoucherRedemption
from partner_sdk.pagination import Page, iterate_pages

__all__ = ["BoutiqueCalls"]


class BoutiqueCalls(Client):
    """Catalog items you supply, voucher codes, redemptions to fulfil or cancel, vouchers at checkout."""

    # Catalog items you supply

    def create_catalog_item(
        self,
        kind: Literal["physical", "voucher"],
        title: str,
        category: str,
        points_price: int,
        wholesale_value_cents: int,
        *,
        description: str | None = None,
        image_url: str | None = None,
        stock: int | None = None,
        active_from: str | None = None,
        active_until: str | None = None,
        voucher_codes: Sequence[str] | None = None,
        generate_codes: int | None = None,
    ) -> CreatedCatalogItem:
        """Supply a reward: physical goods with a `stock`, or vouchers with codes (uploaded or generated)."""
        body = given(
            kind=kind,
            title=title,
            category=category,
            points_price=points_price,
            wholesale_value_cents=wholesale_value_cents,
            description=description,
            image_url=image_url,
            stock=stock,
            active_from=active_from,
            active_until=active_until,
            voucher_codes=None if voucher_codes is None else list(voucher_codes),
            generate_codes=generate_codes,
        )
        return self._create(CreatedCatalogItem, "/v1/catalog/items", body=body)

    def update_catalog_item(
        self,
        item_id: int | str,
        *,
        title: str | None = None,
        description: str | None = None,
        category: str | None = None,
        image_url: str | None = None,
        points_price: int | None = None,
        wholesale_value_cents: int | None = None,
        stock: int | None = None,
        active: bool | None = None,
        active_from: str | None = None,
        active_until: str | None = None,
    ) -> CatalogItem:
        """Change an item (only what is given): texts, prices, stock (physical), active window or `active`."""
        body = given(
            title=title,
            description=description,
            category=category,
            image_url=image_url,
            points_price=points_price,
            wholesale_value_cents=wholesale_value_cents,
            stock=stock,
            active=active,
            active_from=active_from,
            active_until=active_until,
        )
        return self._one(CatalogItem, "PATCH", f"/v1/catalog/items/{quote(item_id)}", body=body)

    def list_catalog_items(
        self, *, active: bool | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[CatalogItem]:
        """One page of your catalog items, oldest first (optionally only active or inactive ones)."""
        return self._page(CatalogItem, "/v1/catalog/items", {"active": active, "limit": limit, "cursor": cursor})

    def iter_catalog_items(self, *, active: bool | None = None, page_size: int | None = None) -> Iterator[CatalogItem]:
        """Every catalog item of yours, page after page."""
        return iterate_pages(lambda cursor: self.list_catalog_items(active=active, limit=page_size, cursor=cursor))

    def get_catalog_item(self, item_id: int | str) -> CatalogItem:
        """One of your catalog items."""
        return self._one(CatalogItem, "GET", f"/v1/catalog/items/{quote(item_id)}")

    def deactivate_catalog_item(self, item_id: int | str) -> CatalogItem:
        """Withdraw an item from the boutique (placed redemptions stay yours to fulfil)."""
        return self._one(CatalogItem, "POST", f"/v1/catalog/items/{quote(item_id)}/deactivate")

    def add_voucher_codes(
        self, item_id: int | str, codes: Sequence[str] | None = None, *, generate: int | None = None
    ) -> CodesAdded:
        """Add voucher codes to a voucher item, uploaded (`codes`) or generated (`generate`)."""
        body = given(voucher_codes=None if codes is None else list(codes), generate_codes=generate)
        return self._create(CodesAdded, f"/v1/catalog/items/{quote(item_id)}/codes", body=body)

    # Redemptions of your rewards

    def list_redemptions(
        self, *, status: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[Redemption]:
        """One page of the redemptions of your rewards, oldest first (optionally of one status)."""
        return self._page(Redemption, "/v1/redemptions", {"status": status, "limit": limit, "cursor": cursor})

    def iter_redemptions(self, *, status: str | None = None, page_size: int | None = None) -> Iterator[Redemption]:
        """Every redemption of your rewards, page after page."""
        return iterate_pages(lambda cursor: self.list_redemptions(status=status, limit=page_size, cursor=cursor))

    def get_redemption(self, redemption_id: int | str) -> Redemption:
        """One redemption of your rewards."""
        return self._one(Redemption, "GET", f"/v1/redemptions/{quote(redemption_id)}")

    def fulfil_redemption(self, redemption_id: int | str, tracking_reference: str | None = None) -> Redemption:
        """Mark a placed redemption as sent: the member's points are spent."""
        body = given(tracking_reference=tracking_reference)
        return self._one(Redemption, "POST", f"/v1/redemptions/{quote(redemption_id)}/fulfil", body=body)

    def cancel_redemption(self, redemption_id: int | str, reason: str) -> Redemption:
        """Cancel a placed redemption with a reason shown to the member: the points come back."""
        path = f"/v1/redemptions/{quote(redemption_id)}/cancel"
        return self._one(Redemption, "POST", path, body={"reason": reason})

    def redeem_voucher(self, code: str) -> VoucherRedemption:
        """Accept a voucher code at your checkout; a code is accepted once (then Conflict)."""
        return self._one(VoucherRedemption, "POST", f"/v1/vouchers/{quote(code)}/redeem")
