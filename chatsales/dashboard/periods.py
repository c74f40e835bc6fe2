"""The period picker's choices as date ranges, relative to the last published day (not today: on Monday
morning 'yesterday' is the last day the pipeline published), and the previous period of the same length.
No Streamlit here."""

from __future__ import annotations

from datetime import date, timedelta

DEFAULT_PRESET = "last_7_days"
PRESETS = {
    "yesterday": "Yesterday",
    "last_7_days": "Last 7 days",
    "last_30_days": "Last 30 days",
    "month_to_date": "Month to date",
    "custom": "Custom",
}


def preset_range(
    preset: str, last_published: date, first_published: date, custom: tuple[date, date] | None = None
) -> tuple[date, date]:
    """First and last day of a preset, clipped to the published days (a 30-day period over 20 published
    days is those 20 days)."""
    last = last_published
    if preset == "yesterday":
        first = last
    elif preset == "last_7_days":
        first = last - timedelta(days=6)
    elif preset == "last_30_days":
        first = last - timedelta(days=29)
    elif preset == "month_to_date":
        first = last.replace(day=1)
    elif preset == "custom":
        if custom is None:
            raise ValueError("a custom period needs its first and last day")
        first, last = custom
    else:
        raise ValueError(f"period {preset!r}: use one of {', '.join(PRESETS)}")
    if last < first:
        raise ValueError(f"the period ends ({last}) before it starts ({first})")
    return max(first, first_published), last


def previous_range(first: date, last: date) -> tuple[date, date]:
    """The period of the same length that ends the day before `first`."""
    length = (last - first).days + 1
    return first - timedelta(days=length), first - timedelta(days=1)
