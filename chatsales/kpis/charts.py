"""Chart series (kpis.md, Charts): the donut and bar charts as bucket counts, the line charts as KPI series.

Donuts and bars are counts per bucket, computed from the same Facts and Periods as the KPIs (so a day's
buckets and any user period's come from one code path) and written to `kpi_buckets_daily`. Every bucket of
a chart is written for every window and breakdown value, with count 0 when empty, so a chart's axis never
changes from one day to the next. Duration buckets are lower-inclusive, upper-exclusive: exactly 60 s is
"1–2 min". A bucket is found with one `np.searchsorted` over all rows and counted with one `np.bincount`.

Bounds where the seed's words leave room (decided here): a month is 30 days; the seed's "2–5, 5–10" are
minutes; Chat-Bar-50's "8–30 days" follows "1–7 days" without a gap, so it is [7 days, 30 days) under the
seed's label; a negative duration (clock skew between systems) counts in the first bucket.

Line charts need no table of their own: each line is a KPI of `kpi_daily` (LINE_SERIES says which ref and
which source breakdown), and `line_series` reads them from KPI rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from chatsales.facts import Facts
from chatsales.kpis.dialogues import _durations as new_dialogue_durations
from chatsales.kpis.measures import attributed_sales
from chatsales.kpis.registry import REGISTRY, ROOM_DIMS, SALES_DIMS, Ctx, elapsed_us
from chatsales.period import NAT, Periods, to_us
from chatsales.schema import REQUEST_SOURCES

MIN, HOUR, DAY = 60, 3_600, 86_400
MONTH = 30 * DAY
COLUMNS = ["period", "chart", "dimension", "dimension_value", "bucket", "count"]

HANDLING_BUCKETS = (
    ("<1 min", 0),
    ("1–2 min", MIN),
    ("2–5 min", 2 * MIN),
    ("5–10 min", 5 * MIN),
    ("10–30 min", 10 * MIN),
    ("30 min–1 day", 30 * MIN),
    ("1–3 days", DAY),
    (">3 days", 3 * DAY),
)
DELAY_BUCKETS = (("<1 h", 0), ("1 h–1 day", HOUR), ("1–7 days", DAY), ("7–30 days", 7 * DAY), (">30 days", 30 * DAY))
DURATION_BUCKETS = (
    ("0–2 min", 0),
    ("2–5 min", 2 * MIN),
    ("5–10 min", 5 * MIN),
    ("10–30 min", 10 * MIN),
    ("30 min–1 h", 30 * MIN),
    ("1 h–1 day", HOUR),
    ("1–7 days", DAY),
    ("8–30 days", 7 * DAY),
    ("1–6 months", MONTH),
    (">6 months", 6 * MONTH),
)
NO_FILTER: dict[str, str] = {}
HANDLER = {"member": "handled_by", "role": "role"}


@dataclass(frozen=True)
class Chart:
    """A bucketed chart: `fn` gives the counted rows (keyed by window and breakdown value) with a `us`
    duration column (duration charts, `bounds` set) or a `category` column (donuts, the buckets)."""

    ref: str
    name: str
    definition: str
    date_basis: str
    buckets: tuple[str, ...]
    bounds: tuple[int, ...] | None  # lower bound in seconds of each bucket; None: categorical
    dims: Mapping[str, str]  # filters that apply, as for KPIs
    breakdowns: tuple[str, ...]  # dimensions written to kpi_buckets_daily
    fn: Callable[[Ctx], pd.DataFrame]

    def bucket_of(self, rows: pd.DataFrame) -> np.ndarray:
        """The bucket index of every row, vectorised (-1: outside every bucket)."""
        if self.bounds is None:
            return positions(rows["category"], list(self.buckets))
        edges = np.asarray(self.bounds[1:], dtype=np.int64) * 1_000_000
        return np.searchsorted(edges, rows["us"].to_numpy(dtype=np.int64), side="right")


def positions(values: pd.Series, labels: list[str]) -> np.ndarray:
    """The index of each value's text in `labels` (-1: none of them). A categorical (the facts' coded text,
    a breakdown's values) is looked up by its few categories, not row by row: a year at 10x has millions."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        lookup = pd.Index(labels).get_indexer(values.cat.categories.astype("str"))
        return np.append(lookup, -1)[values.cat.codes.to_numpy()].astype(np.int64)
    return pd.Categorical(values.astype("str"), categories=labels).codes.astype(np.int64)


CHARTS: dict[str, Chart] = {}


def chart(
    ref: str,
    name: str,
    *,
    definition: str,
    date_basis: str,
    buckets,
    dims: Mapping[str, str],
    breakdowns: tuple[str, ...] = ("all",),
):
    """Register the decorated function as the chart `ref`; `buckets` are (label, lower bound s) pairs or
    plain labels (categorical)."""
    labels = tuple(b[0] if isinstance(b, tuple) else b for b in buckets)
    bounds = tuple(b[1] for b in buckets) if isinstance(buckets[0], tuple) else None

    def register(fn: Callable[[Ctx], pd.DataFrame]) -> Callable[[Ctx], pd.DataFrame]:
        if ref in CHARTS:
            raise ValueError(f"chart {ref} registered twice")
        CHARTS[ref] = Chart(ref, name, definition, date_basis, labels, bounds, dict(dims), breakdowns, fn)
        return fn

    return register


