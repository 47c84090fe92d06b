"""What the interests list and consent refuse."""

from __future__ import annotations

from app.errors import Conflict, Invalid, NotFound


class InterestNotFound(NotFound):
    def __init__(self, slug: str):
        super().__init__(f"No interest {slug!r} in the coalition's list.")


class InterestExists(Conflict):
    def __init__(self, slug: str):
        super().__init__(f"The interest {slug!r} is already in the list.")


class UnknownInterests(Invalid):
    def __init__(self, slugs: list[str]):
        super().__init__(
            f"Not in the coalition's list of interests: {', '.join(sorted(slugs))}.",
            errors={"interests": ["Choose interests from the list."]},
        )


class InvalidUnsubscribeLink(NotFound):
    def __init__(self):
        super().__init__("This unsubscribe link is not valid: open your account page to choose which mails you get.")


class TooManyInterests(Conflict):
    def __init__(self, most: int):
        super().__init__(f"The list holds at most {most} interests: retire one first.")
