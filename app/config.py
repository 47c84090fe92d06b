"""The one place that reads configuration: environment variables, then test overrides."""

from __future__ import annotations

import os
from pathlib import Path

from app.constants import (
    AFFILIATE_PAYOUT_THRESHOLD_CENTS_DEFAULT,
    CLICK_FLUSH_INTERVAL_S_DEFAULT,
    DATABASE_CONNECT_TIMEOUT_S,
    DEV_ADMIN_KEY,
    DEV_CLICK_TOKEN_KEY,
    DEV_LEDGER_SIGNING_KEY,
    DEV_SECRET_KEY,
    LEDGER_HEAD_INTERVAL_S_DEFAULT,
    MEMBER_SESSION_DAYS,
    RATE_LIMIT_FAILED_AUTH_PER_ADDRESS_DEFAULT,
    RATE_LIMIT_PAGES_PER_ADDRESS_DEFAULT,
    RATE_LIMIT_PER_KEY_DEFAULT,
    REDEMPTION_HOLD_TIMEOUT_S_DEFAULT,
    REQUEST_BODY_BYTES_MAX,
    STATEMENT_CLOSE_DELAY_S_DEFAULT,
    STRIPE_API_BASE_DEFAULT,
)

STRIPE_JS_URL_DEFAULT = "https://js.stripe.com/v3/"


class ConfigError(RuntimeError):
    pass


def _normalize_database_url(url: str) -> str:
    # psycopg 3 is the PostgreSQL driver; accept the common short spellings.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(database_uri: str) -> dict:
    """How the pool talks to the database. On PostgreSQL each connection is checked
    before use (``pool_pre_ping``), so a restarted server costs a reconnect rather
    than a failed request, and a connection attempt gives up after a few seconds, so
    an unreachable server is a prompt 503 rather than a hung worker."""
    if not database_uri.startswith("postgresql"):
        return {}
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": DATABASE_CONNECT_TIMEOUT_S}}


def load(instance_path: str, env: dict[str, str] | None = None) -> dict:
    env = dict(os.environ if env is None else env)
    default_db = "sqlite:///" + str(Path(instance_path) / "loyalty.sqlite3")
    return {
        "LOYALTY_ENV": env.get("LOYALTY_ENV", "development"),
        "SQLALCHEMY_DATABASE_URI": _normalize_database_url(env.get("DATABASE_URL", default_db)),
        "LOYALTY_ADMIN_KEY": env.get("LOYALTY_ADMIN_KEY", DEV_ADMIN_KEY),
        "SECRET_KEY": env.get("SECRET_KEY", DEV_SECRET_KEY),
        "LEDGER_SEAL_INTERVAL_S": float(env.get("LEDGER_SEAL_INTERVAL_S", "1")),
        # The transparency log's Ed25519 key: base64 of a 32-byte seed, and an optional key id.
        "LEDGER_SIGNING_KEY": env.get("LEDGER_SIGNING_KEY", DEV_LEDGER_SIGNING_KEY),
        "LEDGER_SIGNING_KEY_ID": env.get("LEDGER_SIGNING_KEY_ID") or None,
        "LEDGER_HEAD_INTERVAL_S": float(env.get("LEDGER_HEAD_INTERVAL_S", str(LEDGER_HEAD_INTERVAL_S_DEFAULT))),
        "MAX_CONTENT_LENGTH": REQUEST_BODY_BYTES_MAX,
        "API_TITLE": "Loyalty platform API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "JSON_SORT_KEYS": False,
        # http and loopback/private webhook URLs: for development and tests only.
        "WEBHOOK_ALLOW_INSECURE_URLS": env.get(
            "WEBHOOK_ALLOW_INSECURE_URLS", "0" if env.get("LOYALTY_ENV") == "production" else "1"
        )
        == "1",
        # A statement closes a period at least this long ago: no open transaction can still add to it.
        "STATEMENT_CLOSE_DELAY_S": int(env.get("STATEMENT_CLOSE_DELAY_S", str(STATEMENT_CLOSE_DELAY_S_DEFAULT))),
        **_boutique(env),
        **_stripe(env),
        **_rate_limits(env),
        **_observability(env),
    }


LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _observability(env: dict[str, str]) -> dict:
    """Logs (JSON lines in production, text elsewhere) and who may scrape /metrics."""
    production = env.get("LOYALTY_ENV", "development") == "production"
    log_format = env.get("LOG_FORMAT", "json" if production else "text")
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    log_level = env.get("LOG_LEVEL", "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    return {
        "LOG_FORMAT": log_format,
        "LOG_LEVEL": log_level,
        # A bearer token for Prometheus, so that the scraper does not hold the operator key.
        "METRICS_TOKEN": env.get("METRICS_TOKEN", ""),
        # prometheus_client reads it too (at import): gunicorn workers then share one view.
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR") or None,
    }


def _stripe(env: dict[str, str]) -> dict:
    """Money through Stripe: the secret key, the API's address (tests point it at
    localstripe) and the secret that signs Stripe's webhooks."""
    return {
        "STRIPE_API_KEY": env.get("STRIPE_API_KEY", ""),
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE", STRIPE_API_BASE_DEFAULT).rstrip("/"),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", ""),
        # The browser side of the paid card: Stripe.js (tests: localstripe's stand-in) and the publishable key.
        "STRIPE_JS_URL": env.get("STRIPE_JS_URL", STRIPE_JS_URL_DEFAULT),
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY", ""),
        "AFFILIATE_PAYOUT_THRESHOLD_CENTS": _payout_threshold(env),
    }


