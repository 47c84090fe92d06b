import os

from partner_sdk import MerchantClient

client = MerchantClient(os.environ["LOYALTY_PLATFORM_URL"], os.environ["LOYALTY_MERCHANT_KEY"])

lines = [
    {"sku": "BOOK-42", "category": "books", "quantity": 1, "amount_cents": 1000},
    {"sku": "PEN-7", "category": "stationery", "quantity": 2, "amount_cents": 500},
]
preview = client.preview_order(1500, "erin@example.com", lines=lines)  # at checkout: nothing is recorded
print(preview.points_total, [(g.category, g.points) for g in preview.groups])  # 10 [(None, 10)]: the lines pool

order = client.record_order("ORDER-1101", 1500, "erin@example.com", lines=lines)
print(order.points_earned == preview.points_total, order.points_available_at)  # True None: spendable at once
