"""Named limits and defaults, in one place."""

REQUEST_BODY_BYTES_MAX = 64 * 1024
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 200
ORDER_ID_LENGTH_MAX = 120
EMAIL_LENGTH_MAX = 254
AMOUNT_CENTS_MAX = 100_000_000_00  # one hundred million in major units
# The largest value of an Integer column (PostgreSQL's 32-bit integer).
INTEGER_COLUMN_MAX = 2**31 - 1
MERCHANT_NAME_LENGTH_MAX = 120
DOMAINS_PER_MERCHANT_MAX = 20
EARN_POINTS_MAX = 1_000_000
PRICE_PER_1000_POINTS_CENTS_MAX = 1_000_000
POINTS_LIFETIME_DAYS_DEFAULT = 365
POINTS_LIFETIME_DAYS_MAX = 3650
POINTS_PENDING_DAYS_MAX = 90
CATEGORY_LENGTH_MAX = 40
EARN_CATEGORIES_MAX = 50
ORDER_LINES_MAX = 500
# POST /v1/orders/batch: orders per request, and its body (500 orders of a few lines each).
BATCH_ORDERS_MAX = 500
BATCH_BODY_BYTES_MAX = 2 * 1024 * 1024
SKU_LENGTH_MAX = 120
LINE_QUANTITY_MAX = 1_000_000
ACTIVE_KEYS_PER_MERCHANT_MAX = 10
SUPPORTED_CURRENCIES = ("EUR", "USD", "GBP", "CHF", "SEK", "DKK", "PLN", "CZK")
DEV_ADMIN_KEY = "dev-operator-key-change-me"
DEV_SECRET_KEY = "dev-secret-key-change-me"
# The development signing key of the transparency log: base64 of a 32-byte seed known to all,
# so production refuses it (LEDGER_SIGNING_KEY).
DEV_LEDGER_SIGNING_KEY = "ZGV2ZWxvcG1lbnQgbGVkZ2VyIHNpZ25pbmcga2V5ISE="
# A signed tree head at most this often while entries arrive (and on demand).
LEDGER_HEAD_INTERVAL_S_DEFAULT = 5.0
# Page sizes of the log's listings.
LOG_ENTRIES_PAGE_MAX = 500

