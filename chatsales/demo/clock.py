"""Reporting-timezone days as UTC microsecond instants, and the random helpers every demo module shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from chatsales.demo.text import DAY, HOUR, MIN, US

__all__ = ["Clock", "DAY", "HOUR", "MIN", "US", "exact_share", "weights"]


@dataclass(frozen=True)
class Clock:
    """`days` local days of `timezone` from `first_day`; instants are int64 µs since the epoch (UTC)."""

    first_day: date
    days: int
    timezone: str

    @cached_property
    def midnights(self) -> np.ndarray:
        """UTC instants of the local midnights, days + 1 of them (a DST day is 23 or 25 hours long)."""
        zone = ZoneInfo(self.timezone)
        return np.array(
            [
                int(datetime.combine(self.first_day + timedelta(days=d), time(), zone).timestamp()) * US
                for d in range(self.days + 1)
            ],
            dtype=np.int64,
        )

    @property
    def start(self) -> int:
        return int(self.midnights[0])

    @property
    def end(self) -> int:
        return int(self.midnights[-1])

    def day_of(self, us: np.ndarray) -> np.ndarray:
        """Local day index of each instant (-1 before the first day, `days` from the end on)."""
        return np.searchsorted(self.midnights, us, side="right") - 1

    def local(self, day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """The instant of local wall time `seconds` after midnight of day index `day`; in the repeated autumn
        hour the first occurrence, in the skipped spring hour the time just after the change."""
        base = np.datetime64(self.first_day, "us")
        wall = base + (np.asarray(day, dtype=np.int64) * DAY + np.asarray(seconds * US, dtype=np.int64)).astype(
            "timedelta64[us]"
        )
        index = pd.DatetimeIndex(wall).tz_localize(
            self.timezone, ambiguous=np.ones(len(wall), dtype=bool), nonexistent="shift_forward"
        )
        return index.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[us]").astype(np.int64)

    def daytime(self, rng: np.random.Generator, n: int, peak: float = 15.0, spread: float = 4.0) -> np.ndarray:
        """n instants over the days, busier around `peak` local hour (web traffic peaks mid-afternoon)."""
        day = rng.integers(0, self.days, n)
        hour = np.mod(rng.normal(peak, spread, n), 24.0)  # late-night stragglers wrap around
        return self.local(day, hour * 3600 + rng.random(n))

    def dst_days(self) -> np.ndarray:
        """Indices of the days that are not 24 hours long."""
        return np.flatnonzero(np.diff(self.midnights) != DAY)


def exact_share(rng: np.random.Generator, candidates: np.ndarray, share: float, at_least: int = 1) -> np.ndarray:
    """A mask over `candidates` (bool mask) with round(share × count) of them set, at least `at_least` when
    there are candidates: rare cases stay present in the smallest demo."""
    where = np.flatnonzero(candidates)
    k = min(len(where), max(at_least, int(round(share * len(where)))))
    mask = np.zeros(len(candidates), dtype=bool)
    mask[rng.choice(where, k, replace=False)] = True
    return mask


def weights(rng: np.random.Generator, n: int, shape: float = 1.5) -> np.ndarray:
    """Uneven popularity (busy and quiet members, best-selling products): gamma weights summing to 1."""
    w = rng.gamma(shape, 1.0, n)
    return w / w.sum()
