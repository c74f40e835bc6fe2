"""Campaign attribution (Smgo-1): each day's sales credited to the customer's latest campaign click in the
campaign window."""

import dagster as dg
import pandas as pd

from assets_defs.common import DAILY, per_day, run_days
from assets_defs.sources import marketing_touchpoints
from chatsales import days as chain
from resources.lake import LakeResource
from resources.settings import SettingsResource

GROUP = "campaigns"


@dg.asset(
    **DAILY,
    group_name=GROUP,
    kinds={"pandas"},
    deps=[marketing_touchpoints],
    description="Smgo-1: the day's sales credited to the campaign of the customer's latest click at most "
    "CHATSALES_CAMPAIGN_WINDOW_DAYS before (same email hash), with the overlap with chat "
    "attribution (a sale can be credited to both).",
)
def campaign_attribution(
    context: dg.AssetExecutionContext, order_attribution: pd.DataFrame, lake: LakeResource, settings: SettingsResource
) -> pd.DataFrame:
    days = run_days(context)
    credited = chain.campaign_orders(lake.lake, order_attribution, days, settings.campaign_window_days)
    per_day(
        context,
        {
            day: {
                "campaign_orders": len(rows),
                "campaign_sales": round(float(rows["total"].sum()), 2),
                "overlap_orders": int(rows["chat_attributed"].sum()),
            }
            for day, rows in credited.groupby("day")
        },
    )
    return credited
