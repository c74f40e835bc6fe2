"""The whole catalog for one user period, keyed by ref: what `chatsales kpis --json` prints.

Every ref of kpis.md has an entry: the cards as {value, numerator, denominator}; Insi-6's two halves and
Insi-7's product table beside their cards; the donut and bar charts as {"buckets": {label: count}}; the
line charts as {"days": [...]}, one point per day of the period; the members list (Chat-List-1) as
{"members": [...]}. Everything comes from the same functions as the daily partitions (one-day windows for
the lines), so a one-day period equals what that day published, and a multi-day one is computed from the
facts, never by adding up days.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import numpy as np
import pandas as pd

from chatsales.facts import Facts
from chatsales.kpis import compute_kpis
from chatsales.kpis.charts import LINE_SERIES, compute_charts, line_series
from chatsales.kpis.insights import product_table
from chatsales.kpis.members_list import COLUMNS as MEMBER_COLUMNS
from chatsales.kpis.members_list import members_list
from chatsales.period import Periods

INSI_6_HALVES = ("new", "existing")
LINE_REFS = tuple(dict.fromkeys(s.ref for series in LINE_SERIES.values() for s in series))
MEMBERS_REF = "Chat-List-1"


def json_records(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain dicts, missing values as None (JSON null, not NaN)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _number(x) -> float | None:
    return None if x is None or x != x else float(x)


def each_day(period: Periods) -> Periods:
    """The days of a one-window period as windows of their own, with its time slot and weekdays; days the
    weekday filter leaves out have no window (a line has no point there)."""
    if len(period) != 1:
        raise ValueError("each_day takes a period of one window")
    first, last = period.first_days[0], period.last_days[0]
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if period.weekdays is not None:
        days = [d for d in days if d.weekday() in period.weekdays]
    return Periods(tuple(days), tuple(days), period.timezone, period.time_slot, period.weekdays)


def period_catalog(
    facts: Facts,
    period: Periods,
    filters: Mapping[str, str] | None = None,
    members: pd.DataFrame | None = None,
    published_lines: pd.DataFrame | None = None,
) -> dict[str, dict]:
    """Every ref of the catalog for the one window of `period` under `filters`. `members` (member_id,
    last_name, first_name, role) names the members of Chat-List-1; without it the names are null.
    `published_lines`: kpi_daily rows (day, kpi, dimension, dimension_value, value) of LINE_REFS for every
    day of a period without filters, time slot or weekdays; the line charts are then those published
    series (outputs.md: line charts are kpi_daily series), not a computation of each day again."""
    if len(period) != 1:
        raise ValueError("period_catalog takes a period of one window")
    filters, memo = dict(filters or {}), {}
    cards = compute_kpis(facts, period, dimensions=("all",), filters=filters, memo=memo)
    out: dict[str, dict] = {
        ref: {"value": _number(v), "numerator": _number(n), "denominator": _number(d)}
        for ref, v, n, d in zip(cards["kpi"], cards["value"], cards["numerator"], cards["denominator"])
    }
    out["Insi-6"] = {
        half: {"orders": out[f"Insi-6-{half}-orders"]["value"], "revenue": out[f"Insi-6-{half}-revenue"]["value"]}
        for half in INSI_6_HALVES
    }
    out["Insi-7"]["products"] = json_records(product_table(facts, period, filters).drop(columns="period"))

    buckets = compute_charts(facts, period, dimensions=("all",), filters=filters, memo=memo)
    for chart, rows in buckets.groupby("chart", sort=False):
        out[chart] = {"buckets": dict(zip(rows["bucket"], rows["count"].astype(int).tolist()))}

    if published_lines is not None:
        if filters or period.filtered:
            raise ValueError("published line series hold no filter, time slot or weekdays")
        daily = published_lines
    else:
        days = each_day(period)
        daily = compute_kpis(facts, days, dimensions=("all", "source"), filters=filters, refs=LINE_REFS)
        daily["day"] = np.array(days.first_days, dtype=object)[daily.pop("period").to_numpy(dtype="int64")]
    for chart in LINE_SERIES:
        points = line_series(daily, chart).reset_index()
        out[chart] = {"days": json_records(points.assign(day=points["day"].astype(str)))}

    by_member = compute_kpis(
        facts, period, dimensions=("member",), filters=filters, refs=tuple(MEMBER_COLUMNS.values()), memo=memo
    )
    people = (
        members
        if members is not None
        else pd.DataFrame(
            {
                "member_id": pd.Series(dtype="str"),
                "last_name": pd.Series(dtype="str"),
                "first_name": pd.Series(dtype="str"),
                "role": pd.Series(dtype="Int64"),
            }
        )
    )
    out[MEMBERS_REF] = {"members": json_records(members_list(by_member, people).drop(columns="period"))}
    return out
