import os

from partner_sdk import MerchantClient

client = MerchantClient(os.environ["LOYALTY_PLATFORM_URL"], os.environ["LOYALTY_MERCHANT_KEY"])

for member in client.iter_members(page_size=100):  # fetches page after page
    print(member.email, member.points_balance)  # alice@example.com 150, then bob@example.com 10

page = client.list_members(limit=1)  # or one page at a time
print(len(page.data), page.next_cursor is not None)  # 1 True
