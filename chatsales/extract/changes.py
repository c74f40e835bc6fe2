"""Change rows: which reporting days a change of the sources affects, as (what, first_day, last_day, rows).

A change is named by what happened (`late_rating`, `order_update`, `dialogue_established`, …) so the
sensor's log and the runs' tags say why a day is re-run. Days are reporting-timezone dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

from chatsales.extract import empty_changes


def local_dates(instants: pd.Series, timezone: str) -> pd.Series:
    """The reporting day of each UTC instant, as datetime64[D] (NaT stays NaT): no Python object per row."""
    local = instants.astype("datetime64[us, UTC]").dt.tz_convert(timezone).dt.tz_localize(None)
    return pd.Series(local.to_numpy().astype("datetime64[D]"), index=instants.index)


def _days(values) -> np.ndarray:
    """Days (dates, datetime64 or text) as datetime64[D]."""
    if isinstance(values, pd.Series) and values.dtype.kind == "M":
        return values.to_numpy().astype("datetime64[D]")
    return pd.to_datetime(pd.Series(list(values), dtype=object)).to_numpy().astype("datetime64[D]")


def spans(what: str, first, last=None) -> pd.DataFrame:
    """Distinct day spans of one kind of change with the number of rows behind each; a missing day drops."""
    lo = _days(first)
    hi = lo if last is None else _days(last)
    keep = ~np.isnat(lo) & ~np.isnat(hi)
    lo, hi = lo[keep], np.maximum(lo[keep], hi[keep])
    if not len(lo):
        return empty_changes()
    pairs, counts = np.unique(np.stack([lo.astype(np.int64), hi.astype(np.int64)], axis=1), axis=0, return_counts=True)
    return pd.DataFrame(
        {
            "what": what,
            "first_day": pairs[:, 0].astype("datetime64[D]").astype(object),
            "last_day": pairs[:, 1].astype("datetime64[D]").astype(object),
            "rows": counts.astype("int64"),
        }
    )


def days_of(what: str, instants: pd.Series, timezone: str) -> pd.DataFrame:
    """Each instant's own day."""
    return spans(what, local_dates(instants, timezone))


def shifted(days: pd.Series, by: int) -> pd.Series:
    """Days (datetime64[D]) moved by `by` days."""
    return pd.Series(days.to_numpy().astype("datetime64[D]") + np.timedelta64(by, "D"), index=days.index)


def combine(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One change frame: the same span of the same kind counted once, rows added."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_changes()
    frame = pd.concat(parts, ignore_index=True)
    return (
        frame.groupby(["what", "first_day", "last_day"], sort=True)["rows"]
        .sum()
        .reset_index()
        .astype({"rows": "int64"})
    )


def expand(changes: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """One row per (what, day) for the days of the spans inside first..last (with the change's other
    columns but the span, e.g. its seq): what a planner works on."""
    if changes.empty:
        return pd.DataFrame({"what": pd.Series(dtype="str"), "day": pd.Series(dtype="object")})
    lo = np.maximum(pd.to_datetime(changes["first_day"]).to_numpy(dtype="datetime64[D]"), np.datetime64(first, "D"))
    hi = np.minimum(pd.to_datetime(changes["last_day"]).to_numpy(dtype="datetime64[D]"), np.datetime64(last, "D"))
    n = np.maximum((hi - lo).astype(np.int64) + 1, 0)
    row = np.repeat(np.arange(len(changes)), n)
    step = np.arange(len(row)) - np.repeat(np.cumsum(n) - n, n)
    days = (np.repeat(lo, n) + step.astype("timedelta64[D]")).astype(object)
    other = changes.drop(columns=["first_day", "last_day", "rows", "what"], errors="ignore")
    out = pd.DataFrame(
        {"what": changes["what"].to_numpy()[row], "day": days, **{c: other[c].to_numpy()[row] for c in other.columns}}
    )
    return out.drop_duplicates(ignore_index=True)
