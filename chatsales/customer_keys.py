"""The identity keys each order carries and how many chatrooms they reach: the `customer_identities` view,
which explains `no_identity` and `no_conversation` before attribution looks at messages."""

from __future__ import annotations

import numpy as np
import pandas as pd

from chatsales.pii import hash_emails, normalise_emails
from chatsales.schema import MATCH_KEYS

KEY = ["sales_channel", "order_id"]


def all_orders(web: pd.DataFrame, store: pd.DataFrame) -> pd.DataFrame:
    """Web orders and store receipts as one frame (the key is sales_channel + order_id)."""
    return pd.concat([web, store], ignore_index=True)


def order_identities(orders: pd.DataFrame, candidates: pd.DataFrame, pii_key: str | None = None) -> pd.DataFrame:
    """Per order: customer hash, which keys it has, candidate chatrooms and the strongest key reaching one."""
    per_order = (
        candidates.groupby(KEY, sort=False)
        .agg(candidate_chatrooms=("chatroom_id", "nunique"), best_rank=("match_rank", "min"))
        .reset_index()
    )
    frame = pd.DataFrame(
        {
            "order_id": orders["order_id"],
            "sales_channel": orders["sales_channel"],
            "placed_at": orders["placed_at"],
            "customer_hash": orders["customer_hash"]
            if "customer_hash" in orders
            else hash_emails(normalise_emails(orders["email"]), pii_key),
            "has_visitor_id": orders["visitor_id"].notna(),
            "has_customer_id": orders["customer_id"].notna(),
        }
    )
    frame["has_email"] = frame["customer_hash"].notna()
    frame = frame.merge(per_order, on=KEY, how="left")
    frame["candidate_chatrooms"] = frame["candidate_chatrooms"].fillna(0).astype("int64")
    names = np.array(MATCH_KEYS, dtype=object)
    rank = frame.pop("best_rank")
    frame["strongest_key"] = pd.Series(
        np.where(rank.notna(), names[rank.fillna(0).astype(int).to_numpy()], None), dtype="str"
    )
    return frame
