"""What authentication and key management refuse."""

from __future__ import annotations

from app.errors import Invalid, NotFound, Unauthorized


class MissingBearer(Unauthorized):
    def __init__(self):
        super().__init__("Send 'Authorization: Bearer <key>'.")


class OperatorKeyRequired(Unauthorized):
    def __init__(self):
        super().__init__("This call needs the operator key.")


class UnknownKey(Unauthorized):
    def __init__(self, owner_kind: str):
        super().__init__(f"Unknown or revoked {owner_kind} key.")


class KeyNotFound(NotFound):
    def __init__(self, owner_kind: str, owner_id: int, key_id: int):
        super().__init__(f"No live key {key_id} for {owner_kind} {owner_id}.")


class LiveKeyLimit(Invalid):
    def __init__(self, owner_kind: str, live_max: int):
        super().__init__(f"A {owner_kind} has at most {live_max} live keys; revoke one first.")
