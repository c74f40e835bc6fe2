"""The catalog's chat keys: written with each chat extraction, built once for a lake kept before them, and
what a night looks up instead of reading the history (the references of its rows, the visitors and links
its orders reach) gives exactly what reading the whole datasets gave."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pandas as pd

from chatsales.demo import generate_demo
from chatsales.extract.run import plan_chat_platform, plan_file_orders
from chatsales.identity import order_candidates
from chatsales.lake.catalog import Catalog
from chatsales.lake.chat_index import READY, ensure_chat_index, links_reaching, visitors_reaching
from chatsales.lake.datasets import CHAT_DATASETS, ORDER_DATASETS
from chatsales.lake.store import Lake
from chatsales.pii import hash_emails, normalise_emails
from chatsales.sources.orders import read_orders_dir

TZ = "Europe/Paris"
TABLES = ("chat_keys", "visitor_keys", "link_keys", "room_visitors")


def _extract(url: str, lake: Lake, catalog: Catalog, now: datetime):
    planned = plan_chat_platform(url, lake, catalog, pii_key="k", horizon_days=35, window_days=15, now=now)
    planned.write()
    return planned.extracted


def _index(catalog: Catalog) -> dict[str, pd.DataFrame]:
    with sqlite3.connect(catalog.path) as conn:
        return {
            table: pd.read_sql(f"SELECT * FROM {table}", conn)
            .pipe(lambda f: f.sort_values(list(f.columns)))
            .reset_index(drop=True)
            for table in TABLES
        }


def _world(tmp_path):
    today = datetime.now(UTC).date()
    demo = generate_demo(tmp_path / "demo", today - timedelta(days=8), days=7, scale=0.15, seed=5)
    url = f"sqlite:///{demo.chat_db_path}"
    lake, catalog = Lake(tmp_path / "lake", TZ), Catalog(tmp_path / "lake" / "catalog.sqlite")
    _extract(url, lake, catalog, datetime.now(UTC) - timedelta(hours=2))
    return demo, url, lake, catalog


def test_the_index_follows_the_extractions_and_a_lake_without_it_gets_the_same_one(tmp_path):
    demo, url, lake, catalog = _world(tmp_path)
    with sqlite3.connect(demo.chat_db_path) as conn:  # a later night: a new visitor, link, room and message
        room = conn.execute("SELECT chatroom_id FROM chatrooms WHERE NOT is_internal LIMIT 1").fetchone()[0]
        now = (datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S")
        conn.execute("INSERT INTO visitors VALUES ('v-new', 'New@Example.com ', 'c-new', ?)", (now,))
        conn.execute("INSERT INTO identity_links VALUES ('v-new', 'v-new-browser', ?)", (now,))
        conn.execute(
            "INSERT INTO chatrooms (chatroom_id, visitor_id, member_id, source, channel, started_at, is_internal, "
            "is_blocked) SELECT 'cr-new', 'v-new', member_id, 'direct', 'web', ?, 0, 0 FROM members LIMIT 1",
            (now,),
        )
        conn.execute("INSERT INTO messages VALUES ('ms-new', 'cr-new', 'visitor', ?, 0, 'text', NULL, NULL)", (now,))
        conn.execute("INSERT INTO messages VALUES ('ms-old-room', ?, 'visitor', ?, 0, 'text', NULL, NULL)", (room, now))
    again = _extract(url, lake, catalog, datetime.now(UTC))
    assert again.reject_rows == 0  # the message in a room read on the first night found its room in the index
    assert again.changed["messages"] == 2 and again.changed["chatrooms"] == 1

    kept = _index(catalog)
    rooms = lake.read(CHAT_DATASETS["chatrooms"])["chatroom_id"]
    assert sorted(kept["chat_keys"].loc[kept["chat_keys"]["tbl"] == "chatrooms", "id"]) == sorted(rooms)
    visitors = kept["visitor_keys"].set_index("visitor_id")
    assert len(visitors) == len(lake.read(CHAT_DATASETS["visitors"]))
    assert visitors.loc["v-new", "customer_id"] == "c-new"
    assert visitors.loc["v-new", "email_hash"] == hash_emails(normalise_emails(pd.Series(["new@example.com"])), "k")[0]
    assert len(kept["link_keys"]) == len(lake.read(CHAT_DATASETS["identity_links"])) and "v-new-browser" in set(
        kept["link_keys"]["linked_visitor_id"]
    )
    pairs = lake.read(CHAT_DATASETS["chatrooms"])[["visitor_id", "chatroom_id"]].dropna()
    assert len(kept["room_visitors"]) == len(pairs) and catalog.rooms_of_visitors(["v-new"]).tolist() == ["cr-new"]

    with sqlite3.connect(catalog.path) as conn:  # a catalog from before the index: built once, the same
        conn.executescript(
            "DELETE FROM chat_keys; DELETE FROM visitor_keys; DELETE FROM link_keys; DELETE FROM room_visitors;"
        )
        conn.execute("DELETE FROM meta WHERE key = ?", (READY,))
    ensure_chat_index(lake, catalog)
    assert catalog.get(READY) == "2"
    rebuilt = _index(catalog)
    for table in TABLES:
        pd.testing.assert_frame_equal(rebuilt[table], kept[table])


def test_the_visitors_and_links_looked_up_reach_the_same_chatrooms_as_every_visitor(tmp_path):
    demo, url, lake, catalog = _world(tmp_path)
    planned = plan_file_orders(
        "web_orders",
        demo.orders_dir,
        "*.jsonl",
        lambda names: read_orders_dir(demo.orders_dir, "EUR", only=names, max_amount=1e7),
        lake,
        catalog,
        pii_key="k",
    )
    planned.write()
    orders = lake.read(ORDER_DATASETS["web_orders"]["orders"])
    rooms = lake.read(CHAT_DATASETS["chatrooms"])
    whole = order_candidates(
        orders, lake.read(CHAT_DATASETS["visitors"]), rooms, lake.read(CHAT_DATASETS["identity_links"])
    )
    looked_up = order_candidates(orders, visitors_reaching(catalog, orders), rooms, links_reaching(catalog, orders))
    assert len(whole) > 50 and set(whole["match_rank"]) == {0, 1, 2, 3}  # every kind of key
    key = ["order_id", "sales_channel", "chatroom_id"]
    pd.testing.assert_frame_equal(
        looked_up.sort_values(key).reset_index(drop=True), whole.sort_values(key).reset_index(drop=True)
    )
