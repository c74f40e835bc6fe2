"""The KPI catalog: `compute_kpis` runs every registered KPI over any Periods and breakdowns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from chatsales.facts import Facts

# importing a family registers its KPIs; this order is the catalog's (and the KPI reference's)
# isort: off
from chatsales.kpis import waiting_list  # noqa: F401
from chatsales.kpis import hook  # noqa: F401
from chatsales.kpis import conversations  # noqa: F401
from chatsales.kpis import dialogues  # noqa: F401
from chatsales.kpis import ratings  # noqa: F401
from chatsales.kpis import sales  # noqa: F401
from chatsales.kpis import iadvize  # noqa: F401
from chatsales.kpis import insights  # noqa: F401

# isort: on
from chatsales.kpis.registry import DIMENSIONS, REGISTRY, Ctx, Kpi
from chatsales.period import Periods

COLUMNS = ["period", "kpi", "dimension", "dimension_value", "value", "numerator", "denominator", "is_fluctuating"]


VALUES = ("value", "numerator", "denominator")


def _arrays(rows: pd.DataFrame, dimension: str) -> dict[str, np.ndarray]:
    """A KPI's rows (indexed by window and breakdown value) as plain arrays: gathered for every KPI and
    made into one frame at the end, instead of a small frame reindexed and extended per KPI. The values of
    a breakdown become text once, at the end (dimension all is 'all' everywhere: _complete_all)."""
    values = rows.index.get_level_values(1)
    return {
        "period": rows.index.get_level_values(0).to_numpy(dtype=np.int64),
        "dimension_value": None if dimension == "all" else np.asarray(values.astype(object)),
        **{column: rows[column].to_numpy(dtype="float64") for column in VALUES},
    }


def _complete_all(rows: dict[str, np.ndarray], kpi: Kpi, periods: Periods) -> dict[str, np.ndarray]:
    """Dimension all exists for every window: an empty count or sum is 0, an empty rate or mean is null
    (its numerator and denominator 0)."""
    n = len(periods)
    out = {column: np.full(n, np.nan) for column in VALUES}
    for column in VALUES:
        out[column][rows["period"]] = rows[column]
    zero = (
        ("value",)
        if kpi.kind in ("count", "sum")
        else ("numerator", "denominator")
        if kpi.kind in ("rate", "mean")
        else ()
    )
    for column in zero:
        out[column][np.isnan(out[column])] = 0.0
    return {"period": np.arange(n, dtype=np.int64), "dimension_value": np.full(n, "all", dtype=object), **out}


def compute_kpis(
    facts: Facts | Mapping[str, pd.DataFrame],
    periods: Periods,
    dimensions: Iterable[str] = DIMENSIONS,
    filters: Mapping[str, str] | None = None,
    refs: Iterable[str] | None = None,
    memo: dict | None = None,
) -> pd.DataFrame:
    """Every KPI (or `refs`) × window × applicable breakdown, sorted; `period` indexes `periods`.
    `memo` holds the shared measures; pass the same dict to compute_charts over the same facts, periods and
    filters to compute them once for both."""
    if not isinstance(facts, Facts):
        facts = Facts.from_tables(facts)
    parts, labels = [], []
    memo = {} if memo is None else memo
    dimensions = set(dimensions)
    for dimension in (d for d in DIMENSIONS if d in dimensions):  # a breakdown at a time, see below
        for ref in refs or REGISTRY:
            kpi = REGISTRY[ref]
            if dimension not in kpi.dimensions():
                continue
            rows = _arrays(kpi.fn(Ctx(facts, periods, dimension, kpi.dims, dict(filters or {}), memo)), dimension)
            if dimension == "all":
                rows = _complete_all(rows, kpi, periods)
            parts.append(rows)
            labels.append((ref, dimension, kpi.fluctuating))
        if dimension != "all":  # what other breakdowns derive from is dimension all's (window_activity)
            memo.pop(("breakdown", dimension), None)
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    sizes = [len(part["period"]) for part in parts]
    ref, dimension, fluctuating = (np.repeat(np.array(column, dtype=object), sizes) for column in zip(*labels))
    out = pd.DataFrame(
        {
            "period": np.concatenate([part["period"] for part in parts]),
            "kpi": ref,
            "dimension": dimension,
            "dimension_value": np.concatenate([part["dimension_value"] for part in parts]),
            **{column: np.concatenate([part[column] for part in parts]) for column in VALUES},
            "is_fluctuating": fluctuating,
        }
    )
    out["value"] = out["value"].replace([np.inf, -np.inf], np.nan)
    out = out.astype({"kpi": "str", "dimension": "str", "dimension_value": "str", "is_fluctuating": "bool"})
    return out.sort_values(["period", "kpi", "dimension", "dimension_value"], kind="stable").reset_index(drop=True)


def kpi_reference_markdown() -> str:
    """The README's KPI reference, generated from the registry so the docs cannot drift from the code."""
    lines = ["| ref | name | definition | date basis | breakdowns | fixed / fluctuating |", "|---|---|---|---|---|---|"]
    for k in REGISTRY.values():
        breakdowns = ", ".join(k.dimensions())
        lines.append(
            f"| {k.ref} | {k.name} | {k.definition} | {k.date_basis} | {breakdowns} | "
            f"{'fluctuating' if k.fluctuating else 'fixed'} |"
        )
    from chatsales.kpis.charts import CHARTS, LINE_BY_SOURCE, LINE_SERIES  # charts import the families

    lines += [
        "",
        "Charts (`kpi_buckets_daily`; buckets lower-inclusive, upper-exclusive):",
        "",
        "| ref | name | definition | date basis | buckets | breakdowns |",
        "|---|---|---|---|---|---|",
    ]
    for c in CHARTS.values():
        lines.append(
            f"| {c.ref} | {c.name} | {c.definition} | {c.date_basis} | {', '.join(c.buckets)} | "
            f"{', '.join(c.breakdowns)} |"
        )
    lines += [
        "",
        "Line charts (series of `kpi_daily`, one point per day):",
        "",
        "| ref | lines (KPI) | source filter |",
        "|---|---|---|",
    ]
    for ref, series in LINE_SERIES.items():
        shown = "; ".join(f"{s.label} ({s.ref}{f', source {s.source}' if s.source else ''})" for s in series)
        lines.append(f"| {ref} | {shown} | {'yes' if ref in LINE_BY_SOURCE else 'no'} |")
    from chatsales.kpis.members_list import COLUMNS as MEMBER_COLUMNS

    lines += [
        "",
        "Members list (Chat-List-1, `member_daily`): per member and day (or period) with any of these "
        "figures, beside `member_id`, `last_name`, `first_name`, `role`: "
        + ", ".join(f"`{column}` ({ref})" for column, ref in MEMBER_COLUMNS.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"
