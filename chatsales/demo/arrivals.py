"""The demo's sources as they stood at an instant: what a night of the pipeline would have found.

A demo is written whole, with every late answer, refund and late file in it. To run it night by night (the
nightly benchmark, the test that a night-by-night history equals one backfill), `sources_as_of` writes the
sources as of a cutoff: chat rows created by then, with the values set later (a rating given, a question
asked, a request handled or canceled, an email filled in) still empty; the order exports of the days up to
then (first versions and updates); the POS files of those days, the late one three days after its day; the
campaigns sent and the clicks made by then. Nothing here is needed to run chatsales on real data.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from chatsales.demo.generator import LATE_DAYS, DemoManifest
from chatsales.processes import is_running

# chat table: (the instant that creates a row, {column set later: the columns emptied with it})
ARRIVAL = {
    "visitors": ("created_at", {}),
    "conversation_requests": ("created_at", {"question_at": (), "canceled_at": (), "handled_at": ("handled_by",)}),
    "chatrooms": ("started_at", {}),
    "messages": ("sent_at", {"email_filled_at": ()}),
    "ratings": ("requested_at", {"given_at": ("score",)}),
    "hook_events": ("at", {}),
    "member_sessions": ("ended_at", {}),  # a session is known once it ended
    "identity_links": ("linked_at", {}),
}


def _copy_chat(source: Path, target: Path, cutoff: str) -> None:
    """The chat database as of `cutoff` ('YYYY-MM-DD HH:MM:SS', UTC, as the platform stores instants)."""
    _drop_orphan_copies(target)
    if target.exists():
        target.unlink()
    staging = target.with_name(f"{target.name}.{os.getpid()}.part")  # two writers never share a staging copy
    try:
        shutil.copyfile(source, staging)
        conn = sqlite3.connect(staging)
        try:
            for table, (created, later) in ARRIVAL.items():  # a loop over tables
                conn.execute(f"DELETE FROM {table} WHERE {created} > ?", (cutoff,))
                for column, also in later.items():
                    cleared = ", ".join(f"{c} = NULL" for c in (column, *also))
                    conn.execute(f"UPDATE {table} SET {cleared} WHERE {column} > ?", (cutoff,))
            conn.commit()
        finally:
            conn.close()
        staging.rename(target)
    finally:
        for leftover in (staging, staging.with_name(f"{staging.name}-journal")):
            leftover.unlink(missing_ok=True)


def _drop_orphan_copies(target: Path) -> None:
    """Delete the staging copies (and their journals) of writers that no longer run: a killed writer left a
    copy of the whole chat database (11 GB at 30×), and a few of them filled the disk."""
    for copy in target.parent.glob(f"{target.name}.*.part*"):
        pid = copy.name[len(target.name) + 1 :].split(".")[0]
        if pid.isdigit() and not is_running(int(pid)):
            copy.unlink(missing_ok=True)


def _day_of(name: str) -> date:
    return date.fromisoformat(Path(name).stem[-10:])


def _sync_files(source: Path, target: Path, pattern: str, due: callable) -> None:
    """The files of `source` that are due, copied into `target` (a file's bytes never change once there)."""
    target.mkdir(parents=True, exist_ok=True)
    for file in sorted(source.glob(pattern)):  # a loop over files
        if due(file) and not (target / file.name).exists():
            shutil.copy2(file, target / file.name)


def sources_as_of(demo: DemoManifest, night: date, into: Path, timezone: str) -> dict[str, Path]:
    """Write (or bring up to date) the demo's sources as they stood at the end of `night` (local midnight)
    into `into`; returns the folders and the chat database's path."""
    into = Path(into)
    cutoff = pd.Timestamp(night + timedelta(days=1)).tz_localize(timezone).tz_convert("UTC")
    stamp = cutoff.strftime("%Y-%m-%d %H:%M:%S")
    paths = {
        "chat_db": into / "chat.db",
        "orders": into / "orders",
        "store_sales": into / "store_sales",
        "campaigns": into / "campaigns",
    }
    into.mkdir(parents=True, exist_ok=True)
    _copy_chat(demo.chat_db_path, paths["chat_db"], stamp)
    _sync_files(demo.orders_dir, paths["orders"], "*.jsonl", lambda f: _day_of(f.name) <= night)
    late = demo.late_store_file
    _sync_files(demo.store_sales_dir, paths["store_sales"], "*.csv", lambda f: _day_of(f.name) <= night)
    if late.parent != demo.store_sales_dir:  # withheld: it arrives three days after its day
        _sync_files(
            late.parent, paths["store_sales"], late.name, lambda f: _day_of(f.name) + timedelta(days=LATE_DAYS) <= night
        )
    paths["campaigns"].mkdir(parents=True, exist_ok=True)
    campaigns = pd.read_csv(demo.campaigns_dir / "campaigns.csv", dtype=str)
    sent = pd.to_datetime(campaigns["sent_at"], utc=True, format="ISO8601")
    _write_if_changed(campaigns[(sent < cutoff).to_numpy()], paths["campaigns"] / "campaigns.csv")
    clicks = pd.read_csv(demo.campaigns_dir / "campaign_clicks.csv", dtype=str)
    clicked = pd.to_datetime(clicks["clicked_at"], utc=True, format="ISO8601")
    _write_if_changed(clicks[(clicked < cutoff).to_numpy()], paths["campaigns"] / "campaign_clicks.csv")
    return paths


def _write_if_changed(frame: pd.DataFrame, path: Path) -> None:
    text = frame.to_csv(index=False)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
