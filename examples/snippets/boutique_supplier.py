import os

from partner_sdk import Conflict, MerchantClient

client = MerchantClient(os.environ["LOYALTY_PLATFORM_URL"], os.environ["LOYALTY_MERCHANT_KEY"])

lamp = client.create_catalog_item(
    "physical", "Brass desk lamp", "home", points_price=6000, wholesale_value_cents=2500, stock=10
).item
vouchers = client.create_catalog_item(
    "voucher", "10 EUR at our shop", "vouchers", points_price=2000, wholesale_value_cents=800, generate_codes=50
)
print(lamp.stock, vouchers.item.stock, len(vouchers.generated_codes))  # 10 50 50: keep the codes, shown once
client.add_voucher_codes(vouchers.item.id, ["SPRING-0001", "SPRING-0002"])  # or generate=...
client.update_catalog_item(lamp.id, stock=12)

for redemption in client.iter_redemptions(status="placed"):  # what members redeemed: send it
    client.fulfil_redemption(redemption.id, tracking_reference="parcel number")
    # or client.cancel_redemption(redemption.id, "Out of stock"): the member gets the points back

try:
    client.redeem_voucher("SPRING-0001")  # a member shows the code at your checkout
except Conflict:
    print("not redeemed by a member yet, or already used")  # not redeemed by a member yet, or already used
