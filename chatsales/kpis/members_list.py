"""The members list (Chat-List-1): per member and window, the member's own KPI values side by side.

Taken from the member breakdown of the same KPI rows, so the list can never disagree with `kpi_daily`.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = {  # member_daily column: the KPI whose member-breakdown value it shows
    "activity_seconds": "Amb-Card-52",
    "active_dialogues": "Chat-Card-21",
    "conversations_closed": "Chat-Card-70",
    "average_rating": "Chat-Card-73",
    "sales_count": "Chat-Card-81",
    "sales_total": "Chat-Card-80",
}
COUNTS = ("activity_seconds", "active_dialogues", "conversations_closed", "sales_count", "sales_total")


def members_list(kpi_rows: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """One row per window and member with any of the list's figures in that window (a session, an active
    dialogue, a closed conversation, a rating, a sale): names, role and the Chat-List-1 figures. Only the
    pairs that occur, so a day's list does not depend on which other days were computed with it."""
    rows = kpi_rows[(kpi_rows["dimension"] == "member") & kpi_rows["kpi"].isin(COLUMNS.values())]
    wide = (
        rows.set_index(["period", "dimension_value", "kpi"])["value"]
        .unstack("kpi")
        .reindex(columns=list(COLUMNS.values()))
    )
    wide.columns = list(COLUMNS)
    wide = wide.reset_index().rename(columns={"dimension_value": "member_id"})
    wide[list(COUNTS)] = wide[list(COUNTS)].fillna(0.0)
    people = members.set_index("member_id")[["last_name", "first_name", "role"]]
    out = wide.join(people, on="member_id")
    return (
        out[["period", "member_id", "last_name", "first_name", "role", *COLUMNS]]
        .sort_values(["period", "member_id"], kind="stable")
        .reset_index(drop=True)
    )
