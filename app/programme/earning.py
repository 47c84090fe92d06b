"""The published earn rule: ``points`` per *full* block of ``per_amount_cents``, floor,
computed per rate group.

Without lines an order is one group at the merchant's base rate. With lines, each
line falls in a group by its category: an excluded category earns nothing, a
category with its own rate is a group of its own, every other line pools into the
base group. A group's points are ``(amount // per_amount_cents) * points``: full
blocks only, so two lines of the same group earn on their sum, not each on its own.

A refund recomputes the groups on what is left of the order: each group keeps the
share of the net amount it had of the whole (rounded down), then the same floor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Rate:
    points: int
    per_amount_cents: int


@dataclass(frozen=True)
class EarnRule:
    """A merchant's rule as it stands when an order is recorded."""

    base: Rate
    excluded_categories: frozenset[str] = frozenset()
    category_rates: tuple[tuple[str, Rate], ...] = ()

    def rate_of(self, category: str) -> Rate | None:
        """The rate a line of ``category`` earns at; None when excluded."""
        if category in self.excluded_categories:
            return None
        return dict(self.category_rates).get(category, self.base)


@dataclass(frozen=True)
class Group:
    """Lines that earn together: ``category`` is None for the base group; ``rate``
    None for an excluded category."""

    category: str | None
    amount_cents: int
    rate: Rate | None

    @property
    def points(self) -> int:
        return points_for(self.amount_cents, self.rate)

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "amount_cents": self.amount_cents,
            "excluded": self.rate is None,
            "points_per_block": self.rate.points if self.rate else 0,
            "per_amount_cents": self.rate.per_amount_cents if self.rate else None,
            "points": self.points,
        }


def points_for(amount_cents: int, rate: Rate | None) -> int:
    if rate is None or amount_cents <= 0:
        return 0
    return (amount_cents // rate.per_amount_cents) * rate.points


def groups_of(rule: EarnRule, amount_cents: int, lines: list[dict] | None) -> list[Group]:
    """The rate groups of an order: the base group first (when it has an amount),
    then the other categories in alphabetical order."""
    if not lines:
        return [Group(None, amount_cents, rule.base)]
    sums: dict[str | None, int] = {}
    rates: dict[str | None, Rate | None] = {}
    for line in lines:
        rate = rule.rate_of(line["category"])
        key = None if rate is rule.base else line["category"]
        sums[key] = sums.get(key, 0) + line["amount_cents"]
        rates[key] = rate
    ordered = sorted(sums, key=lambda k: (k is not None, k or ""))
    return [Group(key, sums[key], rates[key]) for key in ordered]


def base_points(groups: list[Group]) -> int:
    return sum(group.points for group in groups)


def after_refund(groups: list[Group], amount_cents: int, net_cents: int) -> list[Group]:
    """The groups once the order's amount is down to ``net_cents``: each keeps its
    share, rounded down."""
    if net_cents == amount_cents:
        return groups
    return [Group(g.category, g.amount_cents * net_cents // amount_cents, g.rate) for g in groups]


def stored(groups: list[Group]) -> list[dict[str, Any]]:
    """The groups as kept on the order (JSON), so a later change of the merchant's
    rule never changes what a refund takes back."""
    return [{"category": g.category, "amount_cents": g.amount_cents, "rate": g.rate and asdict(g.rate)} for g in groups]


def loaded(rows: list[dict[str, Any]]) -> list[Group]:
    return [Group(r["category"], r["amount_cents"], r["rate"] and Rate(**r["rate"])) for r in rows]
