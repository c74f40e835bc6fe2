"""The day tables of the KPI layer (kpi_daily, member_daily, kpi_buckets_daily) for a list of reporting days: what
the nightly asset and the re-attribution job both publish, computed one way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from chatsales.facts import Facts
from chatsales.kpis import compute_kpis
from chatsales.kpis.charts import compute_charts
from chatsales.kpis.members_list import members_list
from chatsales.period import Periods


def daily_tables(
    facts: Mapping[str, pd.DataFrame], members: pd.DataFrame, days: Sequence[date], timezone: str
) -> dict[str, pd.DataFrame]:
    """{"kpi_daily", "member_daily", "kpi_buckets_daily"}: every KPI, the members list and the chart
    buckets for each day, with a `day` column. KPIs and charts share their measures (one memo)."""
    days = list(days)
    periods, facts, memo = Periods.daily(days, timezone), Facts.from_tables(facts), {}
    tables = {"kpi_daily": compute_kpis(facts, periods, memo=memo)}
    tables["member_daily"] = members_list(tables["kpi_daily"], members)
    tables["kpi_buckets_daily"] = compute_charts(facts, periods, memo=memo)
    day_of = np.array(days, dtype=object)
    return {
        name: frame.assign(day=day_of[frame.pop("period").to_numpy(dtype="int64")]) for name, frame in tables.items()
    }
