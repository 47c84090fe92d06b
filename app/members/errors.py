"""What member sign-in and the member's account refuse."""

from __future__ import annotations

from app.errors import DomainError, NotFound, TooManyRequests


class LinkRefused(DomainError):
    """A sign-in link that is forged, expired or used already."""

    problem = "link-refused"


class ExpiredLink(LinkRefused):
    def __init__(self):
        super().__init__("This link has expired. Ask for a new one.")


class InvalidLink(LinkRefused):
    def __init__(self):
        super().__init__("This link is not valid. Ask for a new one.")


class UsedLink(LinkRefused):
    def __init__(self):
        super().__init__("This link was used already. Ask for a new one.")


class TooManyLinks(TooManyRequests):
    def __init__(self, asked_for: str, window_minutes: int):
        super().__init__(f"Too many sign-in links were asked {asked_for}; try again in {window_minutes} minutes.")


class MemberNotFound(NotFound):
    def __init__(self, member_id: int):
        super().__init__(f"No member {member_id}.")
