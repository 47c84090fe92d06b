"""verify_webhook accepts what the platform signs and refuses everything else."""

from __future__ import annotations

import json

import pytest

from app.webhooks.delivery import sign
from app.webhooks.schemas import EVENT_TYPES
from partner_sdk import EVENT_TYPES as SDK_EVENT_TYPES
from partner_sdk import WebhookSignatureError, sign_webhook, verify_webhook

SECRET = "whsec_test-secret"
NOW = 1_800_000_000
BODY = json.dumps(
    {
        "id": "evt_1",
        "type": "order.points_awarded",
        "created_at": "2027-01-15T08:00:00+00:00",
        "data": {"points_earned": 30},
    }
).encode()


def test_a_delivery_signed_by_the_platform_verifies_and_parses():
    event = verify_webhook(BODY, sign(BODY, NOW, [SECRET]), SECRET, now=NOW)

    assert (event.id, event.type, event.data) == ("evt_1", "order.points_awarded", {"points_earned": 30})


def test_the_sdk_signs_exactly_as_the_platform_does():
    assert sign_webhook(BODY, SECRET, NOW) == sign(BODY, NOW, [SECRET])


def test_after_a_rotation_either_secret_verifies_a_doubly_signed_delivery():
    header = sign(BODY, NOW, ["whsec_new", "whsec_old"])

    assert verify_webhook(BODY, header, "whsec_new", now=NOW).id == "evt_1"
    assert verify_webhook(BODY, header, "whsec_old", now=NOW).id == "evt_1"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"v1={'0' * 64}",
        f"t={NOW}",
        f"t=abc,v1={'0' * 64}",
        f"t={NOW},t={NOW},v1={'0' * 64}",
        f"t={NOW},v1=short",
        f"t={NOW},v1={'Z' * 64}",
        "x" * 5000,
    ],
)
def test_a_malformed_header_is_refused(header):
    with pytest.raises(WebhookSignatureError):
        verify_webhook(BODY, header, SECRET, now=NOW)


def test_a_wrong_secret_or_a_changed_body_is_refused():
    header = sign(BODY, NOW, [SECRET])

    with pytest.raises(WebhookSignatureError):
        verify_webhook(BODY, header, "whsec_other", now=NOW)
    with pytest.raises(WebhookSignatureError):
        verify_webhook(BODY.replace(b"30", b"31"), header, SECRET, now=NOW)


@pytest.mark.parametrize("skew_s", [-301, 301])
def test_a_timestamp_outside_the_tolerance_is_refused(skew_s):
    header = sign(BODY, NOW + skew_s, [SECRET])

    with pytest.raises(WebhookSignatureError):
        verify_webhook(BODY, header, SECRET, now=NOW)
    assert verify_webhook(BODY, header, SECRET, tolerance_s=400, now=NOW).id == "evt_1"


def test_a_signed_body_that_is_not_an_event_is_refused():
    body = b"[1, 2]"

    with pytest.raises(WebhookSignatureError):
        verify_webhook(body, sign(body, NOW, [SECRET]), SECRET, now=NOW)


def test_the_sdk_publishes_the_platform_event_catalog():
    assert SDK_EVENT_TYPES == EVENT_TYPES


def test_the_sdk_publishes_the_platforms_event_catalog():
    # The SDK cannot import the platform; this keeps its copy of the catalog honest.
    import partner_sdk
    from app.webhooks.schemas import EVENT_TYPES, EVENT_TYPES_BY_OWNER_KIND

    assert partner_sdk.EVENT_TYPES == tuple(EVENT_TYPES)
    assert list(partner_sdk.AFFILIATE_EVENT_TYPES) == list(EVENT_TYPES_BY_OWNER_KIND["affiliate"])
