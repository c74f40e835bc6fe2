"""What every page shares: the reporting database, the period and filters the sidebar chose, and the catalog
of that period and of the previous period of the same length. app.py builds it once per run; the pages
read it with `current()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import streamlit as st

from chatsales.dashboard import data
from chatsales.dashboard.periods import previous_range

KEY = "chatsales.view"


@dataclass
class View:
    url: str
    timezone: str
    currency: str
    mark: str
    first: date
    last: date
    published: tuple[date, date]
    filters: dict[str, str] = field(default_factory=dict)
    time_slot: str | None = None
    weekdays: str | None = None

    @property
    def previous(self) -> tuple[date, date] | None:
        """The previous period of the same length, when it is published."""
        first, last = previous_range(self.first, self.last)
        return (first, last) if first >= self.published[0] else None

    def catalog(self, first: date | None = None, last: date | None = None) -> dict:
        return data.catalog(
            self.url,
            self.timezone,
            first or self.first,
            last or self.last,
            tuple(sorted(self.filters.items())),
            self.time_slot,
            self.weekdays,
            self.mark,
        )

    def previous_cards(self) -> dict | None:
        """The cards of the previous period: {ref: {"value": v}}."""
        if self.previous is None:
            return None
        return data.card_values(
            self.url,
            self.timezone,
            *self.previous,
            tuple(sorted(self.filters.items())),
            self.time_slot,
            self.weekdays,
            self.mark,
        )

    def campaigns(self) -> dict:
        return data.campaigns(self.url, self.first, self.last, self.mark)

    @property
    def label(self) -> str:
        parts = [f"{self.first:%a %d %b %Y}" + ("" if self.first == self.last else f" – {self.last:%a %d %b %Y}")]
        parts += [f"{k} {v}" for k, v in self.filters.items()]
        if self.time_slot:
            parts.append(f"time slot {self.time_slot}")
        if self.weekdays:
            parts.append(f"days {self.weekdays}")
        return " · ".join(parts)


def current() -> View:
    return st.session_state[KEY]
