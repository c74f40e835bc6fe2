"""iAdvize's sales indicators (iadvize-sales-tracking-offsite.txt), per touchpoint."""

from __future__ import annotations

import pandas as pd

from chatsales.kpis.measures import activity_seconds, attributed_sales, contacts_handled, sales_count, sales_total
from chatsales.kpis.registry import (
    MEMBER_DIMS,
    SALES_DIMS,
    Ctx,
    count,
    elapsed_us,
    kpi,
    mean_seconds,
    ratio,
    shared,
    total,
    value_only,
)

WEBSITE: dict[str, str] = {}  # website totals: every visitor, no breakdown applies


@shared
def _channel_sales(ctx: Ctx, channel: str) -> pd.DataFrame:
    """Every sale of a sales channel placed in the window, every customer: no filter or breakdown applies."""
    whole = Ctx(ctx.facts, ctx.periods, "all", WEBSITE, ctx.filters, ctx.memo)
    orders = ctx.facts.orders
    return whole.keyed(orders[orders["is_sale"] & orders["sales_channel"].eq(channel)], "placed_at", WEBSITE)


def _share_after_contact(ctx: Ctx, channel: str) -> pd.DataFrame:
    """Attributed turnover of `channel` (Iadv-2's filters and breakdown) over all of its turnover (Iadv-3's
    whole, the same for every breakdown value: a member's share is of the whole website or all stores)."""
    sales = attributed_sales(ctx)
    after = total(sales[sales["sales_channel"].eq(channel)], "total")
    whole = total(_channel_sales(ctx, channel), "total")
    if ctx.dimension == "all":
        return ratio(after, whole)
    windows = whole.droplevel("dimension_value").reindex(after.index.get_level_values("period"))
    return ratio(after, pd.Series(windows.fillna(0.0).to_numpy(), index=after.index))


@kpi(
    "Iadv-1",
    "Conversion rate",
    definition="Iadv-4 / contacts handled (chatrooms where the member wrote in the period)",
    date_basis="placed_at / message sent_at",
    kind="rate",
    dims=SALES_DIMS,
    fluctuating=True,
)
def conversion_rate(ctx: Ctx):
    return ratio(sales_count(ctx), contacts_handled(ctx))


@kpi(
    "Iadv-2",
    "Turnover after a contact",
    definition="= Chat-Card-80",
    date_basis="placed_at",
    kind="sum",
    dims=SALES_DIMS,
    fluctuating=True,
)
def turnover_after_contact(ctx: Ctx):
    return value_only(sales_total(ctx))


@kpi(
    "Iadv-3",
    "Website's turnover",
    definition="all web sales (not cancelled, total > 0) placed in the period, every visitor",
    date_basis="placed_at",
    kind="sum",
    dims=WEBSITE,
    fluctuating=True,
)
def website_turnover(ctx: Ctx):
    return value_only(total(_channel_sales(ctx, "web"), "total"))


@kpi(
    "Iadv-4",
    "Transactions after a contact",
    definition="= Chat-Card-81",
    date_basis="placed_at",
    kind="count",
    dims=SALES_DIMS,
    fluctuating=True,
)
def transactions_after_contact(ctx: Ctx):
    return value_only(sales_count(ctx))


@kpi(
    "Iadv-5",
    "Website's transactions",
    definition="all web sales",
    date_basis="placed_at",
    kind="count",
    dims=WEBSITE,
    fluctuating=True,
)
def website_transactions(ctx: Ctx):
    return value_only(count(_channel_sales(ctx, "web")))


@kpi(
    "Iadv-6",
    "AOV after a contact",
    definition="Iadv-2 / Iadv-4",
    date_basis="placed_at",
    kind="mean",
    dims=SALES_DIMS,
    fluctuating=True,
)
def aov_after_contact(ctx: Ctx):
    return ratio(sales_total(ctx), sales_count(ctx))


@kpi(
    "Iadv-7",
    "Website's AOV",
    definition="Iadv-3 / Iadv-5",
    date_basis="placed_at",
    kind="mean",
    dims=WEBSITE,
    fluctuating=True,
)
def website_aov(ctx: Ctx):
    sales = _channel_sales(ctx, "web")
    return ratio(total(sales, "total"), count(sales))


@kpi(
    "Iadv-8",
    "Time before purchase",
    definition="mean over attributed sales of (placed_at − first counted "
    "visitor message of the attributed chatroom sent at or after placed_at − window and before placed_at); "
    "sales with no such message are left out",
    date_basis="placed_at",
    kind="mean",
    dims=SALES_DIMS,
    fluctuating=True,
)
def time_before_purchase(ctx: Ctx):
    sales = attributed_sales(ctx)
    sales = sales[sales["first_visitor_msg_at"].notna()]
    return mean_seconds(sales.assign(wait=elapsed_us(sales, "first_visitor_msg_at", "placed_at")), "wait")


@kpi(
    "Iadv-9",
    "Turnover per contact",
    definition="Iadv-2 / contacts handled",
    date_basis="placed_at / message sent_at",
    kind="rate",
    dims=SALES_DIMS,
    fluctuating=True,
)
def turnover_per_contact(ctx: Ctx):
    return ratio(sales_total(ctx), contacts_handled(ctx))


@kpi(
    "Iadv-10",
    "Turnover per hour",
    definition="Iadv-2 / production hours (Amb-Card-52 in hours)",
    date_basis="placed_at / session time",
    kind="rate",
    dims=MEMBER_DIMS,
    fluctuating=True,
)
def turnover_per_hour(ctx: Ctx):
    return ratio(sales_total(ctx), activity_seconds(ctx) / 3600.0)


@kpi(
    "Iadv-2-share-web",
    "Share of the website's turnover after a contact",
    definition="Iadv-2 of web orders / Iadv-3 (a breakdown value's share of the whole website)",
    date_basis="placed_at",
    kind="rate",
    dims=SALES_DIMS,
    fluctuating=True,
)
def website_share_after_contact(ctx: Ctx):
    return _share_after_contact(ctx, "web")


@kpi(
    "Iadv-2-share-store",
    "Share of the stores' turnover after a contact",
    definition="Iadv-2 of store receipts / every store sale (not cancelled, total > 0) placed in the period",
    date_basis="placed_at",
    kind="rate",
    dims=SALES_DIMS,
    fluctuating=True,
)
def store_share_after_contact(ctx: Ctx):
    return _share_after_contact(ctx, "store")
