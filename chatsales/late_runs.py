"""Which published days to compute again, and why: the late-data sensor's plan.

A published day remembers the lake change it was computed from (`pipeline_days.lake_seq`). A day is re-run
when a newer change of the catalog's log affects it (a late rating → the day of its request, a message
inserted late → its day and the days after it an attribution can reach, a late store file → its receipts'
days, …), or when a sale was newly attributed to (or taken from) a dialogue established on it after its
KPIs were computed (Chat-Card-86, from the ledger). Only published days are re-run (a day never published
belongs to the schedule or a backfill), only inside the late horizon, and consecutive days go into one run.
Each run says why, and its key is derived from what it covers, so a retried tick requests nothing twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from chatsales.extract.changes import expand


@dataclass(frozen=True)
class LateRun:
    days: tuple[date, ...]  # consecutive reporting days
    reasons: tuple[tuple[str, int], ...]  # (kind of change, number of the run's days it touched)
    run_key: str

    @property
    def label(self) -> str:
        return str(self.days[0]) if len(self.days) == 1 else f"{self.days[0]}..{self.days[-1]}"

    @property
    def why(self) -> str:
        return ", ".join(f"{what} ({n} day{'s' if n > 1 else ''})" for what, n in self.reasons)


def spans(days, most: int = 6) -> str:
    """Days as runs of consecutive days ("2026-03-01..2026-03-04, 2026-03-09"), the first `most` of them."""
    ordinals = np.unique([d.toordinal() for d in days])
    starts = np.r_[0, np.flatnonzero(np.diff(ordinals) != 1) + 1]
    ends = np.r_[starts[1:], len(ordinals)] - 1
    text = [
        str(date.fromordinal(int(ordinals[a])))
        if a == b
        else f"{date.fromordinal(int(ordinals[a]))}..{date.fromordinal(int(ordinals[b]))}"
        for a, b in zip(starts[:most], ends[:most])
    ]
    rest = int(ordinals.size - (ends[most - 1] + 1)) if len(starts) > most else 0
    return ", ".join(text) + (f" and {rest} more day{'s' if rest > 1 else ''}" if rest else "")


@dataclass(frozen=True)
class LatePlan:
    runs: tuple[LateRun, ...]
    beyond_horizon_days: tuple[date, ...] = ()  # affected days older than the horizon: not re-run
    not_published_days: tuple[date, ...] = ()  # affected days never published yet: the schedule's or a backfill's
    up_to_date_days: tuple[date, ...] = ()  # affected days published after the change already

    beyond_horizon = property(lambda self: len(self.beyond_horizon_days))
    not_published = property(lambda self: len(self.not_published_days))
    up_to_date = property(lambda self: len(self.up_to_date_days))

    def summary(self) -> str:
        """What a tick does, day by day: the runs with their reasons, then the days it leaves alone and why."""
        parts = ["re-run " + "; ".join(f"{r.label} [{r.why}]" for r in self.runs) if self.runs else "nothing to re-run"]
        for days, what in (
            (self.beyond_horizon_days, "beyond the late horizon"),
            (self.not_published_days, "not published yet (the schedule's or a backfill's)"),
            (self.up_to_date_days, "already computed after the change"),
        ):
            if days:
                parts.append(f"{len(days)} day{'s' if len(days) > 1 else ''} {what} left alone: {spans(days)}")
        return "; ".join(parts)


def sales_on_older_dialogues(
    sales: pd.DataFrame, chatrooms: pd.DataFrame, kpi_computed: pd.DataFrame, timezone: str
) -> pd.DataFrame:
    """Chat-Card-86 counts the dialogues established in the period to which a sale was attributed, ever:
    a sale published after the KPI rows of its dialogue's establishment day changes that day.

    `sales`: chatroom_id, computed_at of ledger changes; `chatrooms`: chatroom_id, established_at (the
    published chatroom facts); `kpi_computed`: day, computed_at of each day's Chat-Card-86. Returns (what,
    day) rows."""
    empty = pd.DataFrame({"what": pd.Series(dtype="str"), "day": pd.Series(dtype="object")})
    if sales.empty or chatrooms.empty:
        return empty
    latest = sales.groupby("chatroom_id", as_index=False)["computed_at"].max()
    rooms = latest.merge(chatrooms, on="chatroom_id")
    if rooms.empty:
        return empty
    established = pd.to_datetime(rooms["established_at"], utc=True)
    rooms = rooms.assign(day=established.dt.tz_convert(timezone).dt.date)
    known = kpi_computed.assign(day=pd.to_datetime(kpi_computed["day"]).dt.date)
    rooms = rooms.merge(known, on="day", how="inner", suffixes=("", "_kpi"))
    stale = pd.to_datetime(rooms["computed_at_kpi"], utc=True) < pd.to_datetime(rooms["computed_at"], utc=True)
    return pd.DataFrame(
        {"what": "sale_on_older_dialogue", "day": sorted(set(rooms.loc[stale, "day"]))}, columns=["what", "day"]
    )


def plan_late_runs(
    changes: pd.DataFrame, published: pd.DataFrame, ledger_days: pd.DataFrame, today: date, horizon_days: int
) -> LatePlan:
    """`changes`: the catalog's change rows (seq, what, first_day, last_day); `published`: pipeline_days
    (day, lake_seq); `ledger_days`: (what, day) that the ledger makes stale."""
    first = date.fromordinal(today.toordinal() - horizon_days)
    wide = expand(changes, date(2000, 1, 1), today) if len(changes) else None
    rows = [] if wide is None else [wide]
    if len(ledger_days):
        rows.append(ledger_days.assign(seq=np.iinfo(np.int64).max))
    if not rows:
        return LatePlan(())
    affected = pd.concat(rows, ignore_index=True)
    lake_seq = published.set_index("day")["lake_seq"]
    seen = affected["day"].map(lake_seq)
    old = (affected["day"] < first).to_numpy()
    unpublished = seen.isna().to_numpy()
    fresh = ~old & ~unpublished & (affected["seq"].to_numpy() <= seen.fillna(0).to_numpy())
    keep = affected[~old & ~unpublished & ~fresh]
    left = [tuple(sorted(set(affected.loc[mask, "day"]))) for mask in (old, ~old & unpublished)]
    left.append(tuple(sorted(set(affected.loc[fresh, "day"]) - set(keep["day"]))))
    if keep.empty:
        return LatePlan((), *left)
    ordinals = np.array([d.toordinal() for d in keep["day"]])
    unique = np.unique(ordinals)
    segment = np.cumsum(np.r_[1, np.diff(unique) != 1])[np.searchsorted(unique, ordinals)]
    runs = []
    for _, rows_of_run in keep.assign(segment=segment).groupby("segment", sort=True):  # a loop over runs
        days = tuple(sorted(set(rows_of_run["day"])))
        reasons = rows_of_run.groupby("what")["day"].nunique().sort_values(ascending=False, kind="stable")
        mark = int(rows_of_run["seq"].clip(upper=np.iinfo(np.int64).max - 1).max())
        key = hashlib.sha1(f"{days[0]}|{days[-1]}|{mark}|{sorted(set(rows_of_run['what']))}".encode()).hexdigest()
        runs.append(LateRun(days, tuple((str(w), int(n)) for w, n in reasons.items()), f"late-{key[:20]}"))
    return LatePlan(tuple(runs), *left)