# Rewards boutique
CATALOG_TITLE_LENGTH_MAX = 120
CATALOG_DESCRIPTION_LENGTH_MAX = 2000
CATALOG_CATEGORY_LENGTH_MAX = 40
IMAGE_URL_LENGTH_MAX = 500
POINTS_PRICE_MAX = 10_000_000
WHOLESALE_VALUE_CENTS_MAX = 10_000_000
STOCK_MAX = 1_000_000
VOUCHER_CODE_LENGTH_MIN = 4
VOUCHER_CODE_LENGTH_MAX = 64
VOUCHER_CODES_PER_REQUEST_MAX = 1000
VOUCHER_CODES_PER_ITEM_MAX = 100_000
TRACKING_REFERENCE_LENGTH_MAX = 120
CANCEL_REASON_LENGTH_MAX = 500
SHIPPING_ADDRESS_LENGTH_MAX = 500
REDEMPTION_HOLD_TIMEOUT_S_DEFAULT = 14 * 24 * 3600
REDEMPTION_EXPIRY_BATCH_MAX = 200
CATALOG_PAGE_SIZE = 12
SEARCH_QUERY_LENGTH_MAX = 100
# Member sign-in and pages
SIGN_IN_LINK_TTL_S = 15 * 60
SIGN_IN_RATE_WINDOW_S = 15 * 60
# Links per address from one client: what a person needs. Links per address from every
# client together: far more, so that nobody locks a member out by asking for theirs
# (the inbox is still spared a flood).
SIGN_IN_LINKS_PER_EMAIL_AND_CLIENT_MAX = 5
SIGN_IN_LINKS_PER_EMAIL_MAX = 30
SIGN_IN_LINKS_PER_CLIENT_MAX = 20
MEMBER_SESSION_DAYS = 14
MOVEMENTS_PAGE_SIZE = 50
NEXT_EXPIRIES_SHOWN = 5
INCOMING_SHOWN = 20
EXPORT_ROWS_MAX = 10_000
OUTBOX_SHOWN_MAX = 50
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
# Expiry reminders: lots expiring within this many days are announced once.
POINTS_EXPIRY_NOTICE_DAYS = 14
EXPIRY_NOTICE_BATCH_MAX = 500
# Affiliate network (docs/affiliates.md)
AFFILIATE_NAME_LENGTH_MAX = 120
PROGRAM_NAME_LENGTH_MAX = 120
ACTIVE_KEYS_PER_AFFILIATE_MAX = 10
LANDING_URL_LENGTH_MAX = 2048
LINK_CODE_BYTES = 9  # 12 URL-safe characters
COMMISSION_BPS_MAX = 10_000
NETWORK_FEE_BPS_MAX = 5_000
ATTRIBUTION_WINDOW_DAYS_DEFAULT = 30
ATTRIBUTION_WINDOW_DAYS_MAX = 365
HOLD_DAYS_DEFAULT = 30
HOLD_DAYS_MAX = 365
CLICK_TOKEN_LENGTH_MAX = 500
SUSPICIOUS_CLICK_TO_ORDER_S = 10
REJECT_REASON_LENGTH_MAX = 500
BULK_COMMISSIONS_MAX = 500
APPROVE_COMMISSIONS_BATCH = 200
# Merchants whose month the statements job closes per batch (one transaction).
STATEMENTS_BATCH = 50
REPORT_DAYS_MAX = 366
# A paused or deleted link stops redirecting at most this long after the change, per process.
CLICK_LINK_CACHE_TTL_S = 5.0
CLICK_LINK_CACHE_MAX = 50_000
# User-Agents whose robot-or-not answer is kept per process (the corpus check costs ~0.5 ms).
CLICK_AGENT_CACHE_MAX = 10_000
CLICK_FLUSH_INTERVAL_S_DEFAULT = 1.0
CLICK_BUFFER_KEYS_MAX = 100_000
DEV_CLICK_TOKEN_KEY = "dev-click-token-key-change-me"
PAYOUT_ID_LENGTH_MAX = 120
PAYOUT_REFERENCE_LENGTH_MAX = 140
STATEMENT_CLOSE_DELAY_S_DEFAULT = 300
# Money through Stripe (app/payments): where the API is, how long one call may take (a
# billing call holds the merchant's billing lock meanwhile) and how often the SDK retries
# a failed call (with the same idempotency key).
STRIPE_API_BASE_DEFAULT = "https://api.stripe.com"
STRIPE_TIMEOUT_S = 10
STRIPE_NETWORK_RETRIES_MAX = 1
STRIPE_ID_LENGTH_MAX = 255
# What a merchant may pay its statements with (the SetupIntent's payment_method_types).
BILLING_PAYMENT_METHOD_TYPES = ("card", "sepa_debit")

# Collecting statements through Stripe: one batch per unit, three tries over about a week.
COLLECT_STATEMENTS_BATCH = 50
COLLECTION_ATTEMPTS_MAX = 3
COLLECTION_RETRY_DELAYS_S = (24 * 3600, 3 * 24 * 3600)  # after the 1st and 2nd failures
# A started attempt whose outcome was never recorded is looked at again after this long.
COLLECTION_CLAIM_TIMEOUT_S = 15 * 60
COLLECTION_ERROR_LENGTH_MAX = 500

