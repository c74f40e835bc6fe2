"""Homes written by chatsales before the day-local lake: their lake held whole snapshots of each asset
(`<asset>/current/`) and per-day folders (`<asset>/day=YYYY-MM-DD/`), with no catalog. Nothing of it can be
migrated (it kept raw emails, and no watermark or change log), so it is moved aside, never mixed with the
new layout, and the next extraction reads every source whole: the lake is rebuilt from the sources."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from chatsales.lake.catalog import CATALOG_FILE


def is_old_layout(lake_dir: Path) -> bool:
    """A lake folder with no catalog and an asset folder of the old layout."""
    lake_dir = Path(lake_dir)
    if not lake_dir.is_dir() or (lake_dir / CATALOG_FILE).exists():
        return False
    return any(
        (child / "current").is_dir() or any(child.glob("day=*")) for child in lake_dir.iterdir() if child.is_dir()
    )


def retire_old_layout(lake_dir: Path, now: datetime | None = None) -> str | None:
    """Move an old-layout lake aside (beside it, renamed with the date); returns what was done, for the
    run's log, or None when the lake is not of the old layout. Safe when two runs start together: the
    second finds the folder already moved."""
    lake_dir = Path(lake_dir)
    if not is_old_layout(lake_dir):
        return None
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    aside = lake_dir.with_name(f"{lake_dir.name}.before-day-local.{stamp}")
    try:
        lake_dir.rename(aside)
    except FileNotFoundError:
        return None
    return (
        f"the lake at {lake_dir} has the layout of chatsales before day-local runs (whole snapshots, no "
        f"catalog): moved to {aside}, and rebuilding the lake from the sources (every source is read whole "
        f"once). Delete {aside.name} once this run has succeeded."
    )
