"""What segments refuse."""

from __future__ import annotations

from app.errors import Conflict, Invalid, NotFound


class SegmentNotFound(NotFound):
    def __init__(self, segment_id: int):
        super().__init__(f"No segment {segment_id} of yours.")


class TooManySegments(Conflict):
    def __init__(self, most: int):
        super().__init__(f"You have {most} segments, the most there may be.")


class InvalidRules(Invalid):
    def __init__(self, field: str, message: str):
        super().__init__(f"The segment's rules are not valid: {message}", errors={"rules": {field: [message]}})


class UnknownSegment(Invalid):
    def __init__(self, segment_id: int, field: str):
        errors: dict = {"segment_id": ["Not a segment of yours."]}
        for part in reversed(field.split(".")[:-1]):
            errors = {part: errors}
        super().__init__(f"No segment {segment_id} of yours.", errors=errors)