# Paying affiliates and merchants (the ``payouts`` job): an affiliate is paid once its
# approved balance in a currency reaches the threshold; one batch pays at most so many.
AFFILIATE_PAYOUT_THRESHOLD_CENTS_DEFAULT = 5000
PAYOUTS_BATCH = 50
PAYOUT_ERROR_LENGTH_MAX = 500
# An IBAN is at most 34 characters (ISO 13616); the account holder's name as banks take it.
IBAN_LENGTH_MAX = 34
HOLDER_NAME_LENGTH_MAX = 140
# Stripe Connect account ids look like acct_1Nv0FGQ9RKHgCVdK.
STRIPE_ACCOUNT_PATTERN = r"^acct_[A-Za-z0-9]{1,100}$"
# A Connect transfer claimed and not recorded is looked up at Stripe after this long.
PAYOUT_CLAIM_TIMEOUT_S = 15 * 60
# Bank transfers exported per CSV request, at most.
BANK_TRANSFERS_EXPORT_MAX = 10_000

# The database unreachable: a connection attempt gives up after this long, and the
# 503 answer asks the client to come back after this long.
DATABASE_CONNECT_TIMEOUT_S = 5
DATABASE_RETRY_AFTER_S = 5

# Mail through the outbox (app/mail.py): one batch per unit, retried with backoff.
SEND_MAIL_BATCH = 50
MAIL_ATTEMPTS_MAX = 5
MAIL_RETRY_DELAYS_S = (60, 5 * 60, 30 * 60, 2 * 3600)  # after the 1st, 2nd, 3rd and 4th failures
# A claimed mail whose outcome was never recorded (a crash) is tried again after this long.
MAIL_CLAIM_TIMEOUT_S = 10 * 60
MAIL_ERROR_LENGTH_MAX = 500

# Security headers on every answer (app/security_headers.py, docs/operations.md#security-headers).
# strict-origin-when-cross-origin, not no-referrer: Flask-WTF's CSRF check refuses a form
# posted over https without a same-origin Referer.
REFERRER_POLICY = "strict-origin-when-cross-origin"
# Pages: scripts, styles and everything else from this site only, never inline; pictures
# also from merchants' https hosts (a catalog item's image_url).
PAGE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' https:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The API's browsable reference (/docs, Swagger UI served from this site): its scripts
# and styles are files of this site too, but Swagger UI sets style attributes and draws
# icons from data: URIs, so that one page allows inline styles (never inline scripts).
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# JSON, CSV, files: nothing to load, nothing to frame.
DATA_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS_MAX_AGE_S = 365 * 24 * 3600
# The only answers a browser or a proxy may keep: nothing in them belongs to one person.
# Every other endpoint (a new one too) is answered with Cache-Control: no-store.
CACHEABLE_ENDPOINTS = ("static", "web.static", "api-docs.openapi_json", "docs.page", "docs.asset")
# Public pages, cacheable while nobody is signed in: a member's copy shows their balance.
PUBLIC_PAGE_ENDPOINTS = ("web.catalog", "web.item", "web.problem_type")

# Observability (docs/operations.md#observability): how long /ready and a /metrics scrape
# may wait on the database, when a load balancer should ask /ready again, and how far
# the outbox depth is counted (a bounded count stays cheap when the outbox is huge).
READY_DATABASE_TIMEOUT_S = 2
METRICS_DATABASE_TIMEOUT_S = 2
OUTBOX_DEPTH_COUNTED_MAX = 100_000

# Rate limits (app/rate_limits.py). Per API key: far above one merchant's honest load
# (a batch import runs a few hundred orders a second); failed authentications per
# client address: what stops key guessing; public pages per client address.
RATE_LIMIT_PER_KEY_DEFAULT = "30000 per minute"
RATE_LIMIT_FAILED_AUTH_PER_ADDRESS_DEFAULT = "30 per minute"
RATE_LIMIT_PAGES_PER_ADDRESS_DEFAULT = "600 per minute"
# Never limited: the tracking redirect (the network's hottest route), probes, metrics,
# Stripe's webhooks and static files.
RATE_LIMIT_EXEMPT_PREFIXES = ("/c/", "/health", "/ready", "/metrics", "/stripe/", "/static/")

# An erased member keeps their id and this address: nothing is ever mailed to it.
ERASED_EMAIL_DOMAIN = "@erased.invalid"
