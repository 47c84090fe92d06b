"""The tracking redirect: token in the Location, counting without a write per click."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.clicks import services as clicks
from app.clicks.models import ClickStat
from app.constants import CLICK_LINK_CACHE_TTL_S
from tests.factories.affiliates import BROWSER, World, build_world, follow, token_of


@pytest.fixture
def world(client, admin_headers, new_merchant) -> World:
    """A merchant on shop.example, an affiliate approved for its 8% program, and a link."""
    return build_world(client, admin_headers, new_merchant)


def stats(session, link_id: str) -> tuple[int, int]:
    row = session.execute(
        select(func.coalesce(func.sum(ClickStat.clicks), 0), func.coalesce(func.sum(ClickStat.unique_clicks), 0)).where(
            ClickStat.link_id == int(link_id)
        )
    ).one()
    session.rollback()
    return tuple(row)


def test_a_click_redirects_to_the_landing_url_with_a_token_keeping_its_query_and_fragment(app, client, world):
    response = follow(client, world.link["code"])

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path, location.fragment) == (
        "https",
        "shop.example",
        "/shoes",
        "top",
    )
    assert location.query.startswith("color=red&lp_click=")
    click = app.extensions["clicks"].tokens.verify(token_of(response.headers["Location"]))
    assert (str(click.affiliate_id), str(click.program_id), str(click.link_id)) == (
        world.affiliate["id"],
        world.program["id"],
        world.link["id"],
    )
    assert response.headers["Cache-Control"] == "no-store"


def test_each_click_gets_its_own_token(client, world):
    assert world.click(client) != world.click(client)


def test_clicks_are_counted_in_memory_and_written_by_a_flush(app, client, session, world):
    clicks.flush(app)
    for _ in range(3):
        follow(client, world.link["code"])

    clicks.flush(app)

    assert stats(session, world.link["id"]) == (3, 1)


def test_unique_clicks_count_each_visitor_once_per_hour_across_flushes(app, client, session, world):
    follow(client, world.link["code"], ip="198.51.100.1")
    follow(client, world.link["code"], ip="198.51.100.2")
    clicks.flush(app)
    follow(client, world.link["code"], ip="198.51.100.1")
    follow(client, world.link["code"], ip="198.51.100.1", user_agent=BROWSER + " Edg/120")

    clicks.flush(app)

    assert stats(session, world.link["id"]) == (4, 3)


def test_bots_link_previews_and_head_requests_get_the_redirect_but_are_not_counted(app, client, session, world):
    previews = [
        "Slackbot-LinkExpanding 1.0",
        "facebookexternalhit/1.1",
        "Twitterbot/1.0",
        "WhatsApp/2.23",
        "Mozilla/5.0 (compatible; Googlebot/2.1)",
        "curl/8.5.0",
        "",
    ]
    answers = [follow(client, world.link["code"], user_agent=agent).status_code for agent in previews]
    answers.append(follow(client, world.link["code"], method="head").status_code)

    clicks.flush(app)

    assert answers == [302] * (len(previews) + 1)
    assert stats(session, world.link["id"]) == (0, 0)


def test_the_stored_visitor_is_a_keyed_hash_never_the_ip(app, client, session, world):
    from app.clicks.models import ClickVisitor

    follow(client, world.link["code"], ip="192.0.2.55")
    clicks.flush(app)

    visitors = session.execute(select(ClickVisitor.visitor).where(ClickVisitor.link_id == int(world.link["id"])))
    stored = visitors.scalars().all()
    session.rollback()
    assert len(stored) == 1 and "192.0.2.55" not in stored[0] and len(stored[0]) == 32


def test_an_unknown_code_gets_a_friendly_html_404(client):
    for code in ("nosuchlinkcode", "../../etc", "a" * 40):
        response = client.get(f"/c/{code}")
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "not available" in response.get_data(as_text=True)


def test_a_paused_link_stops_redirecting_once_the_cache_entry_expires(app, client, world, monkeypatch):
    state = app.extensions["clicks"]
    now_s = [1_000_000.0]
    monkeypatch.setattr(state, "clock", lambda: now_s[0])
    assert follow(client, world.link["code"]).status_code == 302

    client.patch(f"/v1/links/{world.link['id']}", json={"active": False}, headers=world.affiliate["headers"])

    assert follow(client, world.link["code"]).status_code == 302  # still cached
    now_s[0] += CLICK_LINK_CACHE_TTL_S + 0.01
    assert follow(client, world.link["code"]).status_code == 404
    client.patch(f"/v1/links/{world.link['id']}", json={"active": True}, headers=world.affiliate["headers"])
    now_s[0] += CLICK_LINK_CACHE_TTL_S + 0.01
    assert follow(client, world.link["code"]).status_code == 302


def test_a_paused_program_or_refused_affiliate_stops_its_links(app, client, world, monkeypatch):
    state = app.extensions["clicks"]
    now_s = [2_000_000.0]
    monkeypatch.setattr(state, "clock", lambda: now_s[0])
    client.patch(f"/v1/programs/{world.program['id']}", json={"active": False}, headers=world.merchant["headers"])
    assert follow(client, world.link["code"]).status_code == 404

    client.patch(f"/v1/programs/{world.program['id']}", json={"active": True}, headers=world.merchant["headers"])
    applications = client.get(
        f"/v1/programs/{world.program['id']}/applications", headers=world.merchant["headers"]
    ).get_json()["data"]
    client.patch(
        f"/v1/programs/{world.program['id']}/applications/{applications[0]['id']}",
        json={"status": "refused"},
        headers=world.merchant["headers"],
    )
    now_s[0] += CLICK_LINK_CACHE_TTL_S + 0.01
    assert follow(client, world.link["code"]).status_code == 404


def test_buffered_clicks_survive_a_failed_flush(db_url, session, world, monkeypatch):
    from tests.conftest import make_app

    quiet = make_app(db_url, CLICK_FLUSH_INTERVAL_S=0)  # no background flusher: this test flushes
    follow(quiet.test_client(), world.link["code"])

    def broken(*_args):
        raise RuntimeError("database down")

    monkeypatch.setattr(clicks, "_write", broken)
    with pytest.raises(RuntimeError):
        clicks.flush(quiet)
    monkeypatch.undo()
    written = clicks.flush(quiet)

    assert written == 1
    assert stats(session, world.link["id"]) == (1, 1)
    with quiet.app_context():
        from app.extensions import db

        db.engine.dispose()


def test_the_background_flusher_writes_clicks_and_stops_after_a_last_flush(db_url, session, world):
    import time

    from app.extensions import db
    from tests.conftest import make_app

    live = make_app(db_url, CLICK_FLUSH_INTERVAL_S=0.05)
    try:
        follow(live.test_client(), world.link["code"])
        deadline = time.monotonic() + 10
        while stats(session, world.link["id"]) != (1, 1) and time.monotonic() < deadline:
            time.sleep(0.02)  # polling the flusher's result, bounded
        assert stats(session, world.link["id"]) == (1, 1)

        follow(live.test_client(), world.link["code"], ip="198.51.100.9")
        clicks.state_of(live).stop()  # what the gunicorn worker-exit hook and atexit do

        assert stats(session, world.link["id"]) == (2, 2)
        assert not clicks.state_of(live)._flusher.is_alive()
    finally:
        with live.app_context():
            db.engine.dispose()


def test_a_landing_url_whose_host_ends_in_dots_is_refused_and_one_dot_still_redirects(client, world):
    refused = client.post(
        "/v1/links",
        json={"program_id": world.program["id"], "landing_url": "https://shop.example../x"},
        headers=world.affiliate["headers"],
    )
    kept = client.post(
        "/v1/links",
        json={"program_id": world.program["id"], "landing_url": "https://shop.example./x"},
        headers=world.affiliate["headers"],
    )

    assert refused.status_code == 422 and "landing_url" in refused.get_json()["errors"]
    assert kept.status_code == 201, kept.get_json()
    clicked = follow(client, kept.get_json()["code"])
    assert clicked.status_code == 302 and clicked.headers["Location"].startswith("https://shop.example./x?lp_click=")
