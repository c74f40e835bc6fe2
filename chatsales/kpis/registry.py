"""The KPI registry: one declarative record per indicator, keyed by its ref.

A KPI names its date basis, kind, whether it fluctuates, which breakdowns apply (each mapped to the
column of its fact that holds that dimension) and one function that computes every window and every value
of the breakdown at once. The daily partitions, `chatsales kpis` for any period, the README's reference and
the tests all read this one registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from chatsales.facts import Facts
from chatsales.period import Periods

DIMENSIONS = ("all", "source", "channel", "member", "role")
KINDS = ("count", "rate", "mean", "median", "sum")
KEY = ["period", "dimension_value"]

# the columns of each fact that hold a dimension, as most KPIs use them
ROOM_DIMS = {"source": "source", "channel": "channel", "member": "member_id", "role": "role"}
REQUEST_DIMS = {"source": "source", "channel": "channel", "member": "handled_by", "role": "role"}
SALES_DIMS = {"source": "source", "channel": "touchpoint", "member": "member_id", "role": "role"}
MEMBER_DIMS = {"member": "member_id", "role": "role"}


@dataclass
class Ctx:
    """What a KPI function sees: the facts, the windows, the breakdown and the user's filters."""

    facts: Facts
    periods: Periods
    dimension: str
    dims: Mapping[str, str]  # the KPI's dimension → column mapping
    filters: Mapping[str, str] = field(default_factory=dict)
    memo: dict = field(default_factory=dict)  # shared measures of one compute_kpis call (see `shared`)

    def select(self, frame: pd.DataFrame, dims: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Rows that pass the filters that apply (a filter on a dimension the KPI ignores is ignored)."""
        dims = self.dims if dims is None else dims
        applied = [(dims[name], str(value)) for name, value in self.filters.items() if name in dims]
        if not applied:  # no copy of every column (a year at 10x: ten million rows each time)
            return frame
        keep = np.ones(len(frame), dtype=bool)
        for column, value in applied:
            values = frame[column]
            if not isinstance(values.dtype, pd.CategoricalDtype):
                values = values.astype("str")
            keep &= values.eq(value).to_numpy()
        return frame[keep]

    def keyed(self, frame: pd.DataFrame, ts_column: str, dims: Mapping[str, str] | None = None) -> pd.DataFrame:
        """The filtered rows whose `ts_column` falls in a window, with `period` and `dimension_value`. Kept in
        the memo: a dozen KPIs and charts key the same fact on the same date (chatrooms by started_at or
        established_at), and each keying copies every column of the rows it keeps (callers must not modify
        what it returns). The memo holds the frame too, so its id cannot be another frame's later."""
        dims = self.dims if dims is None else dims
        key = ("keyed", id(frame), ts_column, tuple(dims.items()))
        held = self.breakdown_memo.get(key)
        if held is None or held[0] is not frame:
            held = self.breakdown_memo[key] = (frame, self._keyed(frame, ts_column, dims))
        return held[1]

    @property
    def breakdown_memo(self) -> dict:
        """The part of the memo that belongs to this breakdown: compute_kpis drops it once the breakdown is
        done, as no other one reads it (keeping every breakdown's keyed frames cost a gigabyte at 10x)."""
        return self.memo.setdefault(("breakdown", self.dimension), {})

    def _keyed(self, frame: pd.DataFrame, ts_column: str, dims: Mapping[str, str]) -> pd.DataFrame:
        frame = self.select(frame, dims)
        labels = self.periods.label(frame[ts_column])
        keep = labels >= 0
        out = frame[keep]  # a new frame already (copy on write): no second copy
        out["period"] = labels[keep]
        # categorical: every later groupby on it reads integer codes instead of hashing the text again
        if self.dimension == "all":
            out["dimension_value"] = pd.Categorical.from_codes(np.zeros(len(out), dtype=np.int8), ["all"])
        else:
            values = out[dims[self.dimension]]
            if not isinstance(values.dtype, pd.CategoricalDtype):  # (with_rooms' are already)
                values = values.astype("str").astype("category")
            out["dimension_value"] = values
            out = out[out["dimension_value"].notna()]
        return out

    def with_rooms(self, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """`frame` (with the chatroom's integer key `room`) with the chatroom's columns joined; its text
        columns come categorical, so joining them onto ten million messages copies codes, not text."""
        key = ("chatrooms by room",)
        if key not in self.memo:
            rooms = self.facts.chatrooms.set_index("room")
            text = [c for c in ("source", "channel", "member_id") if c in rooms.columns]
            self.memo[key] = rooms.astype(
                {c: pd.CategoricalDtype(pd.Index(rooms[c].dropna().unique()).sort_values()) for c in text}
            )
        # looked up in the rooms' index (its hash table is built once, kept by pandas), not a join that hashes
        # both sides again each time; a room missing from chatrooms gets nulls, as a left join would
        found = self.memo[key][columns].reindex(frame["room"].to_numpy())
        return frame.assign(**{column: found[column].array for column in columns})


def shared(fn: Callable[..., object]) -> Callable[..., object]:
    """A measure several KPIs use, computed once per breakdown (and per value of its other arguments, which
    must be hashable) in one compute_kpis call (callers must not modify what it returns)."""

    def measure(ctx: Ctx, *args):
        memo, key = ctx.breakdown_memo, (fn.__module__, fn.__qualname__, *args)
        if key not in memo:
            memo[key] = fn(ctx, *args)
        return memo[key]

    measure.__doc__, measure.__name__ = fn.__doc__, fn.__name__
    return measure


def _single_value(frame: pd.DataFrame):
    """The breakdown value every row shares when there is one (dimension all: a categorical of one value),
    else None: counting by window alone is then a bincount instead of a two-key groupby."""
    values = frame["dimension_value"]
    if isinstance(values.dtype, pd.CategoricalDtype) and len(values.cat.categories) == 1:
        return values.cat.categories[0]
    return None


def count(frame: pd.DataFrame, distinct: str | None = None) -> pd.Series:
    """Rows (or distinct non-null values of `distinct`) per window and breakdown value."""
    if frame.empty:
        return pd.Series(dtype="float64", index=pd.MultiIndex.from_arrays([[], []], names=KEY))
    single = _single_value(frame)
    if single is None:
        groups = frame.groupby(KEY)
        return (groups[distinct].nunique() if distinct else groups.size()).astype("float64")
    period = frame["period"].to_numpy(dtype=np.int64)
    if distinct:
        codes, values = pd.factorize(frame[distinct])  # -1: null, not counted
        period, codes = period[codes >= 0], codes[codes >= 0].astype(np.int64)
        if len(period) and period.min() == period.max():  # one window (a user's period): every value is in it
            period = np.full(len(values), period[0])
        else:
            width = max(len(values), 1)
            period = np.unique(period * width + codes) // width
    n = np.bincount(period)
    present = np.flatnonzero(n)
    index = pd.MultiIndex.from_arrays(
        [present, pd.Categorical.from_codes(np.zeros(len(present), dtype=np.int8), [single])], names=KEY
    )
    return pd.Series(n[present].astype("float64"), index=index)


def total(frame: pd.DataFrame, column: str) -> pd.Series:
    if frame.empty:
        return pd.Series(dtype="float64", index=pd.MultiIndex.from_arrays([[], []], names=KEY))
    return frame.groupby(KEY)[column].sum().astype("float64")


def median(frame: pd.DataFrame, column: str) -> pd.Series:
    if frame.empty:
        return pd.Series(dtype="float64", index=pd.MultiIndex.from_arrays([[], []], names=KEY))
    return frame.groupby(KEY)[column].median().astype("float64")


def elapsed_us(frame: pd.DataFrame, start: str, end: str) -> pd.Series:
    """end − start in integer microseconds: sums of integers are exact, so a mean does not depend on the
    order rows were added in (a re-run gives the same bytes)."""
    return frame[end].astype("datetime64[us, UTC]").astype("int64") - frame[start].astype("datetime64[us, UTC]").astype(
        "int64"
    )


def mean_seconds(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean of a microsecond column, in seconds, with the sum (seconds) and count beside it."""
    return ratio(total(frame, column) / 1e6, count(frame))


def median_seconds(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return value_only(median(frame, column) / 1e6)


def value_only(values: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"value": values, "numerator": np.nan, "denominator": np.nan})


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.DataFrame:
    """A rate or a mean: value = numerator / denominator, null where the denominator is 0."""
    if numerator.index.equals(denominator.index):  # the usual case: no alignment to compute
        num = np.nan_to_num(numerator.to_numpy(dtype="float64"), nan=0.0)
        den = np.nan_to_num(denominator.to_numpy(dtype="float64"), nan=0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
        return pd.DataFrame({"value": value, "numerator": num, "denominator": den}, index=numerator.index)
    both = pd.concat([numerator.rename("numerator"), denominator.rename("denominator")], axis=1).fillna(0.0)
    both["value"] = both["numerator"] / both["denominator"].where(both["denominator"] != 0)
    return both[["value", "numerator", "denominator"]]


@dataclass(frozen=True)
class Kpi:
    ref: str
    name: str
    definition: str
    date_basis: str
    kind: str
    fluctuating: bool
    dims: Mapping[str, str]
    fn: Callable[[Ctx], pd.DataFrame]

    def dimensions(self) -> tuple[str, ...]:
        return ("all", *[d for d in DIMENSIONS[1:] if d in self.dims])


REGISTRY: dict[str, Kpi] = {}


def kpi(
    ref: str,
    name: str,
    *,
    definition: str,
    date_basis: str,
    kind: str,
    dims: Mapping[str, str],
    fluctuating: bool = False,
):
    """Register the decorated function as the KPI `ref`."""
    if kind not in KINDS:
        raise ValueError(f"{ref}: unknown kind {kind}")

    def register(fn: Callable[[Ctx], pd.DataFrame]) -> Callable[[Ctx], pd.DataFrame]:
        if ref in REGISTRY:
            raise ValueError(f"KPI {ref} registered twice")
        REGISTRY[ref] = Kpi(ref, name, definition, date_basis, kind, fluctuating, dict(dims), fn)
        return fn

    return register
