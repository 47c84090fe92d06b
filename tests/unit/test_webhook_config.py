"""Webhook URLs: http and private hosts are for development only."""

from __future__ import annotations

import pytest

from app.config import ConfigError, check_production, load

PRODUCTION = {
    "LOYALTY_ENV": "production",
    "LOYALTY_ADMIN_KEY": "k" * 40,
    "SECRET_KEY": "s" * 40,
    "DATABASE_URL": "postgresql://db/loyalty",
    "CLICK_TOKEN_KEYS": "c" * 40,
    "LEDGER_SIGNING_KEY": "cmVhbCBwcm9kdWN0aW9uIHNpZ25pbmcga2V5IDEyMzQ=",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
}


def test_development_accepts_insecure_webhook_urls_and_production_does_not():
    assert load("/tmp/instance", {})["WEBHOOK_ALLOW_INSECURE_URLS"] is True
    production = load("/tmp/instance", PRODUCTION)
    assert production["WEBHOOK_ALLOW_INSECURE_URLS"] is False
    check_production(production)


def test_production_refuses_to_start_with_insecure_webhook_urls_allowed():
    with pytest.raises(ConfigError):
        check_production(load("/tmp/instance", {**PRODUCTION, "WEBHOOK_ALLOW_INSECURE_URLS": "1"}))
