"""Opens and clicks of offer mails, counted through signed links that carry no
personal data: the offer's id and the recipient's random ``ref``, nothing else."""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

OPEN, CLICK = "o", "c"
_SALT = "offer-tracking"
TOKEN_LENGTH_MAX = 200


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(
        current_app.config["SECRET_KEY"], salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )


def token(offer_id: int, ref: str, kind: str) -> str:
    return _serializer().dumps([offer_id, ref, kind])


def read(value: str, kind: str) -> tuple[int, str] | None:
    """The (offer id, recipient ref) a link stands for, or None when it is not one of ours."""
    if len(value) > TOKEN_LENGTH_MAX:
        return None
    try:
        payload = _serializer().loads(value)
    except (BadData, ValueError, TypeError):
        return None
    if (
        not isinstance(payload, list)
        or len(payload) != 3
        or type(payload[0]) is not int
        or not isinstance(payload[1], str)
        or payload[2] != kind
    ):
        return None
    return payload[0], payload[1]


def open_url(offer_id: int, ref: str) -> str:
    return f"{current_app.config['PUBLIC_URL']}/o/{token(offer_id, ref, OPEN)}"


def click_url(offer_id: int, ref: str) -> str:
    return f"{current_app.config['PUBLIC_URL']}/r/{token(offer_id, ref, CLICK)}"
