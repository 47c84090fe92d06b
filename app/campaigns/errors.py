"""What campaigns refuse."""

from __future__ import annotations

from app.errors import Conflict, Invalid, NotFound


class CampaignNotFound(NotFound):
    def __init__(self, campaign_id: int):
        super().__init__(f"No campaign {campaign_id} of yours.")


class EndsInThePast(Invalid):
    def __init__(self):
        super().__init__("A campaign must end in the future.", errors={"ends_at": ["Must be in the future."]})


class CampaignEnded(Conflict):
    def __init__(self, campaign_id: int, action: str):
        super().__init__(f"Campaign {campaign_id} has ended: it cannot be {action}. Ending is final.")
