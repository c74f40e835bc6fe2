"""Chat activity: the counted messages of each reporting day, the fact every conversation KPI starts from."""

import dagster as dg
import pandas as pd

from assets_defs.common import DAILY, per_day, run_days
from assets_defs.sources import chat_platform
from assets_defs.state import conversation_state
from chatsales import days as chain
from resources.lake import LakeResource


@dg.asset(
    **DAILY,
    group_name="facts",
    kinds={"pandas"},
    deps=[chat_platform, conversation_state],
    description="The day's counted messages (a visitor's or a member's, not automatic) in external "
    "chatrooms, with their kind, product and email fill: the messages fact.",
)
def chat_activity(context: dg.AssetExecutionContext, lake: LakeResource) -> pd.DataFrame:
    days = run_days(context)
    activity = chain.chat_activity(lake.lake, days)
    by_day = activity.groupby("day")
    per_day(
        context,
        {
            day: {
                "messages": len(rows),
                "chatrooms": rows["chatroom_id"].nunique(),
                "visitor_messages": int(rows["sender"].eq("visitor").sum()),
            }
            for day, rows in by_day
        },
    )
    return activity
