"""Orders and receipts, read incrementally: the versions in tonight's new or changed files (or pulled from
Shopify) are compared with the version kept, through the catalog's order index, and the winners upserted.

Which version wins is the contract's rule, applied across nights exactly as within one read:
- web orders: the newer `updated_at`; on a tie, the version read first (file name order, then line);
- receipts: the version in the file read last (file name order), whole: a receipt is all its lines.
A file delivered again under the same name replaces what it contributed (it is the same position in the
read order). The index also remembers each order's customer, which is how a customer's first order is found
without reading every order again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from chatsales import schema
from chatsales.arrays import is_in
from chatsales.contract import SourceFrames
from chatsales.extract import Extracted
from chatsales.extract.changes import combine, local_dates, spans
from chatsales.lake.catalog import ORDER_INDEX_COLUMNS, Catalog
from chatsales.lake.datasets import LAKE_ORDER_LINES, LAKE_ORDERS, ORDER_DATASETS
from chatsales.lake.store import Lake, Upserted
from chatsales.pii import hash_emails, normalise_emails
from chatsales.publication import sale_flags

US = "datetime64[us, UTC]"
CHANGE_NAMES = {"web_orders": ("new_order", "order_update"), "store_sales": ("new_receipt", "corrected_receipt")}


@dataclass
class OrderPlan:
    """What an order extraction will write: lake upserts and the index rows of the winning versions."""

    upserts: list[Upserted]
    index: pd.DataFrame


def lake_orders(orders: pd.DataFrame, pii_key: str) -> pd.DataFrame:
    """Orders in the lake's shape: the email replaced by its keyed hash, the read position split out."""
    location = orders["source_location"].astype("str")
    # file:line (an empty read has no parts: rpartition would give no columns)
    file = location.str.replace(r":[^:]*$", "", regex=True)
    line = location.str.extract(r":([^:]*)$", expand=False)
    out = orders.drop(columns="email").assign(
        customer_hash=hash_emails(normalise_emails(orders["email"]), pii_key),
        source_file=file.where(file.ne(""), location),
        source_line=pd.to_numeric(line, errors="coerce").fillna(0),
    )
    return schema.conform(out, LAKE_ORDERS)


def customer_key(frame: pd.DataFrame) -> pd.Series:
    """The customer of an order for first orders: the email hash, else the customer id (publication.py)."""
    return frame["customer_hash"].fillna("cid:" + frame["customer_id"]).astype("str")


