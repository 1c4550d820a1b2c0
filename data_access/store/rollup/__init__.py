"""Purchase rollups (汇总表): monthly sums at several grains, kept exact, and the router that
answers purchase aggregates from them.

Every statement built by ``facts.scoped_select`` carries its scope. When it is executed, the
router looks for the smallest rollup whose dimensions cover every column the statement and
its filters touch, and rewrites the statement onto it: whole months come from the rollup,
the days of a partial first or last month from the raw facts (UNION ALL). A period from
1 January (本年累计, how every page opens) can be answered by a cumulative rollup, which holds
the year-to-date sums under each month: one month of rows instead of one per month elapsed. ``count()`` becomes
the sum of the rollup's counts; ``sum(amount)`` the sum of its sums. A statement that needs
anything else (a purchase date, a supplier, an average of amounts) runs on the raw facts.

The rollups are current when the store says so: ``rebuild`` (the demo generator, the
``rollup`` command) and ``add_batch`` (each import, in its own transaction) move a watermark,
the largest purchase id they cover. Purchases written any other way leave the watermark
behind and every figure falls back to the raw facts until the next rebuild — slower, never wrong.
"""

from data_access.store.rollup.maintain import (
    add_batch,
    forget_current,
    is_current,
    month_split,
    reassign,
    rebuild,
    remove_batch,
    settle,
)
from data_access.store.rollup.router import install, is_routing, routed, source_of
from data_access.store.rollup.tables import ROLLUPS, Rollup

__all__ = [
    "ROLLUPS",
    "Rollup",
    "add_batch",
    "forget_current",
    "install",
    "is_current",
    "is_routing",
    "month_split",
    "reassign",
    "rebuild",
    "remove_batch",
    "routed",
    "settle",
    "source_of",
]
