"""Click tokens: signed ids and time, verified against every listed key."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from app.clicks.tokens import ClickTokens, InvalidClickToken

OLD, NEW = "old-key-" + "o" * 32, "new-key-" + "n" * 32
AT = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def issue(tokens: ClickTokens, **kwargs) -> str:
    return tokens.issue(click_id="c1", affiliate_id=7, program_id=8, link_id=9, now=AT, **kwargs)


def test_a_token_carries_the_ids_and_its_issue_time_only():
    click = ClickTokens([NEW]).verify(issue(ClickTokens([NEW])))

    assert (click.click_id, click.affiliate_id, click.program_id, click.link_id) == ("c1", 7, 8, 9)
    assert click.issued_at == AT


def test_a_token_signed_with_an_older_key_still_verifies_after_rotation():
    before = issue(ClickTokens([OLD]))

    assert ClickTokens([NEW, OLD]).verify(before).affiliate_id == 7


def test_after_rotation_tokens_are_signed_with_the_newest_key():
    after = issue(ClickTokens([NEW, OLD]))

    assert ClickTokens([NEW]).verify(after).link_id == 9
    with pytest.raises(InvalidClickToken):
        ClickTokens([OLD]).verify(after)


def test_a_token_signed_with_a_removed_key_no_longer_verifies():
    before = issue(ClickTokens([OLD]))

    with pytest.raises(InvalidClickToken):
        ClickTokens([NEW]).verify(before)


@pytest.mark.parametrize("position", [0, 10, -1, -10])
def test_a_tampered_token_is_refused(position):
    token = issue(ClickTokens([NEW]))
    changed = "A" if token[position] != "A" else "B"
    tampered = token[:position] + changed + (token[position + 1 :] if position != -1 else "")

    with pytest.raises(InvalidClickToken):
        ClickTokens([NEW]).verify(tampered)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "x" * 300])
def test_garbage_is_refused(token):
    with pytest.raises(InvalidClickToken):
        ClickTokens([NEW]).verify(token)


def test_a_token_for_another_purpose_does_not_pass_as_a_click():
    from itsdangerous import URLSafeTimedSerializer

    other = URLSafeTimedSerializer(NEW, salt="magic-link").dumps(["c1", 7, 8, 9])

    with pytest.raises(InvalidClickToken):
        ClickTokens([NEW]).verify(other)


def test_a_token_issued_now_carries_the_ids_verifies_after_rotation_and_needs_no_quoting():
    before_s = datetime.now(UTC).timestamp()
    token = ClickTokens([NEW]).issue(click_id="c2-_x", affiliate_id=10**12, program_id=10**12, link_id=10**12)

    click = ClickTokens([OLD, NEW]).verify(token)  # NEW has become the older key
    assert (click.click_id, click.affiliate_id, click.program_id, click.link_id) == ("c2-_x", 10**12, 10**12, 10**12)
    assert before_s - 1 <= click.issued_at.timestamp() <= datetime.now(UTC).timestamp() + 1
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token)  # appended to landing URLs as it is


def test_a_token_issued_now_is_refused_when_tampered_with_or_signed_by_an_unlisted_key():
    token = ClickTokens([NEW]).issue(click_id="c3", affiliate_id=1, program_id=2, link_id=3)
    payload, timestamp, signature = token.split(".")
    forged = ".".join([payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), timestamp, signature])

    with pytest.raises(InvalidClickToken):
        ClickTokens([NEW]).verify(forged)
    with pytest.raises(InvalidClickToken):
        ClickTokens([OLD]).verify(token)
