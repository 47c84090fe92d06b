"""Signed click tokens: ids and issue time only, verified against every configured key.

``CLICK_TOKEN_KEYS`` lists keys newest first. itsdangerous signs with the *last*
key of its list and verifies with all of them, so the list is handed over reversed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

SALT = "click-token"
_SIGNER_KWARGS = {"digest_method": hashlib.sha256}


class InvalidClickToken(Exception):
    """The token is malformed, tampered with, or signed with a key no longer listed."""


@dataclass(frozen=True)
class Click:
    click_id: str
    affiliate_id: int
    program_id: int
    link_id: int
    issued_at: datetime


class _FixedTimeSigner(TimestampSigner):
    """Signs with a given time instead of the system clock (tests, backfills)."""

    def __init__(self, *args, timestamp: int, **kwargs):
        super().__init__(*args, **kwargs)
        self._timestamp = timestamp

    def get_timestamp(self) -> int:
        return self._timestamp


class ClickTokens:
    def __init__(self, keys_newest_first: list[str]):
        if not keys_newest_first:
            raise ValueError("at least one click token key is needed")
        self._keys = list(reversed(keys_newest_first))
        self._serializer = URLSafeTimedSerializer(self._keys, salt=SALT, signer_kwargs=_SIGNER_KWARGS)
        # Built once: the serializer's dumps builds a signer per call, and every redirect signs.
        self._signer = self._serializer.make_signer()

    def issue(
        self, *, click_id: str, affiliate_id: int, program_id: int, link_id: int, now: datetime | None = None
    ) -> str:
        payload = [click_id, affiliate_id, program_id, link_id]
        if now is None:
            return self._signer.sign(_encoded(payload)).decode("ascii")
        fixed = URLSafeTimedSerializer(
            self._keys,
            salt=SALT,
            signer=_FixedTimeSigner,
            signer_kwargs={**_SIGNER_KWARGS, "timestamp": int(now.timestamp())},
        )
        return fixed.dumps(payload)

    def verify(self, token: str) -> Click:
        """The click a token stands for; its age is the caller's business (per program)."""
        try:
            payload, issued_at = self._serializer.loads(token, return_timestamp=True)
        except (BadData, ValueError, TypeError) as error:
            raise InvalidClickToken(str(error)) from error
        if (
            not isinstance(payload, list)
            or len(payload) != 4
            or not isinstance(payload[0], str)
            or not all(type(value) is int for value in payload[1:])
        ):
            raise InvalidClickToken("unexpected payload")
        return Click(payload[0], payload[1], payload[2], payload[3], issued_at.astimezone(UTC))


def _encoded(payload: list) -> bytes:
    """The serializer's payload without its zlib attempt (``dumps`` compresses when that
    is shorter; ``loads`` reads both forms): four ids gain nothing from it, and trying
    costs more than signing."""
    return base64_encode(json.dumps(payload, separators=(",", ":")).encode())