# --- donuts ---------------------------------------------------------------------------------------------


@chart(
    "Chat-Donut-1",
    "New conversations by source",
    definition="chatrooms started, by source (= Chat-Card-1 split by source)",
    date_basis="started_at",
    buckets=REQUEST_SOURCES,
    dims=ROOM_DIMS,
)
def donut_conversations(ctx: Ctx) -> pd.DataFrame:
    started = ctx.keyed(ctx.facts.chatrooms, "started_at")
    return started.assign(category=started["source"])


@chart(
    "Chat-Donut-2",
    "New dialogues by source",
    definition="chatrooms started in the period that are dialogues by the period's end, by source (non-fluctuating)",
    date_basis="started_at",
    buckets=REQUEST_SOURCES,
    dims=ROOM_DIMS,
)
def donut_dialogues(ctx: Ctx) -> pd.DataFrame:
    started = ctx.keyed(ctx.facts.chatrooms, "started_at")
    established = to_us(started["established_at"])
    dialogue = (established != NAT) & (established < ctx.periods.end_of(started["period"].to_numpy()))
    return started[dialogue].assign(category=started.loc[dialogue, "source"])


# --- bars -----------------------------------------------------------------------------------------------


@chart(
    "Chat-Bar-10",
    "Handling time",
    definition="waiting-list requests handled in the period: handled_at − created_at",
    date_basis="handled_at",
    buckets=HANDLING_BUCKETS,
    dims=HANDLER,
)
def handling_time(ctx: Ctx) -> pd.DataFrame:
    requests = ctx.facts.requests
    handled = ctx.keyed(requests[requests["source"].eq("waiting_list") & requests["handled_at"].notna()], "handled_at")
    return handled.assign(us=elapsed_us(handled, "created_at", "handled_at"))


@chart(
    "Chat-Bar-11",
    "Dialogue establishment time",
    definition="dialogues established in the period: established_at − started_at (as Chat-Card-14)",
    date_basis="established_at",
    buckets=HANDLING_BUCKETS,
    dims=ROOM_DIMS,
    breakdowns=("all", "source"),
)
def establishment_time(ctx: Ctx) -> pd.DataFrame:
    rooms = ctx.keyed(ctx.facts.chatrooms, "established_at")
    return rooms.assign(us=elapsed_us(rooms, "started_at", "established_at"))


@chart(
    "Chat-Bar-12",
    "Dialogue conversion time",
    definition="dialogues established in the period: "
    "established_at − request created_at, handling + establishment (as Chat-Card-16; chatrooms without a "
    "request are left out)",
    date_basis="established_at",
    buckets=HANDLING_BUCKETS,
    dims=ROOM_DIMS,
)
def conversion_time(ctx: Ctx) -> pd.DataFrame:
    rooms = ctx.keyed(ctx.facts.chatrooms, "established_at")
    rooms = rooms[rooms["request_created_at"].notna()]
    return rooms.assign(us=elapsed_us(rooms, "request_created_at", "established_at"))


@chart(
    "Chat-Bar-13",
    "Conversion delay",
    definition="attributed sales placed in the period (as Chat-Card-81): "
    "placed_at − last counted message of the attributed chatroom before it",
    date_basis="placed_at",
    buckets=DELAY_BUCKETS,
    dims=SALES_DIMS,
)
def conversion_delay(ctx: Ctx) -> pd.DataFrame:
    sales = attributed_sales(ctx)
    sales = sales[sales["last_message_at"].notna()]
    return sales.assign(us=elapsed_us(sales, "last_message_at", "placed_at"))


@chart(
    "Chat-Bar-50",
    "New dialogue duration",
    definition="chatrooms started in the period that are dialogues "
    "by its end: last counted message in the period − started_at (as Chat-Card-18)",
    date_basis="started_at",
    buckets=DURATION_BUCKETS,
    dims=ROOM_DIMS,
)
def dialogue_duration(ctx: Ctx) -> pd.DataFrame:
    rows = new_dialogue_durations(ctx)
    return rows.assign(us=rows["duration"])


# --- computing ------------------------------------------------------------------------------------------


def _dimension_values(dimension: str, observed: pd.Series) -> list[str]:
    """Every value a breakdown is written for: the contract's sources (stable axes), plus any other seen."""
    if dimension == "all":
        return ["all"]
    known = list(REQUEST_SOURCES) if dimension == "source" else []
    return known + sorted(set(observed.astype("str")) - set(known))


