"""What contests refuse."""

from __future__ import annotations

from app.errors import Conflict, Invalid, NotFound


class ContestNotFound(NotFound):
    def __init__(self, contest_id: int):
        super().__init__(f"No contest {contest_id} of yours.")


class InvalidContest(Invalid):
    def __init__(self, field: str, message: str):
        super().__init__(f"The contest is not valid: {message}", errors={field: [message]})


class TooManyContests(Conflict):
    def __init__(self, most: int):
        super().__init__(f"You have {most} contests not drawn yet, the most there may be.")


class EntriesClosed(Conflict):
    def __init__(self, status: str):
        super().__init__(f"Entries are not open: the contest is {status}.")


class NotYourCustomer(Invalid):
    def __init__(self):
        super().__init__(
            "No customer of yours has this email: you may enter your own customers only.",
            errors={"member_email": ["Not a customer of yours."]},
        )


class NotEligible(Invalid):
    def __init__(self, reason: str):
        super().__init__(f"This member may not enter: {reason}", errors={"member_email": [reason]})


class NotDrawnYet(Conflict):
    def __init__(self, close_at: str):
        super().__init__(f"Entries close at {close_at}: the draw comes after.")
