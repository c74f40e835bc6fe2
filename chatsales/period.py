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
    first_days: tuple[date, ...]  # first local day of each window
    last_days: tuple[date, ...]  # last local day of each window (inclusive)
    timezone: str
    time_slot: tuple[int, int] | None = None
    weekdays: frozenset[int] | None = None

    @classmethod
    def daily(cls, days: Sequence[date], timezone: str) -> Periods:
        days = tuple(sorted(days))
        return cls(days, days, timezone)

    @classmethod
    def range(
        cls, first_day: date, last_day: date, timezone: str, time_slot: str | None = None, weekdays: str | None = None
    ) -> Periods:
        if last_day < first_day:
            raise ValueError(f"period ends ({last_day}) before it starts ({first_day})")
        return cls(
            (first_day,),
            (last_day,),
            timezone,
            parse_time_slot(time_slot) if time_slot else None,
            parse_weekdays(weekdays) if weekdays else None,
        )

    def __len__(self) -> int:
        return len(self.first_days)

    @property
    def starts(self) -> np.ndarray:
        return np.array([local_midnight_us(d, self.timezone) for d in self.first_days], dtype=np.int64)

    @property
    def ends(self) -> np.ndarray:
        """The local midnight after each window's last day: 'by the period's end', time slot or not."""
        return np.array(
            [local_midnight_us(d + timedelta(days=1), self.timezone) for d in self.last_days], dtype=np.int64
        )

    @property
    def filtered(self) -> bool:
        return self.time_slot is not None or self.weekdays is not None

    def _window(self, us: np.ndarray) -> np.ndarray:
        starts, ends = self.starts, self.ends
        if len(starts) == 1:  # a user's period: two comparisons (NaT, the int64 minimum, is before it)
            return ((us >= starts[0]) & (us < ends[0])).astype(np.int64) - 1
        idx = np.searchsorted(starts, us, side="right") - 1
        inside = (idx >= 0) & (us < ends[np.clip(idx, 0, None)]) & (us != NAT)
        return np.where(inside, idx, -1)

    def label(self, ts: pd.Series) -> np.ndarray:
        """Index of the window each instant falls in (after slot and weekday filters), or -1."""
        us = to_us(ts)
        idx = self._window(us)
        if not self.filtered:
            return idx
        inside = idx >= 0
        if inside.any():
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
        """Intervals that lie within one local day (sessions are split at local midnight): the window of each
        (-1 on a day the weekdays drop) and its bounds in µs. With a time slot the bounds are on a clock that
        runs only in the day's slot time (matched on wall-clock time, as `label`): end − start is the time
        in the slot, both parts of a wrapping one, and intervals of one day that overlap still overlap there,
        so a union stays a union."""
        s, e = to_us(start), to_us(end)
        labels = self._window(s)
        if not self.filtered:
            return labels, s, np.maximum(e, s)
        s = np.where(labels >= 0, s, 0)
        e = np.where(labels >= 0, np.maximum(e, s), 0)
        wall_s, wall_e = self._wall(s), self._wall(e)
        day_wall = wall_s - wall_s % US_PER_DAY  # the local date's midnight on the wall clock
        if self.weekdays is not None:  # 1970-01-01 was a Thursday
            labels = np.where(np.isin((day_wall // US_PER_DAY + 3) % 7, list(self.weekdays)), labels, -1)
        if self.time_slot is None:
            return labels, s, e
        lo, hi = (minute * US_PER_MINUTE for minute in self.time_slot)
        parts = [(lo, hi)] if lo < hi else [(0, hi), (lo, US_PER_DAY)]

        def slot_before(wall: np.ndarray) -> np.ndarray:
            """Slot time of the wall clock from the day's 00:00 to `wall` (µs after it)."""
            return sum(np.clip(wall, a, b) - a for a, b in parts)

        # an offset change within the day (DST) makes the wall clock skip or repeat the hour before it: the
        # instants after it take that hour's slot time off (skipped) or add it (repeated)
        day_start = self._instant(day_wall)
        offset = day_wall - day_start  # the offset the day starts with
        after_s, after_e = wall_s - s != offset, wall_e - e != offset
        change = np.zeros(len(s), dtype=np.int64)
        if after_e.any():
            at = self._change(day_start[after_e], offset[after_e]) - day_start[after_e]
            jump = (wall_e - e - offset)[after_e]
            change[after_e] = slot_before(at + jump) - slot_before(at)
        return (
            labels,
            day_start + slot_before(wall_s - day_wall) - np.where(after_s, change, 0),
            day_start + slot_before(wall_e - day_wall) - np.where(after_e, change, 0),
        )

    def _wall(self, us: np.ndarray) -> np.ndarray:
        """Each instant's local wall-clock time, as µs of a naive clock."""
        local = pd.DatetimeIndex(us.astype("datetime64[us]")).tz_localize("UTC").tz_convert(self.timezone)
        return local.tz_localize(None).as_unit("us").asi8

    def _instant(self, wall: np.ndarray) -> np.ndarray:
        """The instant of each local midnight given on the wall clock (as facts.session_facts splits days)."""
        local = pd.DatetimeIndex(wall.astype("datetime64[us]")).tz_localize(
            self.timezone, ambiguous=True, nonexistent="shift_forward"
        )
        return local.as_unit("us").asi8

    def _change(self, day_start: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """The instant the UTC offset first differs from `offset` on each day starting at `day_start` (a day
        with a change): found on the minute, as every time zone changes, for each distinct day once."""
        days, first = np.unique(day_start, return_index=True)
        grid = days[:, None] + np.arange(26 * 60, dtype=np.int64) * US_PER_MINUTE
        changed = self._wall(grid.ravel()).reshape(grid.shape) - grid != offset[first][:, None]
        return (days + changed.argmax(axis=1) * US_PER_MINUTE)[np.searchsorted(days, day_start)]


US_PER_MINUTE = 60_000_000
US_PER_DAY = 24 * 60 * US_PER_MINUTE
NAT = np.iinfo(np.int64).min


def to_us(ts: pd.Series) -> np.ndarray:
    """Instants as int64 µs since the epoch; NaT → int64 min (never inside a window)."""
    if not isinstance(ts, pd.Series):
        ts = pd.Series(ts)
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = pd.to_datetime(ts, utc=True)
    # a read-only view where the column is in µs already (the facts are): no copy of ten million instants
    us = ts.astype("datetime64[us, UTC]").to_numpy(dtype="datetime64[us]").view(np.int64)
    us.flags.writeable = False
    return us
