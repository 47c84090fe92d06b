"""Named limits and defaults, in one place."""

REQUEST_BODY_BYTES_MAX = 64 * 1024
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 200
ORDER_ID_LENGTH_MAX = 120
EMAIL_LENGTH_MAX = 254
AMOUNT_CENTS_MAX = 100_000_000_00  # one hundred million in major units
MERCHANT_NAME_LENGTH_MAX = 120
DOMAINS_PER_MERCHANT_MAX = 20
EARN_POINTS_MAX = 1_000_000
PRICE_PER_1000_POINTS_CENTS_MAX = 1_000_000
POINTS_LIFETIME_DAYS_DEFAULT = 365
POINTS_LIFETIME_DAYS_MAX = 3650
ACTIVE_KEYS_PER_MERCHANT_MAX = 10
SUPPORTED_CURRENCIES = ("EUR", "USD", "GBP", "CHF", "SEK", "DKK", "PLN", "CZK")
DEV_ADMIN_KEY = "dev-operator-key-change-me"
DEV_SECRET_KEY = "dev-secret-key-change-me"
# Webhooks (app/webhooks): limits, the delivery timeout and the retry schedule.
WEBHOOK_ENDPOINTS_PER_OWNER_MAX = 10
WEBHOOK_URL_LENGTH_MAX = 2048
WEBHOOK_TIMEOUT_S = 10
WEBHOOK_CLAIM_BATCH = 10
WEBHOOK_RESPONSE_BYTES_MAX = 4096
WEBHOOK_ERROR_LENGTH_MAX = 500
# After a rotation the previous secret keeps signing (a second v1=) for this long.
WEBHOOK_SECRET_GRACE_S = 24 * 3600
# Delays after each failed attempt (plus or minus 10% jitter): 9 attempts over ~25 hours.
WEBHOOK_RETRY_SCHEDULE_S = (60, 5 * 60, 30 * 60, 2 * 3600, 4 * 3600, 6 * 3600, 6 * 3600, 6 * 3600)
WORKER_POLL_INTERVAL_S = 2.0
WORKER_JOBS_INTERVAL_S = 300.0
