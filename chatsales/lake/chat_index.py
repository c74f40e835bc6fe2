"""The catalog's index of chat keys: what a night looks up instead of reading the history of four datasets.

A night's chat rows reference chatrooms and requests read on earlier nights, and its orders reach visitors
and identity links of any age. Both questions used to read every partition of those datasets (one file per
day of history); they are now lookups in the catalog (`chat_keys`, `visitor_keys`, `link_keys`, and
`room_visitors` for the chatrooms of the visitors found), written in the transaction that completes each chat
extraction. A lake from before the index, or from before a table of it, gets it built once, from the lake,
the first time a night needs it.
"""

from __future__ import annotations

import pandas as pd

from chatsales.identity import micros
from chatsales.lake.catalog import Catalog
from chatsales.lake.datasets import CHAT_DATASETS
from chatsales.lake.store import Lake

READY = "chat_index"  # catalog meta: the index covers every chat row the lake kept, as of VERSION
VERSION = "2"  # 2: with room_visitors
KEYED = {"chatrooms": "chatroom_id", "conversation_requests": "request_id"}


def key_rows(frames: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.Series], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(ids per table, visitors, links, chatrooms' visitors) of chat rows in the lake's shapes, as the catalog
    records them."""
    ids = {table: frames[table][column].dropna() for table, column in KEYED.items() if table in frames}
    empty = {"visitor_id": [], "customer_id": [], "email_hash": []}
    visitors = frames["visitors"] if "visitors" in frames else pd.DataFrame(empty)
    links = frames.get("identity_links")
    if links is None or links.empty:
        links = pd.DataFrame({"visitor_id": [], "linked_visitor_id": [], "linked_at": []})
    else:
        links = links.assign(linked_at=micros(links["linked_at"], "identity_links", links["linked_visitor_id"]))
    rooms = frames.get("chatrooms", pd.DataFrame({"visitor_id": [], "chatroom_id": []}))
    return ids, visitors, links, rooms[["visitor_id", "chatroom_id"]]


def ensure_chat_index(lake: Lake, catalog: Catalog) -> None:
    """Build the index from the lake once, for a lake kept before it existed (a no-op afterwards)."""
    if catalog.get(READY) == VERSION:
        return
    frames = {
        "chatrooms": lake.read(CHAT_DATASETS["chatrooms"], columns=["chatroom_id", "visitor_id"]),
        "conversation_requests": lake.read(CHAT_DATASETS["conversation_requests"], columns=["request_id"]),
        "visitors": lake.read(CHAT_DATASETS["visitors"], columns=["visitor_id", "customer_id", "email_hash"]),
        "identity_links": lake.read(CHAT_DATASETS["identity_links"]),
    }
    with catalog.transaction() as conn:
        catalog.write_chat_keys(conn, *key_rows(frames))
        catalog.set(READY, VERSION, conn)


def visitors_reaching(catalog: Catalog, orders: pd.DataFrame) -> pd.DataFrame:
    """The visitors an order's customer id or email hash can reach (identity.py matches on nothing else)."""
    found = pd.concat(
        [
            catalog.visitors_matching("customer_id", orders["customer_id"]),
            catalog.visitors_matching("email_hash", orders["customer_hash"]),
        ],
        ignore_index=True,
    ).drop_duplicates("visitor_id")
    return found.astype("str").reset_index(drop=True)


def links_reaching(catalog: Catalog, orders: pd.DataFrame) -> pd.DataFrame:
    """The identity links to the orders' browser visitors, `linked_at` as UTC instants."""
    links = catalog.links_to(orders["visitor_id"])
    return pd.DataFrame(
        {
            "visitor_id": links["visitor_id"].astype("str"),
            "linked_visitor_id": links["linked_visitor_id"].astype("str"),
            "linked_at": pd.to_datetime(links["linked_at"].astype("int64"), unit="us", utc=True),
        }
    )
