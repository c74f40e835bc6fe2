"""Attribution: which chatroom, if any, gets the credit for each order, by the rule of docs/attribution.md."""

import dagster as dg
import pandas as pd

from assets_defs.activity import chat_activity
from assets_defs.common import DAILY, WINDOW_BEFORE, per_day, run_days
from assets_defs.state import conversation_state
from chatsales import days as chain
from chatsales.facts import first_visitor_messages
from chatsales.publication import attribution_summary
from resources.lake import LakeResource
from resources.settings import SettingsResource

ONE_ROW_CHECK = "one_attribution_row_per_order"
SALES_CHECK = "attributed_sales_within_total"


def attribute_range(lake, days: chain.DayRange, identified: dict, window_days: int) -> pd.DataFrame:
    """The attributed_orders rows of the days (with Iadv-8's first visitor message): what the asset and the
    re-attribution job both compute."""
    activity = chain.window_activity(lake.lake, days.widened(before=window_days + 1))
    rooms = chain.rooms_by_id(lake.lake, identified["candidates"]["chatroom_id"])
    window = chain.attribution_window(lake.lake, rooms, activity)
    rows = chain.attribute_days(
        identified["orders"], identified["candidates"], lake.lake, window, window_days, lake.catalog, days.timezone
    )
    return rows.assign(first_visitor_msg_at=first_visitor_messages(rows, activity).array)


@dg.asset(
    **DAILY,
    group_name="attribution",
    kinds={"duckdb"},
    deps=[dg.AssetDep(chat_activity, partition_mapping=WINDOW_BEFORE), conversation_state],
    check_specs=[
        dg.AssetCheckSpec(
            ONE_ROW_CHECK,
            asset="order_attribution",
            blocking=True,
            description="Every order and receipt of the day has exactly one row.",
        ),
        dg.AssetCheckSpec(
            SALES_CHECK,
            asset="order_attribution",
            blocking=True,
            description="Attributed sales never exceed total sales, per day.",
        ),
    ],
    description="One row per order and receipt of the day: the winning chatroom (member, source, "
    "touchpoint, match key, last message before the order) or the one reason it is not "
    "attributed. Reads the chat activity of the attribution window before the day and the "
    "chatrooms' milestones; days before the first partition are read from the lake.",
)
def order_attribution(
    context: dg.AssetExecutionContext, customer_identities: dict, lake: LakeResource, settings: SettingsResource
):
    days = run_days(context)
    rows = attribute_range(lake, days, customer_identities, settings.window_days)
    # every figure per day, the row count too: metadata on the output itself would be the run's total, which
    # Dagster files under each of its days
    per_day(
        context,
        {day: {"dagster/row_count": len(part), **attribution_summary(part)} for day, part in rows.groupby("day")},
    )
    yield dg.Output(rows)
    orders = customer_identities["orders"]
    duplicated = int(rows.duplicated(["sales_channel", "order_id"]).sum())
    yield dg.AssetCheckResult(
        check_name=ONE_ROW_CHECK,
        passed=duplicated == 0 and len(rows) == len(orders),
        metadata={"orders": len(orders), "rows": len(rows), "duplicated": duplicated},
    )
    sales = rows[rows["is_sale"]]
    per_day_totals = (
        sales.assign(attributed_total=sales["total"].where(sales["attributed"], 0.0))
        .groupby("day")[["total", "attributed_total"]]
        .sum()
    )
    bad = per_day_totals[per_day_totals["attributed_total"] > per_day_totals["total"] + 1e-6]
    yield dg.AssetCheckResult(
        check_name=SALES_CHECK,
        passed=bad.empty,
        metadata={"days_checked": len(per_day_totals), "days_failing": len(bad)},
    )
