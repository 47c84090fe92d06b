"""What webhook endpoints refuse."""

from __future__ import annotations

from app.errors import Invalid, NotFound


class EndpointNotFound(NotFound):
    def __init__(self, endpoint_id: int):
        super().__init__(f"No webhook endpoint {endpoint_id} of yours.")


class EndpointLimit(Invalid):
    def __init__(self, endpoints_max: int):
        super().__init__(f"At most {endpoints_max} webhook endpoints; delete one first.")


class InsecureUrl(Invalid):
    """The URL is not one events may be sent to (scheme, credentials, port, or a private host)."""

    def __init__(self, problems: list[str]):
        super().__init__("The webhook URL is not accepted.", errors={"url": problems})


class EventsNotInCatalog(Invalid):
    def __init__(self, owner_kind: str, refused: list[str]):
        super().__init__(
            f"Not in the event catalog of {owner_kind}s.",
            errors={"events": [f"{event!r} is not available to {owner_kind}s." for event in refused]},
        )
