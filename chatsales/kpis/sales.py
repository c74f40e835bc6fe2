"""Sales after a conversation (kpis.md, Sales; attribution.md, Amounts)."""

from __future__ import annotations

from chatsales.kpis.measures import active_dialogues, attributed_sales, sales_count, sales_total
from chatsales.kpis.registry import SALES_DIMS, Ctx, kpi, ratio, total, value_only


@kpi(
    "Chat-Card-80",
    "Total sales",
    definition="gross: sum of the totals of attributed sales incl. VAT, refunds not deducted",
    date_basis="placed_at",
    kind="sum",
    dims=SALES_DIMS,
    fluctuating=True,
)
def gross_sales(ctx: Ctx):
    return value_only(sales_total(ctx))


@kpi(
    "Chat-Card-80-net",
    "Net sales",
    definition="Chat-Card-80 − refunds of those sales + attributed returns",
    date_basis="placed_at",
    kind="sum",
    dims=SALES_DIMS,
    fluctuating=True,
)
def net_sales(ctx: Ctx):
    orders = ctx.facts.orders
    counted = orders[orders["attributed"] & (orders["is_sale"] | orders["is_return"])]
    return value_only(total(ctx.keyed(counted, "placed_at"), "net_total"))


@kpi(
    "Chat-Card-81",
    "Number of sales",
    definition="attributed sales (orders and receipts; not cancelled, total > 0)",
    date_basis="placed_at",
    kind="count",
    dims=SALES_DIMS,
    fluctuating=True,
)
def number_of_sales(ctx: Ctx):
    return value_only(sales_count(ctx))


@kpi(
    "Chat-Card-82",
    "Average sales amount",
    definition="Chat-Card-80 / Chat-Card-81",
    date_basis="placed_at",
    kind="mean",
    dims=SALES_DIMS,
    fluctuating=True,
)
def average_sale(ctx: Ctx):
    sales = attributed_sales(ctx)
    return ratio(total(sales, "total"), sales.groupby(["period", "dimension_value"]).size().astype(float))


@kpi(
    "Chat-Card-85",
    "Active dialogue conversion rate",
    definition="Chat-Card-81 / Chat-Card-20",
    date_basis="placed_at / message sent_at",
    kind="rate",
    dims=SALES_DIMS,
    fluctuating=True,
)
def active_dialogue_conversion(ctx: Ctx):
    return ratio(sales_count(ctx), active_dialogues(ctx))
