"""The tracking links of offer mails: ``/o/<token>`` (the open pixel) and
``/r/<token>`` (the link, then the merchant's shop). The signed token carries the
offer's id and the recipient's random reference only. Each counts once per
recipient; an unknown or damaged token still answers (the pixel, or the boutique's
home page) and counts nothing."""

from __future__ import annotations

import base64

from flask import Response, redirect, url_for

from app import unit_of_work
from app.offers import services as offers
from app.offers import tracking
from app.web.views import bp

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@bp.get("/o/<token>")
def offer_opened(token: str):
    found = tracking.read(token, tracking.OPEN)
    if found is not None:
        uow = unit_of_work.current()
        offers.record_open(uow.session, *found, uow.now)
        uow.commit(None)
    return Response(PIXEL, mimetype="image/gif")


@bp.get("/r/<token>")
def offer_clicked(token: str):
    found = tracking.read(token, tracking.CLICK)
    target = None
    if found is not None:
        uow = unit_of_work.current()
        target = offers.record_click(uow.session, *found, uow.now)
        uow.commit(None)
    return redirect(target or url_for("web.catalog"), code=302)
