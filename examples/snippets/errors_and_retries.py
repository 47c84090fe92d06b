import os

from partner_sdk import Conflict, ConnectionFailed, LoyaltyError, MerchantClient, RateLimited, ValidationError

client = MerchantClient(
    os.environ["LOYALTY_PLATFORM_URL"],
    os.environ["LOYALTY_MERCHANT_KEY"],
    timeout_s=5,  # per try
    max_retries=3,  # connection errors, 429 and 5xx; the same idempotency key every time
)

try:
    client.record_order("ORDER-1001", 99900, "alice@example.com")  # same order id, other amount
except Conflict as error:
    print("conflict:", error.status)  # conflict: 409

try:
    client.record_order("ORDER-1002", -5, "alice@example.com")
except ValidationError as error:
    print(sorted(error.errors))  # ['amount_cents']

try:
    client.record_order("ORDER-1003", 1500, "bob@example.com")
except RateLimited as error:
    print("slow down for", error.retry_after_s, "seconds")
except ConnectionFailed:
    print("platform unreachable: keep the order and try again later with the same order id")
except LoyaltyError as error:  # every SDK error has status, title, detail and the problem body
    print(error.status, error.detail)
else:
    print("recorded")  # recorded
