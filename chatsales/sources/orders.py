"""Web orders (data-contract.md §2): the JSONL folder form, and the record normaliser shared with the
Shopify client, so both forms produce the same rows. The latest version of each order wins: a line replaces
the version kept so far only when its updated_at is strictly newer (equal: the one read first stays)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from chatsales import schema
from chatsales.contract import (Checks, SourceError, SourceFrames, concat_rejects, rejects_frame,
                                text_column)

SOURCE = "web_orders"


def _lines_frame(records: pd.DataFrame, ok: np.ndarray) -> pd.DataFrame:
    """One row per order line of the valid orders, line_no = position in the order."""
    lines = records.loc[ok, ["order_id", "lines"]].explode("lines").dropna(subset=["lines"])
    if lines.empty:
        return schema.empty(schema.ORDER_LINES)
    detail = pd.json_normalize(lines["lines"].tolist())
    for column in ("product_id", "sku", "title", "category", "quantity", "unit_price"):
        if column not in detail:
            detail[column] = None
    quantity = pd.to_numeric(detail["quantity"], errors="coerce")
    unit_price = pd.to_numeric(detail["unit_price"], errors="coerce")
    frame = pd.DataFrame({
        "order_id": lines["order_id"].astype(str).to_numpy(), "sales_channel": "web",
        "line_no": lines.groupby(level=0).cumcount().to_numpy(),
        "product_id": text_column(detail["product_id"]), "sku": text_column(detail["sku"]),
        "title": text_column(detail["title"]), "category": text_column(detail["category"]),
        "quantity": quantity, "unit_price": unit_price, "line_amount": quantity * unit_price,
    })
    return schema.conform(frame, schema.ORDER_LINES)


def normalise_order_records(records: list[dict], locations: list[str], currency: str,
                            source: str = SOURCE) -> SourceFrames:
    """Contract-shaped order dicts (JSONL lines or Shopify records) → validated, deduplicated frames."""
    if not records:
        return SourceFrames({"orders": schema.empty(schema.ORDERS), "order_lines": schema.empty(schema.ORDER_LINES)})
    raw = pd.DataFrame.from_records(records)
    for column in ("order_id", "placed_at", "updated_at", "email", "customer_id", "visitor_id", "currency",
                   "total", "status", "cancelled_at", "refunded", "is_first_order", "lines"):
        if column not in raw:
            raw[column] = None
    raw["_location"] = locations
    raw["_read"] = np.arange(len(raw))
    checks = Checks(raw, source, raw["_location"], raw["order_id"].astype(object))
    checks.required("order_id")
    placed = checks.timestamp("placed_at", required=True)
    updated = checks.timestamp("updated_at", required=True)
    checks.timestamp("cancelled_at", required=False)
    checks.required("currency")
    checks.fail(checks.col("currency").notna() & checks.col("currency").astype("str").ne(currency),
                f"currency: not the reporting currency {currency}", checks.col("currency"))
    total = checks.number("total", required=True, minimum=0)
    refunded = checks.number("refunded", required=False, minimum=0)
    checks.enum("status", schema.ORDER_STATUSES)
    first = raw["is_first_order"]
    checks.fail(first.notna() & ~first.isin([True, False]), "is_first_order: not a boolean", first)
    bad_lines = ~raw["lines"].map(lambda v: v is None or isinstance(v, list)).astype(bool)
    checks.fail(bad_lines, "lines: not a list")
    ok = checks.ok
    orders = pd.DataFrame({
        "order_id": raw["order_id"].astype("str"), "sales_channel": "web", "placed_at": placed,
        "updated_at": updated, "email": text_column(raw["email"]), "customer_id": text_column(raw["customer_id"]),
        "visitor_id": text_column(raw["visitor_id"]), "currency": raw["currency"].astype("str"),
        "total": total, "refunded": refunded.fillna(0.0), "status": raw["status"].astype("str"),
        "is_first_order": raw["is_first_order"].astype("boolean"), "store_id": None, "store_name": None,
        "store_city": None, "source_location": raw["_location"].astype("str"), "_read": raw["_read"],
    })[ok]
    # latest version: strictly newer updated_at wins; on a tie the one read first stays
    latest = orders.sort_values(["order_id", "updated_at", "_read"], ascending=[True, False, True],
                                kind="stable").drop_duplicates("order_id").sort_values("_read")
    kept = np.zeros(len(raw), dtype=bool)
    kept[latest["_read"].to_numpy()] = True
    frames = {"orders": schema.conform(latest.reset_index(drop=True), schema.ORDERS),
              "order_lines": _lines_frame(raw.assign(order_id=raw["order_id"].astype(str)), kept)}
    return SourceFrames(frames, checks.rejects())


def read_orders_dir(path: Path, currency: str, only: set[str] | None = None) -> SourceFrames:
    """Every `*.jsonl` of the folder in name order (or only the files named in `only`); a line that is not
    JSON is a reject (file:line)."""
    path = Path(path)
    if not path.is_dir():
        raise SourceError(f"{SOURCE}: orders folder {path} does not exist")
    records, locations, bad = [], [], []
    for file in (f for f in sorted(path.glob("*.jsonl")) if only is None or f.name in only):
        for number, line in enumerate(file.read_bytes().splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{file.name}:{number}"
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, UnicodeDecodeError) as exc:
                bad.append((where, f"not a JSON order: {str(exc)[:80]}"))
                continue
            records.append(record)
            locations.append(where)
    read = normalise_order_records(records, locations, currency)
    if bad:
        where, reason = zip(*bad)
        read.rejects = concat_rejects([rejects_frame(SOURCE, list(where), None, list(reason)), read.rejects])
    return read
