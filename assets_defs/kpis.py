"""The KPI catalog of each day: every card with its breakdowns, the members list, the chart buckets and the
product table (Insi-7)."""

import dagster as dg

from assets_defs.activity import chat_activity
from assets_defs.common import ANSWERS_AFTER, DAILY, per_day, run_days
from assets_defs.state import conversation_state
from chatsales import days as chain
from chatsales.kpis.daily import daily_tables
from chatsales.kpis.insights import product_daily
from resources.lake import LakeResource
from resources.reporting_db import ReportingDbResource

HEADLINES = {
    "Chat-Card-1": "conversations",
    "Chat-Card-10": "dialogues",
    "Chat-Card-81": "attributed_sales",
    "Chat-Card-80": "attributed_sales_amount",
    "Chat-Card-85": "conversion_rate",
}
COUNTS = {"conversations", "dialogues", "attributed_sales"}
# from the day's attribution rows: what a person checks first besides the cards
ATTRIBUTION_HEADLINES = ("orders", "sales", "attributed_share", "total_sales_amount")


def headline_cards(kpi_rows) -> dict:
    """Per day, the headline cards (dimension all) as numbers: counts as integers, amounts in cents, rates to
    four decimals. A card without a value that day (a rate over nothing) is left out: a gap in the Plots
    tab, not a zero."""
    cards = kpi_rows[(kpi_rows["dimension"] == "all") & kpi_rows["kpi"].isin(HEADLINES) & kpi_rows["value"].notna()]
    cards = cards.assign(name=cards["kpi"].map(HEADLINES))
    return {
        day: {
            name: (int(round(v)) if name in COUNTS else round(float(v), 2 if name.endswith("amount") else 4))
            for name, v in zip(rows["name"], rows["value"])
        }
        for day, rows in cards.groupby("day")
    }


def headline_figures(days: chain.DayRange, rows, kpi_rows) -> dict:
    """Per day of the run, the headline figures the reporting asset shows on each partition (and charts in
    its Plots tab): orders, sales, attributed share and total sales from the attribution rows, then
    conversations, dialogues, attributed sales (count and amount) and the conversion rate from the cards."""
    from chatsales.publication import attribution_summary

    cards = headline_cards(kpi_rows)
    by_day = dict(tuple(rows.groupby("day")))
    return {
        day: {
            **{
                k: v
                for k, v in attribution_summary(by_day.get(day, rows.iloc[:0])).items()
                if k in ATTRIBUTION_HEADLINES
            },
            **cards.get(day, {}),
        }
        for day in days.days
    }


def kpis_of_range(lake: LakeResource, db, days: chain.DayRange, facts: dict, rows) -> dict:
    """kpi_daily, member_daily, kpi_buckets_daily and product_daily of the days (what the asset and the
    re-attribution job both compute). The chatrooms' first sales (Chat-Card-86) come from the days published
    outside this run and the run's own attributions."""
    people = chain.members(lake.lake)
    activity = chain.chat_activity(lake.lake, days.widened(after=2))
    rooms, requests = chain.relevant_state(lake.lake, days, activity, facts["ratings"])
    established = rooms["established_at"].notna()
    first = chain.merged_first_sales(db.first_sales(rooms.loc[established, "chatroom_id"], days.days), rows)
    all_facts = chain.kpi_facts(rooms, requests, people, first, activity, facts, days.timezone)
    tables = daily_tables(all_facts.tables(), people, days.days, days.timezone)
    tables["product_daily"] = product_daily(all_facts, days.days, days.timezone)
    return tables


@dg.asset(
    **DAILY,
    group_name="kpis",
    kinds={"pandas"},
    deps=[dg.AssetDep(chat_activity, partition_mapping=ANSWERS_AFTER), conversation_state],
    description="The KPI catalog of the day for dimension all and each breakdown that applies (source, "
    "channel, member, role), with numerators and denominators; the members list (Chat-List-1); "
    "the buckets of every donut and bar chart; the product table (Insi-7). Reads the day's facts, "
    "its chat activity and the two days after it (answers within 24 h), and the state.",
)
def kpi_daily(
    context: dg.AssetExecutionContext,
    conversation_facts: dict,
    order_attribution,
    lake: LakeResource,
    reporting_db: ReportingDbResource,
) -> dict:
    days = run_days(context)
    tables = kpis_of_range(lake, reporting_db.db, days, conversation_facts, order_attribution)
    per_day(context, headline_cards(tables["kpi_daily"]))
    return tables
