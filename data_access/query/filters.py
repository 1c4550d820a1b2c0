"""The shared filter state of every page, and the one place it becomes SQL conditions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement

from data_access.reference.labels import BUYER_KINDS, CATEGORIES, CHANNELS
from data_access.reference.regions import region_level, region_prefix

REGION_SIDES = {"origin": "产地（资金流向）", "buyer": "采购方（资金来源）"}


def in_region(column, code: str | None) -> ColumnElement | None:
    """``column`` lies inside region ``code``, as an index-friendly range on the code text."""
    if not code:
        return None
    if region_level(code) == "county":
        return column == code
    prefix = region_prefix(code)
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper)


@dataclass(frozen=True)
class Filters:
    """Period (inclusive dates), region and side, channels, buyer kinds, product categories.

    Empty tuples mean "all". ``region_side`` says whether ``region_code`` filters the
    origin of the produce (产地) or the location of the buyer (采购方). ``own_unit_id``
    restricts every figure to one buyer unit: it is set from a reporter's principal by
    ``auth.apply_principal``, never from the URL.
    """

    start: date
    end: date
    region_code: str | None = None
    region_side: str = "origin"
    channels: tuple[str, ...] = field(default_factory=tuple)
    buyer_kinds: tuple[str, ...] = field(default_factory=tuple)
    categories: tuple[str, ...] = field(default_factory=tuple)
    own_unit_id: int | None = None

    @property
    def year(self) -> int:
        return self.end.year

    @property
    def region_level(self) -> str:
        return region_level(self.region_code)

    def last_year(self) -> Filters:
        """The same filters one year earlier (29 Feb becomes 28 Feb)."""
        return replace(self, start=_shift_year(self.start, -1), end=_shift_year(self.end, -1))

    def with_region(self, code: str | None) -> Filters:
        return replace(self, region_code=code or None)

    def to_query_params(self) -> dict[str, str]:
        """The filter as URL query parameters (only what differs from "all")."""
        params = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.region_code:
            params["region"] = self.region_code
        if self.region_side != "origin":
            params["side"] = self.region_side
        for key, values in (("channel", self.channels), ("kind", self.buyer_kinds), ("cat", self.categories)):
            if values:
                params[key] = ",".join(values)
        return params

    @classmethod
    def from_query_params(cls, params, default_start: date, default_end: date) -> Filters:
        """Read filters from URL parameters; unknown values are dropped, never turned into SQL."""

        def _date(key, default):
            try:
                return date.fromisoformat(str(params.get(key, "")))
            except ValueError:
                return default

        def _allowed(key, allowed):
            raw = str(params.get(key, "") or "")
            return tuple(v for v in raw.split(",") if v in allowed)

        start, end = _date("from", default_start), _date("to", default_end)
        if start > end:
            start, end = default_start, default_end
        region = str(params.get("region", "") or "").strip()
        region = region if region.isalnum() and len(region) <= 12 else None
        side = str(params.get("side", "origin"))
        return cls(
            start=start,
            end=end,
            region_code=region or None,
            region_side=side if side in REGION_SIDES else "origin",
            channels=_allowed("channel", CHANNELS),
            buyer_kinds=_allowed("kind", BUYER_KINDS),
            categories=_allowed("cat", CATEGORIES),
        )


def _shift_year(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def year_filters(year: int, as_of: date | None = None) -> Filters:
    """Year-to-date filters: 1 January to ``as_of`` (or 31 December)."""
    end = as_of if as_of and as_of.year == year else date(year, 12, 31)
    return Filters(start=date(year, 1, 1), end=end)
