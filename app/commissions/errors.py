"""What commission decisions refuse."""

from __future__ import annotations

from app.errors import Conflict, Invalid, NotFound


class CommissionNotFound(NotFound):
    def __init__(self, commission_id: int):
        super().__init__(f"No commission {commission_id} of yours.")


class CommissionNotPending(Conflict):
    def __init__(self, commission_id: int, status: str):
        super().__init__(f"Commission {commission_id} is {status}, not pending.")


class DuplicateLine(Conflict):
    def __init__(self, commission_id: int):
        super().__init__(f"Commission {commission_id} appears twice.")


class BulkRefused(Invalid):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("Nothing was changed: some lines are refused; see errors (by line, from 0).", errors=errors)
