"""The day tables of the KPI layer (kpi_daily, member_daily) for a list of reporting days: what the nightly
asset and the re-attribution job both publish, computed one way."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from chatsales.kpis import compute_kpis
from chatsales.kpis.members_list import members_list
from chatsales.period import Periods


def daily_tables(facts: Mapping[str, pd.DataFrame], members: pd.DataFrame, days: Sequence[date],
                 timezone: str) -> dict[str, pd.DataFrame]:
    """{"kpi_daily", "member_daily"}: every KPI and the members list for each day, with a `day` column."""
    days = list(days)
    rows = compute_kpis(facts, Periods.daily(days, timezone))
    listed = members_list(rows, members)
    day_of = np.array(days, dtype=object)
    return {"kpi_daily": rows.assign(day=day_of[rows.pop("period").to_numpy(dtype="int64")]),
            "member_daily": listed.assign(day=day_of[listed.pop("period").to_numpy(dtype="int64")])}
