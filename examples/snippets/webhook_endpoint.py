import os

from partner_sdk import MerchantClient

client = MerchantClient(os.environ["LOYALTY_PLATFORM_URL"], os.environ["LOYALTY_MERCHANT_KEY"])

created = client.create_webhook_endpoint(
    os.environ["SHOP_WEBHOOK_URL"],  # e.g. https://shop.example/webhooks/loyalty
    ["order.points_awarded", "order.refunded"],
)
print(created.secret.startswith("whsec_"))  # True: store it as LOYALTY_WEBHOOK_SECRET, it is shown once

for attempt in client.iter_webhook_attempts(created.endpoint.id):
    print(attempt.event_type, attempt.outcome, attempt.status_code)
