import os

from partner_sdk import MerchantClient

client = MerchantClient(os.environ["LOYALTY_PLATFORM_URL"], os.environ["LOYALTY_MERCHANT_KEY"])

order = client.record_order("ORDER-1001", 27400, "alice@example.com")  # 274.00 EUR
print(order.points_earned, order.points_balance)  # 180 180: 10 points per full 15 EUR

again = client.record_order("ORDER-1001", 27400, "alice@example.com")  # a retry, or a double click
print(again.replayed, again.points_balance)  # True 180: recorded once
