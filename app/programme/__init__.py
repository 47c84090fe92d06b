"""The members' programme beyond a merchant's base rule: how an order's points are
computed from its lines (``earning``), the extras that come on top (``extras``:
campaign bonuses, the member's tier, the paid card) and the coalition tiers
(``tiers``). docs/programme.md states the rules; its tables are tested."""
