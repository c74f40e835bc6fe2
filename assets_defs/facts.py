"""Facts: everything a KPI of the day reads besides its chat activity."""

import dagster as dg

from assets_defs.common import DAILY, per_day, run_days
from chatsales import days as chain
from resources.lake import LakeResource

FACT_NAMES = ("ratings", "hook_events", "member_sessions", "orders", "order_lines")


def facts_of_range(lake: LakeResource, days: chain.DayRange, rows, lines) -> dict:
    return chain.day_facts(
        lake.lake, days, chain.members(lake.lake), rows, lines, None, chain.longest_session_days(lake.catalog)
    )


@dg.asset(
    **DAILY,
    group_name="facts",
    kinds={"pandas"},
    description="The day's ratings (by request), hook events, member sessions (split at local midnight), "
    "orders with their attribution, and the lines of attributed sales with whether the product "
    "had been shown in the credited chatroom before: the facts KPIs read.",
)
def conversation_facts(
    context: dg.AssetExecutionContext, order_attribution, customer_identities: dict, lake: LakeResource
) -> dict:
    days = run_days(context)
    facts = facts_of_range(lake, days, order_attribution, customer_identities["order_lines"])
    counts = {name: frame.groupby("day").size() for name, frame in facts.items()}
    per_day(
        context,
        {day: {f"rows_{name}": int(series.get(day, 0)) for name, series in counts.items()} for day in days.days},
    )
    return facts
