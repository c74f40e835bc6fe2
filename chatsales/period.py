"""Periods: the time windows KPIs are computed over, for every day at once or for one user period.

One abstraction serves both, so a one-day period equals that day's daily row by construction: N windows
[start, end) of reporting-timezone days as UTC instants (a DST day is 23 or 25 hours), optionally narrowed
by a time slot (start-inclusive, end-exclusive, wrapping midnight when start > end) and days of the week,
both matched on the event's local time. `label` gives each timestamp its window, vectorised.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def local_midnight_us(day: date, timezone: str) -> int:
    return int(datetime.combine(day, time(), ZoneInfo(timezone)).timestamp() * 1_000_000)


def parse_time_slot(text: str) -> tuple[int, int]:
    """'HH:MM-HH:MM' → (start minute, end minute) of the local day."""
    try:
        start, end = text.split("-")
        minutes = [int(h) * 60 + int(m) for h, m in (start.split(":"), end.split(":"))]
    except ValueError as exc:
        raise ValueError(f"time slot {text!r} is not HH:MM-HH:MM") from exc
    if not all(0 <= m < 24 * 60 for m in minutes) or minutes[0] == minutes[1]:
        raise ValueError(f"time slot {text!r} is not a slot of the day")
    return minutes[0], minutes[1]


def parse_weekdays(text: str) -> frozenset[int]:
    names = [d.strip().lower()[:3] for d in text.split(",") if d.strip()]
    unknown = [d for d in names if d not in WEEKDAYS]
    if unknown or not names:
        raise ValueError(f"days {text!r}: use mon,tue,wed,thu,fri,sat,sun")
    return frozenset(WEEKDAYS.index(d) for d in names)


@dataclass(frozen=True)
class Periods:
    first_days: tuple[date, ...]      # first local day of each window
    last_days: tuple[date, ...]       # last local day of each window (inclusive)
    timezone: str
    time_slot: tuple[int, int] | None = None
    weekdays: frozenset[int] | None = None

    @classmethod
    def daily(cls, days: Sequence[date], timezone: str) -> "Periods":
        days = tuple(sorted(days))
        return cls(days, days, timezone)

    @classmethod
    def range(cls, first_day: date, last_day: date, timezone: str, time_slot: str | None = None,
              weekdays: str | None = None) -> "Periods":
        if last_day < first_day:
            raise ValueError(f"period ends ({last_day}) before it starts ({first_day})")
        return cls((first_day,), (last_day,), timezone,
                   parse_time_slot(time_slot) if time_slot else None,
                   parse_weekdays(weekdays) if weekdays else None)

    def __len__(self) -> int:
        return len(self.first_days)

    @property
    def starts(self) -> np.ndarray:
        return np.array([local_midnight_us(d, self.timezone) for d in self.first_days], dtype=np.int64)

    @property
    def ends(self) -> np.ndarray:
        """The local midnight after each window's last day: 'by the period's end', time slot or not."""
        return np.array([local_midnight_us(d + timedelta(days=1), self.timezone) for d in self.last_days],
                        dtype=np.int64)

    @property
    def filtered(self) -> bool:
        return self.time_slot is not None or self.weekdays is not None

    def _window(self, us: np.ndarray) -> np.ndarray:
        starts, ends = self.starts, self.ends
        idx = np.searchsorted(starts, us, side="right") - 1
        inside = (idx >= 0) & (us < ends[np.clip(idx, 0, None)]) & (us != NAT)
        return np.where(inside, idx, -1)

    def label(self, ts: pd.Series) -> np.ndarray:
        """Index of the window each instant falls in (after slot and weekday filters), or -1."""
        us = to_us(ts)
        idx = self._window(us)
        inside = idx >= 0
        if self.filtered and inside.any():
            local = pd.Series(pd.to_datetime(np.where(inside, us, 0), unit="us", utc=True)).dt.tz_convert(self.timezone)
            if self.time_slot is not None:
                minute = (local.dt.hour * 60 + local.dt.minute).to_numpy()
                start, end = self.time_slot
                inside &= (minute >= start) & (minute < end) if start < end else (minute >= start) | (minute < end)
            if self.weekdays is not None:
                inside &= np.isin(local.dt.day_of_week.to_numpy(), list(self.weekdays))
        return np.where(inside, idx, -1)

    def end_of(self, labels: np.ndarray) -> np.ndarray:
        """The end instant (µs) of each labelled window."""
        return self.ends[np.clip(labels, 0, None)]

    def clip_intervals(self, start: pd.Series, end: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Intervals that lie within one local day (sessions are split at local midnight): the window of
        each, and its bounds in µs clipped to the time slot (a wrapping slot keeps its two parts' hull
        only when the interval lies in one of them). A weekday filter drops the intervals of other days."""
        s, e = to_us(start), to_us(end)
        labels = self._window(s)
        if self.weekdays is not None:
            local = pd.Series(pd.to_datetime(s, unit="us", utc=True)).dt.tz_convert(self.timezone)
            labels = np.where(np.isin(local.dt.day_of_week.to_numpy(), list(self.weekdays)), labels, -1)
        if self.time_slot is not None:
            local = pd.Series(pd.to_datetime(s, unit="us", utc=True)).dt.tz_convert(self.timezone)
            base = to_us(local.dt.normalize())
            lo, hi = self.time_slot
            if lo < hi:
                s, e = np.maximum(s, base + lo * 60_000_000), np.minimum(e, base + hi * 60_000_000)
            else:   # wrapping slot: [00:00, hi) and [lo, 24:00) of the same day
                early = e <= base + hi * 60_000_000
                s = np.where(early, s, np.maximum(s, base + lo * 60_000_000))
                e = np.where(early, np.minimum(e, base + hi * 60_000_000), e)
        return labels, s, np.maximum(e, s)


NAT = np.iinfo(np.int64).min


def to_us(ts: pd.Series) -> np.ndarray:
    """Instants as int64 µs since the epoch; NaT → int64 min (never inside a window)."""
    if not isinstance(ts, pd.Series):
        ts = pd.Series(ts)
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = pd.to_datetime(ts, utc=True)
    return ts.astype("datetime64[us, UTC]").to_numpy(dtype="datetime64[us]").astype(np.int64)
