"""``GET /c/<code>``: the tracking redirect. HTML, outside the JSON API (/v1).

GET and HEAD are answered ahead of Flask by ``app.clicks.dispatch``, from the same
state and with the same answers; this view answers what that lean path hands back
(a request whose link lookup failed) and keeps the route in the URL map.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request

from app.clicks.services import CODE, counted, state_of, token_slot
from app.extensions import db
from ledger import utcnow

blp = Blueprint("clicks", __name__)

NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Link not available</title>
<link rel="stylesheet" href="/static/link.css">
</head><body><main><h1>This link is not available</h1>
<p>The offer behind this link has ended or the link was mistyped. Please go to the shop's own site instead.</p>
</main></body></html>
"""


def with_click_token(landing_url: str, token: str) -> str:
    """The landing URL with ``lp_click`` added; its own query and fragment stay as they were."""
    before, after = token_slot(landing_url)
    return before + quote(token, safe="") + after


def _request_session():
    return db.session


@blp.route("/c/<path:code>", methods=["GET", "HEAD"])
def follow(code: str):
    state = state_of(current_app)
    target = state.resolve(_request_session, code) if CODE.fullmatch(code) else None
    if target is None:
        return Response(NOT_FOUND_PAGE, status=404, mimetype="text/html", headers={"Cache-Control": "no-store"})
    now = utcnow()
    token = state.tokens.issue(
        click_id=secrets.token_urlsafe(12),
        affiliate_id=target.affiliate_id,
        program_id=target.program_id,
        link_id=target.link_id,
    )
    user_agent = request.headers.get("User-Agent", "")
    if counted(request.method, user_agent):
        state.record(target.link_id, now, state.visitor(request.remote_addr or "", user_agent))
    response = Response(
        status=302,
        headers={
            "Location": target.location(token),
            "Cache-Control": "no-store",
        },
    )
    return response
