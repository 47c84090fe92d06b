import os

from partner_sdk import MerchantClient

client = MerchantClient(os.environ["LOYALTY_PLATFORM_URL"], os.environ["LOYALTY_MERCHANT_KEY"])

refund = client.refund("ORDER-1001", "REFUND-1001-1", 4500)  # 45.00 EUR back
print(refund.points_reversed, refund.points_balance)  # 30 150: net 229.00 EUR keeps 150 points

member = client.find_member("alice@example.com")
print(member.points_available if member else "not a member yet")  # 150
