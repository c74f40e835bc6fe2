"""The nightly read of the chat platform: rows touched since the previous read, and the rows inserted late
or changed late with an older instant (an app syncing offline messages, a link recorded later, a rating
stored late), whatever their key."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pandas as pd

from chatsales.demo import generate_demo
from chatsales.extract.run import plan_chat_platform
from chatsales.lake.catalog import Catalog
from chatsales.lake.datasets import CHAT_DATASETS
from chatsales.lake.store import Lake

TZ = "Europe/Paris"


def _extract(url: str, lake: Lake, catalog: Catalog, now: datetime):
    planned = plan_chat_platform(url, lake, catalog, pii_key="k", horizon_days=35, window_days=15, now=now)
    planned.write()
    return planned.extracted


def test_rows_inserted_late_with_an_older_instant_are_read_and_nothing_else(tmp_path):
    today = datetime.now(UTC).date()
    demo = generate_demo(tmp_path / "demo", today - timedelta(days=6), days=5, scale=0.02, seed=3)
    url = f"sqlite:///{demo.chat_db_path}"
    lake, catalog = Lake(tmp_path / "lake", TZ), Catalog(tmp_path / "lake" / "catalog.sqlite")
    first = _extract(url, lake, catalog, datetime.now(UTC) - timedelta(hours=2))
    assert first.scope == "every row" and first.read_rows > 100

    with sqlite3.connect(demo.chat_db_path) as conn:
        room, visitor = conn.execute("SELECT chatroom_id, visitor_id FROM chatrooms LIMIT 1").fetchone()
        old = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        conn.execute("INSERT INTO identity_links VALUES (?, 'v-late-device', ?)", (visitor, old))
        conn.execute(
            "INSERT INTO messages (message_id, chatroom_id, sender, sent_at, is_automatic, kind) "
            "VALUES ('ms-synced-late', ?, 'visitor', ?, 0, 'text')",
            (room, old),
        )
        rating = conn.execute(
            "SELECT rating_id FROM ratings WHERE given_at IS NULL AND requested_at < ? LIMIT 1", (old,)
        ).fetchone()[0]
        conn.execute("UPDATE ratings SET given_at = ?, score = 2 WHERE rating_id = ?", (old, rating))
        days_rows = {
            table: conn.execute(f"SELECT count(*) FROM {table} WHERE date({column}) = date(?)", (old,)).fetchone()[0]
            for table, column in (("identity_links", "linked_at"), ("messages", "sent_at"))
        }

    again = _extract(url, lake, catalog, datetime.now(UTC))
    assert "identity_links of" in again.scope and "messages of" in again.scope, again.scope
    assert again.changed["identity_links"] == 1 and again.changed["messages"] == 1 and again.changed["ratings"] == 1
    links = lake.read(CHAT_DATASETS["identity_links"])
    assert ((links["visitor_id"] == visitor) & (links["linked_visitor_id"] == "v-late-device")).sum() == 1
    assert (lake.read(CHAT_DATASETS["messages"])["message_id"] == "ms-synced-late").sum() == 1
    ratings = lake.read(CHAT_DATASETS["ratings"]).set_index("rating_id")  # changed late: given, 3 days ago
    assert (
        ratings.loc[rating, "score"] == 2
        and ratings.loc[rating, "given_at"].date() == (datetime.now(UTC) - timedelta(days=3)).date()
    )
    # only the late rows' days were read again (each whole), not the horizon: at most a local day each side
    assert 2 <= again.read_rows <= 2 * sum(days_rows.values()) + 20
    quiet = _extract(url, lake, catalog, datetime.now(UTC))
    assert quiet.changed == {table: 0 for table in quiet.changed} and quiet.read_rows < again.read_rows
    assert pd.Index(lake.read(CHAT_DATASETS["messages"])["message_id"]).is_unique
