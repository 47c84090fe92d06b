"""Click tokens: signed ids and time, verified against every listed key."""

from __future__ import annotations

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