def _payout_threshold(env: dict[str, str]) -> int:
    """The payouts job pays an affiliate once its approved balance in a currency reaches this."""
    threshold_cents = int(env.get("AFFILIATE_PAYOUT_THRESHOLD_CENTS", str(AFFILIATE_PAYOUT_THRESHOLD_CENTS_DEFAULT)))
    if threshold_cents < 1:
        raise ConfigError("AFFILIATE_PAYOUT_THRESHOLD_CENTS must be a positive number of cents")
    return threshold_cents


def _rate_limits(env: dict[str, str]) -> dict:
    """Flask-Limiter's storage and switch, our limits, and the proxies trusted for client addresses."""
    return {
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": env.get("RATELIMIT_ENABLED", "1") == "1",
        "RATE_LIMIT_PER_KEY": env.get("RATE_LIMIT_PER_KEY", RATE_LIMIT_PER_KEY_DEFAULT),
        "RATE_LIMIT_FAILED_AUTH_PER_ADDRESS": env.get(
            "RATE_LIMIT_FAILED_AUTH_PER_ADDRESS", RATE_LIMIT_FAILED_AUTH_PER_ADDRESS_DEFAULT
        ),
        "RATE_LIMIT_PAGES_PER_ADDRESS": env.get("RATE_LIMIT_PAGES_PER_ADDRESS", RATE_LIMIT_PAGES_PER_ADDRESS_DEFAULT),
        "TRUSTED_PROXY_HOPS": int(env.get("TRUSTED_PROXY_HOPS", "0")),
    }


def _boutique(env: dict[str, str]) -> dict:
    """Member sessions, CSRF, mail and redemption holds (the rewards boutique)."""
    production = env.get("LOYALTY_ENV", "development") == "production"
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "PERMANENT_SESSION_LIFETIME": MEMBER_SESSION_DAYS * 24 * 3600,
        # CSRF is checked by the web pages' blueprint; the JSON API uses Bearer keys.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAIL_SMTP_HOST": env.get("MAIL_SMTP_HOST", ""),
        "MAIL_SMTP_PORT": int(env.get("MAIL_SMTP_PORT", "587")),
        "MAIL_SMTP_USER": env.get("MAIL_SMTP_USER", ""),
        "MAIL_SMTP_PASSWORD": env.get("MAIL_SMTP_PASSWORD", ""),
        "MAIL_SMTP_STARTTLS": env.get("MAIL_SMTP_STARTTLS", "1") == "1",
        "MAIL_FROM": env.get("MAIL_FROM", "Rewards boutique <no-reply@localhost>"),
        # Where members reach the site: the links of mails written by jobs (unsubscribe, offers).
        "PUBLIC_URL": env.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Offer mails queued per sliding minute, whatever the number of offers and workers.
        "OFFER_MAILS_PER_MINUTE": int(env.get("OFFER_MAILS_PER_MINUTE", "600")),
        "REDEMPTION_HOLD_TIMEOUT_S": int(env.get("REDEMPTION_HOLD_TIMEOUT_S", str(REDEMPTION_HOLD_TIMEOUT_S_DEFAULT))),
        # Newest first: the first signs click tokens, all of them verify (rotation).
        "CLICK_TOKEN_KEYS": _key_list(env.get("CLICK_TOKEN_KEYS", DEV_CLICK_TOKEN_KEY)),
        "CLICK_FLUSH_INTERVAL_S": float(env.get("CLICK_FLUSH_INTERVAL_S", CLICK_FLUSH_INTERVAL_S_DEFAULT)),
    }


def _key_list(value: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


def check_production(config: dict) -> None:
    """Refuse to run in production with development secrets."""
    if config["LOYALTY_ENV"] != "production":
        return
    if config["LOYALTY_ADMIN_KEY"] == DEV_ADMIN_KEY or len(config["LOYALTY_ADMIN_KEY"]) < 32:
        raise ConfigError("LOYALTY_ADMIN_KEY must be set to a random value of 32+ characters in production")
    if config["SECRET_KEY"] == DEV_SECRET_KEY or len(config["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY must be set to a random value of 32+ characters in production")
    if config["LEDGER_SIGNING_KEY"] == DEV_LEDGER_SIGNING_KEY:
        raise ConfigError("LEDGER_SIGNING_KEY must be set to the base64 of a random 32-byte Ed25519 seed in production")
    click_keys = config.get("CLICK_TOKEN_KEYS") or []
    if not click_keys or DEV_CLICK_TOKEN_KEY in click_keys or any(len(key) < 32 for key in click_keys):
        raise ConfigError("CLICK_TOKEN_KEYS must list random keys of 32+ characters in production")
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        raise ConfigError("production needs DATABASE_URL pointing at PostgreSQL")
    if not config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://", "redis+sentinel://")):
        raise ConfigError(
            "production needs RATELIMIT_STORAGE_URI pointing at Redis (the limits are shared by every worker)"
        )
    if not config["STRIPE_API_BASE"].startswith("https://"):
        raise ConfigError("STRIPE_API_BASE must be an https URL in production")
    if not config["STRIPE_JS_URL"].startswith("https://"):
        raise ConfigError("STRIPE_JS_URL must be an https URL in production")
    if config.get("METRICS_TOKEN") and len(config["METRICS_TOKEN"]) < 32:
        raise ConfigError("METRICS_TOKEN must be a random value of 32+ characters (or unset) in production")
    if config.get("WEBHOOK_ALLOW_INSECURE_URLS"):
        raise ConfigError("WEBHOOK_ALLOW_INSECURE_URLS=1 is for development: production webhooks use https")
