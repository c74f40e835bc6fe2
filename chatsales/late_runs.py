"""Which past days to recompute for the changes the watermarks found, and why.

Only days already published are re-run (a day never run belongs to the schedule or a backfill), only
within the horizon (CHATSALES_LATE_HORIZON_DAYS), and consecutive days go into one run (the assets run a
date range as one run). Each run says why: the kinds of change behind it and how many of its days each
one touched. The run key is derived from the new watermarks, so a tick that is retried requests nothing
twice, and a change, once behind the watermark, is never seen again.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LateRun:
    days: tuple[date, ...]          # consecutive reporting days
    sources: tuple[str, ...]        # the source assets whose data changed ("reporting_db": derived only)
    reasons: tuple[tuple[str, int], ...]   # (kind of change, number of the run's days it touched)
    run_key: str

    @property
    def label(self) -> str:
        return str(self.days[0]) if len(self.days) == 1 else f"{self.days[0]}..{self.days[-1]}"

    @property
    def why(self) -> str:
        return ", ".join(f"{what} ({n} day{'s' if n > 1 else ''})" for what, n in self.reasons)


@dataclass(frozen=True)
class LatePlan:
    runs: tuple[LateRun, ...]
    beyond_horizon: int             # affected days older than the horizon: not re-run
    not_published: int              # affected days never published yet: the schedule's or a backfill's

    def summary(self) -> str:
        parts = [f"{len(self.runs)} run(s): " + "; ".join(f"{r.label} [{r.why}]" for r in self.runs)
                 if self.runs else "nothing to re-run"]
        if self.beyond_horizon:
            parts.append(f"{self.beyond_horizon} day(s) beyond the horizon left alone")
        if self.not_published:
            parts.append(f"{self.not_published} day(s) not published yet left to the schedule")
        return "; ".join(parts)


def _expand_forward(changes: pd.DataFrame, last_day: date | None) -> pd.DataFrame:
    """A `forward` change affects its day and every day after it, up to the last published day."""
    is_forward = changes["forward"].to_numpy(bool)
    if not is_forward.any() or last_day is None:
        return changes
    forward = changes[is_forward]
    first = forward["day"].to_numpy(dtype="datetime64[D]")
    spans = np.maximum((np.datetime64(last_day, "D") - first).astype(np.int64) + 1, 1)
    repeated = forward.loc[forward.index.repeat(spans)]
    step = repeated.groupby(level=0).cumcount().to_numpy()
    days = np.repeat(first, spans) + step.astype("timedelta64[D]")
    return pd.concat([changes[~is_forward], repeated.assign(day=days.astype(object))], ignore_index=True)


def plan_late_runs(changes: pd.DataFrame, published: set[date], today: date, horizon_days: int,
                   tick: str) -> LatePlan:
    """`changes` from chatsales.watermarks; `published` the days the reporting DB holds; `tick` a digest of
    the new watermarks (part of every run key)."""
    if changes.empty:
        return LatePlan((), 0, 0)
    changes = _expand_forward(changes, max(published) if published else None)
    first = today - timedelta(days=horizon_days)
    days = changes["day"]
    old = (days < first).to_numpy()
    known = days.isin(published).to_numpy()
    beyond = int(days[old].nunique())
    unpublished = int(days[~old & ~known].nunique())
    keep = changes[~old & known]
    if keep.empty:
        return LatePlan((), beyond, unpublished)
    ordinals = keep["day"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    unique = np.unique(ordinals)
    segment_of_day = np.cumsum(np.r_[1, np.diff(unique) != 1])     # consecutive days share a segment
    keep = keep.assign(segment=segment_of_day[np.searchsorted(unique, ordinals)])
    runs = []
    for segment, rows in keep.groupby("segment", sort=True):       # a loop over runs, not rows
        run_days = tuple(sorted(set(rows["day"])))
        reasons = tuple(rows.groupby("what")["day"].nunique().sort_values(ascending=False, kind="stable").items())
        sources = tuple(sorted(set(rows["source"])))
        key = hashlib.sha1(f"{tick}|{run_days[0]}|{run_days[-1]}|{sources}".encode()).hexdigest()[:20]
        runs.append(LateRun(run_days, sources, tuple((str(w), int(n)) for w, n in reasons), f"late-{key}"))
    return LatePlan(tuple(runs), beyond, unpublished)
