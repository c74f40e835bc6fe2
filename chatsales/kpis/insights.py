"""Sales insights (kpis.md, Insi-1..7; sales-insights-page.txt), composed from the shared measures: Insi-1 is
Chat-Card-30, Insi-2 Chat-Card-81, Insi-3 Chat-Card-80, so the insights page and the cards can never disagree.

Insi-6 splits Insi-2 and Insi-3 by the order's `is_first_order` (as the source gives it, else derived from
the order history: publication.derive_first_orders); sales whose customer is unknown (no email hash, no
customer id) are in neither half. Insi-7 is a table (`product_table`, published as `product_daily` and in the
period query); its registry row is the recommendation conversion: units sold of products shown in the same
chatroom before the order / units sold.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from chatsales.facts import Facts
from chatsales.kpis.measures import active_dialogues, attributed_sales, sales_count, sales_total
from chatsales.kpis.registry import REGISTRY, ROOM_DIMS, SALES_DIMS, Ctx, count, kpi, ratio, total, value_only
from chatsales.period import Periods

PRODUCT_COLUMNS = ["shown", "units_sold", "sales", "units_sold_after_shown"]


def dialogues_with_products(ctx: Ctx) -> pd.Series:
    """Chat-Card-30's own computation (active dialogues with a product message in the window)."""
    return REGISTRY["Chat-Card-30"].fn(ctx)["value"]


@kpi(
    "Insi-1",
    "Pre-purchase sessions",
    definition="active dialogues with a product shared (= Chat-Card-30)",
    date_basis="message sent_at",
    kind="count",
    dims=ROOM_DIMS,
)
def pre_purchase_sessions(ctx: Ctx):
    return value_only(dialogues_with_products(ctx))


@kpi(
    "Insi-2",
    "Total orders",
    definition="attributed orders (= Chat-Card-81)",
    date_basis="placed_at",
    kind="count",
    dims=SALES_DIMS,
    fluctuating=True,
)
def total_orders(ctx: Ctx):
    return value_only(sales_count(ctx))


@kpi(
    "Insi-3",
    "Revenue generated",
    definition="= Chat-Card-80",
    date_basis="placed_at",
    kind="sum",
    dims=SALES_DIMS,
    fluctuating=True,
)
def revenue_generated(ctx: Ctx):
    return value_only(sales_total(ctx))


@kpi(
    "Insi-4",
    "Conversion rate",
    definition="Insi-2 / Insi-1 × 100 (a percentage, as the seed defines it)",
    date_basis="placed_at / message sent_at",
    kind="rate",
    dims=SALES_DIMS,
    fluctuating=True,
)
def insights_conversion(ctx: Ctx):
    rows = ratio(sales_count(ctx), dialogues_with_products(ctx))
    return rows.assign(value=rows["value"] * 100)


@kpi(
    "Insi-5",
    "Revenue per chat",
    definition="Insi-3 / Chat-Card-20",
    date_basis="placed_at / message sent_at",
    kind="mean",
    dims=SALES_DIMS,
    fluctuating=True,
)
def revenue_per_chat(ctx: Ctx):
    return ratio(sales_total(ctx), active_dialogues(ctx))


def _customers(ctx: Ctx, new: bool) -> pd.DataFrame:
    sales = attributed_sales(ctx)
    first = sales["is_first_order"].astype("boolean")
    return sales[(first == new).fillna(False).to_numpy(dtype=bool)]


for _new, _label in ((True, "new"), (False, "existing")):
    _who = (
        "the customer's first order (is_first_order)"
        if _new
        else "not the customer's first order; unknown customers are in neither half"
    )

    def _orders(ctx: Ctx, new: bool = _new):
        return value_only(count(_customers(ctx, new)))

    def _revenue(ctx: Ctx, new: bool = _new):
        return value_only(total(_customers(ctx, new), "total"))

    kpi(
        f"Insi-6-{_label}-orders",
        f"Total orders, {_label} customers",
        definition=f"Insi-2 where {_who}",
        date_basis="placed_at",
        kind="count",
        dims=SALES_DIMS,
        fluctuating=True,
    )(_orders)
    kpi(
        f"Insi-6-{_label}-revenue",
        f"Revenue generated, {_label} customers",
        definition=f"Insi-3 where {_who}",
        date_basis="placed_at",
        kind="sum",
        dims=SALES_DIMS,
        fluctuating=True,
    )(_revenue)


def _lines(ctx: Ctx) -> pd.DataFrame:
    return ctx.keyed(ctx.facts.order_lines, "placed_at", SALES_DIMS)


@kpi(
    "Insi-7",
    "Product recommendation conversion",
    definition="units sold in attributed sales of products "
    "shown in the same chatroom before the order / units sold in attributed sales (the per-product table is "
    "product_daily)",
    date_basis="placed_at",
    kind="rate",
    dims=SALES_DIMS,
    fluctuating=True,
)
def recommendation_conversion(ctx: Ctx):
    lines = _lines(ctx)
    return ratio(total(lines[lines["shown_before"].astype(bool)], "quantity"), total(lines, "quantity"))


def product_table(facts: Facts, periods: Periods, filters: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Insi-7 per window and product: `product` messages (counted ones, by sent_at), and units, sales (line
    amounts incl. VAT) and units shown before the order in attributed sales (by placed_at).

    Filters apply as for Chat-Card-30 (messages: the chatroom's source, channel, member, role) and Insi-2
    (lines: the credited chatroom's). Products neither shown nor sold in a window have no row.
    """
    ctx = Ctx(facts, periods, "all", SALES_DIMS, dict(filters or {}))
    msgs = facts.messages
    product_msgs = msgs.loc[msgs["kind"].eq("product") & msgs["product_id"].notna(), ["room", "product_id", "sent_at"]]
    shared = ctx.with_rooms(product_msgs, ["source", "channel", "member_id", "role"])
    shown = ctx.keyed(shared, "sent_at", ROOM_DIMS).groupby(["period", "product_id"]).size().rename("shown")
    lines = _lines(ctx)
    lines = lines[lines["product_id"].notna()].assign(
        after=lambda f: f["quantity"].where(f["shown_before"].astype(bool), 0.0)
    )
    sold = lines.groupby(["period", "product_id"]).agg(
        units_sold=("quantity", "sum"), sales=("line_amount", "sum"), units_sold_after_shown=("after", "sum")
    )
    out = pd.concat([shown.astype("float64"), sold], axis=1).fillna(0.0).reset_index()
    out = out.rename(columns={"level_0": "period", "level_1": "product_id"})
    if out.empty:
        return pd.DataFrame(
            {
                "period": pd.Series(dtype="int64"),
                "product_id": pd.Series(dtype="str"),
                **{c: pd.Series(dtype="float64") for c in PRODUCT_COLUMNS},
            }
        )
    out = out.astype({"period": "int64", "product_id": "str", **{c: "float64" for c in PRODUCT_COLUMNS}})
    return out[["period", "product_id", *PRODUCT_COLUMNS]].sort_values(["period", "product_id"]).reset_index(drop=True)


def product_daily(facts: Facts, days, timezone: str) -> pd.DataFrame:
    """`product_daily`: the Insi-7 table for each of `days` (reporting timezone), every breakdown together."""
    days = sorted(days)
    table = product_table(facts, Periods.daily(days, timezone))
    day_of = pd.Series(days, dtype=object)
    table.insert(0, "day", day_of.iloc[table.pop("period").to_numpy()].to_numpy())
    return table