def _counts(c: Chart, rows: pd.DataFrame, periods: Periods, dimension: str) -> pd.DataFrame:
    """Every (window, breakdown value, bucket) of the chart with its count: one bincount, no row loop."""
    values = _dimension_values(dimension, rows["dimension_value"] if len(rows) else pd.Series(dtype="str"))
    n_p, n_v, n_b = len(periods), len(values), len(c.buckets)
    bucket = c.bucket_of(rows) if len(rows) else np.empty(0, dtype=np.int64)
    value = positions(rows["dimension_value"], values) if len(rows) else np.empty(0, dtype=np.int64)
    period = rows["period"].to_numpy(dtype=np.int64) if len(rows) else np.empty(0, dtype=np.int64)
    keep = (bucket >= 0) & (value >= 0)
    cell = (period[keep] * n_v + value[keep]) * n_b + bucket[keep]
    counts = np.bincount(cell, minlength=n_p * n_v * n_b)
    return pd.DataFrame(
        {
            "period": np.repeat(np.arange(n_p, dtype=np.int64), n_v * n_b),
            "chart": c.ref,
            "dimension": dimension,
            "dimension_value": np.tile(np.repeat(np.array(values, dtype=object), n_b), n_p),
            "bucket": np.tile(np.array(c.buckets, dtype=object), n_p * n_v),
            "count": counts.astype(np.int64),
        }
    )


def compute_charts(
    facts: Facts | Mapping[str, pd.DataFrame],
    periods: Periods,
    dimensions: Iterable[str] = ("all", "source"),
    filters: Mapping[str, str] | None = None,
    refs: Iterable[str] | None = None,
    memo: dict | None = None,
) -> pd.DataFrame:
    """Every chart (or `refs`) × window × breakdown × bucket with its count; `period` indexes `periods`.
    `memo` may be the one of a compute_kpis call over the same facts, periods and filters (shared measures
    are then computed once for both)."""
    if not isinstance(facts, Facts):
        facts = Facts.from_tables(facts)
    memo = {} if memo is None else memo
    parts = []
    for ref in refs or CHARTS:
        c = CHARTS[ref]
        for dimension in c.breakdowns:
            if dimension not in dimensions:
                continue
            rows = c.fn(Ctx(facts, periods, dimension, c.dims, dict(filters or {}), memo))
            parts.append(_counts(c, rows, periods, dimension))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True)[COLUMNS]


# --- line charts: series of kpi_daily -------------------------------------------------------------------


class Series(NamedTuple):
    label: str
    ref: str  # the KPI (a key of REGISTRY)
    source: str | None = None  # a fixed source: the line is that value of the KPI's source breakdown


LINE_SERIES: dict[str, tuple[Series, ...]] = {
    "Wlst-Line-1": (
        Series("New requests", "Wlst-Card-1"),
        Series("Requests handled", "Wlst-Card-10"),
        Series("Established dialogues", "Chat-Card-10", "waiting_list"),
    ),
    "Chat-Line-2": (
        Series("Total new conversations", "Chat-Card-1", "direct"),
        Series("Empty conversations", "Chat-Card-2", "direct"),
        Series("Established dialogues", "Chat-Card-10", "direct"),
    ),
    "Chat-Line-3": (Series("Active dialogues", "Chat-Card-20"), Series("New dialogues", "Chat-Card-10")),
    "Chat-Line-5": (
        Series("Dialogue establishment rate (fixed)", "Chat-Card-11"),
        Series("Dialogue establishment rate (variable)", "Chat-Card-12"),
    ),
    "Chat-Line-50": (
        Series("Active dialogue conversion rate", "Chat-Card-85"),
        Series("New dialogue conversion rate", "Chat-Card-86"),
    ),
}
# line charts the seed lets the reader filter by source: each line then reads the KPI's source breakdown
LINE_BY_SOURCE = frozenset({"Chat-Line-3", "Chat-Line-5", "Chat-Line-50"})


def line_series(kpi_rows: pd.DataFrame, ref: str, source: str | None = None) -> pd.DataFrame:
    """The line chart `ref` from KPI rows (kpi_daily, or compute_kpis output): one row per day (or period),
    one column per line. A count missing from a source breakdown is 0; a rate stays null (0 / 0)."""
    if source is not None and ref not in LINE_BY_SOURCE:
        raise ValueError(f"{ref} cannot be filtered by source")
    key = "day" if "day" in kpi_rows.columns else "period"
    index = pd.Index(sorted(kpi_rows[key].unique()), name=key)
    lines = {}
    for s in LINE_SERIES[ref]:  # two or three lines: each one vectorised selection
        src = s.source or source
        dimension, value = ("source", src) if src else ("all", "all")
        picked = kpi_rows[
            kpi_rows["kpi"].eq(s.ref)
            & kpi_rows["dimension"].eq(dimension)
            & kpi_rows["dimension_value"].astype("str").eq(value)
        ]
        line = picked.set_index(key)["value"].reindex(index)
        lines[s.label] = line.fillna(0.0) if REGISTRY[s.ref].kind == "count" else line
    return pd.DataFrame(lines, index=index)