def index_rows(orders: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """The catalog's index rows of lake-shaped orders (instants as µs)."""
    return pd.DataFrame(
        {
            "sales_channel": orders["sales_channel"],
            "order_id": orders["order_id"],
            "day": local_dates(orders["placed_at"], timezone).astype(str),
            "placed_at": orders["placed_at"].astype(US).array.asi8,
            "updated_at": orders["updated_at"].astype(US).array.asi8,
            "source_file": orders["source_file"],
            "source_line": orders["source_line"].astype("int64"),
            "customer": customer_key(orders),
            "customer_hash": orders["customer_hash"],
            "customer_id": orders["customer_id"],
            "visitor_id": orders["visitor_id"],
            "is_sale": sale_flags(orders)["is_sale"].astype("int64"),
        }
    )[ORDER_INDEX_COLUMNS]


def winners(incoming: pd.DataFrame, kept: pd.DataFrame, source: str) -> np.ndarray:
    """Which incoming versions replace the kept one (or are the first seen)."""
    kept = kept.set_index("order_id").reindex(incoming["order_id"].to_numpy())
    first_seen = kept["day"].isna().to_numpy()
    file = incoming["source_file"].to_numpy(dtype=object)
    kept_file = np.where(first_seen, "", kept["source_file"].to_numpy(dtype=object))
    if source == "store_sales":
        wins = np.asarray(file >= kept_file, dtype=bool)
    else:
        new_t = incoming["updated_at"].astype(US).array.asi8
        old_t = kept["updated_at"].fillna(0).to_numpy(dtype=np.int64)
        line, kept_line = incoming["source_line"].to_numpy(), kept["source_line"].fillna(0).to_numpy()
        earlier = (file < kept_file) | ((file == kept_file) & (line <= kept_line))
        wins = (new_t > old_t) | ((new_t == old_t) & np.asarray(earlier, dtype=bool))
    return first_seen | wins


def first_sales(index: pd.DataFrame) -> pd.DataFrame:
    """Per customer, the key of the earliest sale (placed_at, then order_id) among index rows."""
    sales = index[index["is_sale"].astype(bool) & index["customer"].notna()]
    first = sales.sort_values(["customer", "placed_at", "order_id"], kind="stable").drop_duplicates("customer")
    return first[["customer", "sales_channel", "order_id", "day"]]


def first_order_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Days whose orders' first-order flag (Insi-6) moves: the old and new first sale of each customer."""
    a, b = first_sales(before).set_index("customer"), first_sales(after).set_index("customer")
    index = a.index.union(b.index)
    a, b = a.reindex(index), b.reindex(index)
    moved = (a["order_id"].fillna("") != b["order_id"].fillna("")) | (
        a["sales_channel"].fillna("") != b["sales_channel"].fillna("")
    )
    days = pd.concat([a.loc[moved, "day"], b.loc[moved, "day"]]).dropna()
    return spans("first_order_changed", pd.to_datetime(days).dt.date)


def plan_orders(
    read: SourceFrames, source: str, lake: Lake, catalog: Catalog, pii_key: str
) -> tuple[OrderPlan, pd.DataFrame]:
    """The upserts and index rows of the versions that win, and the change spans (new, updated, moved
    orders; first orders that move)."""
    datasets = ORDER_DATASETS[source]
    channel = "web" if source == "web_orders" else "store"
    incoming = lake_orders(read.frames["orders"], pii_key)
    kept = catalog.order_index(channel, incoming["order_id"])
    wins = winners(incoming, kept, source)
    won = incoming[wins].reset_index(drop=True)
    kept = kept.set_index("order_id")
    old = kept.reindex(won["order_id"].to_numpy())
    new_rows = index_rows(won, lake.timezone)
    moved = old["day"].notna().to_numpy() & (old["day"].to_numpy(dtype=object) != new_rows["day"].to_numpy())
    remove = {
        day: pd.DataFrame({"order_id": ids})
        for day, ids in pd.Series(won["order_id"].to_numpy()[moved]).groupby(old["day"].to_numpy()[moved])
    }
    lines = read.frames["order_lines"]
    lines = lines[is_in(lines["order_id"], won["order_id"])].merge(won[["order_id", "placed_at"]], on="order_id")
    upserts = [
        lake.plan_upsert(datasets["orders"], won, remove=remove),
        lake.plan_upsert(
            datasets["order_lines"], schema.conform(lines, LAKE_ORDER_LINES), remove=remove, group=("order_id",)
        ),
    ]
    first_seen, updated = CHANGE_NAMES[source]
    is_new = old["day"].isna().to_numpy()
    changed_days = upserts[0].new.assign(day=local_dates(upserts[0].new["placed_at"], lake.timezone))
    really = is_in(changed_days["order_id"], won["order_id"][~is_new])
    parts = [
        spans(first_seen, changed_days.loc[~really, "day"]),
        spans(updated, changed_days.loc[really, "day"]),
        spans(updated, pd.to_datetime(pd.Series(old["day"].to_numpy()[moved])).dt.date),
    ]
    customers = set(new_rows["customer"].dropna()) | set(old["customer"].dropna())
    before = catalog.first_sales(customers)
    key = ["sales_channel", "order_id"]
    reread = pd.MultiIndex.from_frame(new_rows[key])
    # a customer whose first sale is re-read tonight may fall back on a later stored sale: all of theirs
    redo = before["customer"][pd.MultiIndex.from_frame(before[key]).isin(reread)]
    stored = pd.concat([before[~is_in(before["customer"], redo)], catalog.sales_of(redo)], ignore_index=True)
    after = pd.concat([stored[~pd.MultiIndex.from_frame(stored[key]).isin(reread)], new_rows], ignore_index=True)
    parts.append(first_order_changes(before, after))
    return OrderPlan(upserts, new_rows), combine(parts)


def extract_orders(
    read: SourceFrames, source: str, lake: Lake, catalog: Catalog, *, pii_key: str, scope: str
) -> tuple[Extracted, OrderPlan]:
    """Plan one order source's extraction from what its reader returned (nothing is written yet)."""
    plan, changes = plan_orders(read, source, lake, catalog, pii_key)
    read_rows = sum(len(f) for f in read.frames.values())
    changed = {"orders": len(plan.upserts[0].new), "order_lines": len(plan.upserts[1].new)}
    return Extracted(source, read_rows, read.rejects, changed, changes, scope), plan
