"""What the log's routes refuse."""

from __future__ import annotations

from app.errors import Invalid, NotFound


class EntryNotInLog(NotFound):
    """Not the caller's entry, not an entry at all, or not yet in a tree of that size: one answer for all."""

    def __init__(self, entry_id: int, tree_size: int):
        super().__init__(f"No entry {entry_id} of yours in the log at tree size {tree_size}.")


class TreeSizeOutOfRange(Invalid):
    def __init__(self, field: str, size: int, current: int):
        super().__init__(
            f"{field}={size} is outside the log, which holds {current} entries.",
            errors={field: [f"Between 0 and {current}."]},
        )


class ProofOrderInvalid(Invalid):
    def __init__(self, first: int, second: int):
        super().__init__(f"first ({first}) is after second ({second}).", errors={"first": ["At most second."]})
