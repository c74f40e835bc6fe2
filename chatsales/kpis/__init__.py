"""The KPI catalog: `compute_kpis` runs every registered KPI over any Periods and breakdowns."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from chatsales.facts import Facts
# importing a family registers its KPIs; this order is the catalog's (and the README reference's)
from chatsales.kpis import waiting_list  # noqa: F401, I001
from chatsales.kpis import hook  # noqa: F401
from chatsales.kpis import conversations  # noqa: F401
from chatsales.kpis import dialogues  # noqa: F401
from chatsales.kpis import ratings  # noqa: F401
from chatsales.kpis import sales  # noqa: F401
from chatsales.kpis import iadvize  # noqa: F401
from chatsales.kpis import insights  # noqa: F401
from chatsales.kpis.registry import DIMENSIONS, REGISTRY, Ctx, Kpi
from chatsales.period import Periods

COLUMNS = ["period", "kpi", "dimension", "dimension_value", "value", "numerator", "denominator",
           "is_fluctuating"]


def _complete_all(rows: pd.DataFrame, kpi: Kpi, periods: Periods) -> pd.DataFrame:
    """Dimension all exists for every window: an empty count or sum is 0, an empty rate or mean is null."""
    index = pd.MultiIndex.from_product([range(len(periods)), ["all"]], names=["period", "dimension_value"])
    rows = rows.reindex(index)
    if kpi.kind in ("count", "sum"):
        rows["value"] = rows["value"].fillna(0.0)
    if kpi.kind in ("rate", "mean"):
        rows[["numerator", "denominator"]] = rows[["numerator", "denominator"]].fillna(0.0)
    return rows


def compute_kpis(facts: Facts | Mapping[str, pd.DataFrame], periods: Periods,
                 dimensions: Iterable[str] = DIMENSIONS, filters: Mapping[str, str] | None = None,
                 refs: Iterable[str] | None = None, memo: dict | None = None) -> pd.DataFrame:
    """Every KPI (or `refs`) × window × applicable breakdown, sorted; `period` indexes `periods`.
    `memo` holds the shared measures; pass the same dict to compute_charts over the same facts, periods and
    filters to compute them once for both."""
    if not isinstance(facts, Facts):
        facts = Facts.from_tables(facts)
    parts = []
    memo = {} if memo is None else memo
    for ref in (refs or REGISTRY):
        kpi = REGISTRY[ref]
        for dimension in kpi.dimensions():
            if dimension not in dimensions:
                continue
            rows = kpi.fn(Ctx(facts, periods, dimension, kpi.dims, dict(filters or {}), memo))
            if dimension == "all":
                rows = _complete_all(rows, kpi, periods)
            rows = rows.reset_index()
            rows["kpi"], rows["dimension"], rows["is_fluctuating"] = ref, dimension, kpi.fluctuating
            parts.append(rows)
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(parts, ignore_index=True)[COLUMNS]
    out["value"] = out["value"].astype("float64").replace([np.inf, -np.inf], np.nan)
    out["period"] = out["period"].astype("int64")
    out = out.astype({"kpi": "str", "dimension": "str", "dimension_value": "str", "is_fluctuating": "bool",
                      "numerator": "float64", "denominator": "float64"})
    return out.sort_values(["period", "kpi", "dimension", "dimension_value"], kind="stable").reset_index(drop=True)


def kpi_reference_markdown() -> str:
    """The README's KPI reference, generated from the registry so the docs cannot drift from the code."""
    lines = ["| ref | name | definition | date basis | breakdowns | fixed / fluctuating |", "|---|---|---|---|---|---|"]
    for k in REGISTRY.values():
        breakdowns = ", ".join(k.dimensions())
        lines.append(f"| {k.ref} | {k.name} | {k.definition} | {k.date_basis} | {breakdowns} | "
                     f"{'fluctuating' if k.fluctuating else 'fixed'} |")
    from chatsales.kpis.charts import CHARTS, LINE_BY_SOURCE, LINE_SERIES     # charts import the families

    lines += ["", "Charts (`kpi_buckets_daily`; buckets lower-inclusive, upper-exclusive):", "",
              "| ref | name | definition | date basis | buckets | breakdowns |", "|---|---|---|---|---|---|"]
    for c in CHARTS.values():
        lines.append(f"| {c.ref} | {c.name} | {c.definition} | {c.date_basis} | {', '.join(c.buckets)} | "
                     f"{', '.join(c.breakdowns)} |")
    lines += ["", "Line charts (series of `kpi_daily`, one point per day):", "",
              "| ref | lines (KPI) | source filter |", "|---|---|---|"]
    for ref, series in LINE_SERIES.items():
        shown = "; ".join(f"{s.label} ({s.ref}{f', source {s.source}' if s.source else ''})" for s in series)
        lines.append(f"| {ref} | {shown} | {'yes' if ref in LINE_BY_SOURCE else 'no'} |")
    from chatsales.kpis.members_list import COLUMNS as MEMBER_COLUMNS

    lines += ["", "Members list (Chat-List-1, `member_daily`): per member and day (or period) with any of these "
              "figures, beside `member_id`, `last_name`, `first_name`, `role`: "
              + ", ".join(f"`{column}` ({ref})" for column, ref in MEMBER_COLUMNS.items()) + "."]
    return "\n".join(lines) + "\n"
