"""Web orders (data-contract.md §2): the JSONL folder form, and the record normaliser shared with the
Shopify client, so both forms produce the same rows. The latest version of each order wins: a line replaces
the version kept so far only when its updated_at is strictly newer (equal: the one read first stays)."""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from chatsales import schema
from chatsales.contract import (
    MAX_AMOUNT,
    Checks,
    SourceFrames,
    SourceSetupError,
    concat_rejects,
    rejects_frame,
    text_column,
)

SOURCE = "web_orders"


def _order_lines(raw: pd.DataFrame, checks: Checks, max_amount: float) -> pd.DataFrame:
    """The lines of the orders not yet rejected, parsed once (index = the order's row in `raw`).

    An order whose `lines` is not a list of objects, or has a line whose quantity or unit_price is not a
    number, is a reject: its amounts cannot be trusted.
    """
    lines = raw["lines"]
    checks.fail(~lines.map(lambda v: v is None or isinstance(v, list)).astype(bool), "lines: not a list")
    checks.fail(
        ~lines.map(lambda v: not isinstance(v, list) or all(x is None or isinstance(x, dict) for x in v)).astype(bool),
        "lines: an item is not an object",
    )
    exploded = raw.loc[checks.ok, ["lines"]].explode("lines").dropna(subset=["lines"])
    detail = pd.json_normalize(exploded["lines"].tolist()) if len(exploded) else pd.DataFrame()
    for column in ("product_id", "sku", "title", "category", "quantity", "unit_price"):
        if column not in detail:
            detail[column] = None
    detail.index = exploded.index
    numbers = Checks(detail[["quantity", "unit_price"]], checks.source, "", "")
    for column in ("quantity", "unit_price"):
        numbers.number(column, required=False, maximum=max_amount)
        detail[column] = numbers.parsed[column].to_numpy()
    bad = pd.Series(numbers.reason.to_numpy(), index=detail.index).dropna()
    bad = bad[~bad.index.duplicated()]  # an order's first bad line gives its reason
    for text in bad.unique():
        checks.fail(raw.index.isin(bad.index[bad.eq(text)]), "lines: " + text)
    return detail


def _lines_frame(order_ids: pd.Series, detail: pd.DataFrame, kept: np.ndarray) -> pd.DataFrame:
    """One row per order line of the kept orders, line_no = position in the order."""
    lines = detail[kept[detail.index.to_numpy()]] if len(detail) else detail
    if lines.empty:
        return schema.empty(schema.ORDER_LINES)
    quantity, unit_price = lines["quantity"].astype("float64"), lines["unit_price"].astype("float64")
    frame = pd.DataFrame(
        {
            "order_id": order_ids.to_numpy()[lines.index.to_numpy()],
            "sales_channel": "web",
            "line_no": lines.groupby(level=0).cumcount().to_numpy(),
            "product_id": text_column(lines["product_id"]).to_numpy(),
            "sku": text_column(lines["sku"]).to_numpy(),
            "title": text_column(lines["title"]).to_numpy(),
            "category": text_column(lines["category"]).to_numpy(),
            "quantity": quantity.to_numpy(),
            "unit_price": unit_price.to_numpy(),
            "line_amount": (quantity * unit_price).to_numpy(),
        }
    )
    return schema.conform(frame, schema.ORDER_LINES)


def normalise_order_records(
    records: list[dict], locations: list[str], currency: str, source: str = SOURCE, max_amount: float = MAX_AMOUNT
) -> SourceFrames:
    """Contract-shaped order dicts (JSONL lines or Shopify records) → validated, deduplicated frames."""
    if not records:
        return SourceFrames({"orders": schema.empty(schema.ORDERS), "order_lines": schema.empty(schema.ORDER_LINES)})
    raw = pd.DataFrame.from_records(records)
    for column in (
        "order_id",
        "placed_at",
        "updated_at",
        "email",
        "customer_id",
        "visitor_id",
        "currency",
        "total",
        "status",
        "cancelled_at",
        "refunded",
        "is_first_order",
        "lines",
    ):
        if column not in raw:
            raw[column] = None
    raw["_location"] = locations
    raw["_read"] = np.arange(len(raw))
    checks = Checks(raw, source, raw["_location"], raw["order_id"].astype(object))
    checks.required("order_id")
    checks.fail(
        ~raw["order_id"].map(lambda v: v is None or isinstance(v, (str, int)) and not isinstance(v, bool)).astype(bool),
        "order_id: not a text or a whole number",
        raw["order_id"],
    )
    placed = checks.timestamp("placed_at", required=True)
    updated = checks.timestamp("updated_at", required=True)
    checks.timestamp("cancelled_at", required=False)
    checks.required("currency")
    checks.fail(
        checks.col("currency").notna() & checks.col("currency").astype("str").ne(currency),
        f"currency: not the reporting currency {currency}",
        checks.col("currency"),
    )
    total = checks.number("total", required=True, minimum=0, maximum=max_amount)
    refunded = checks.number("refunded", required=False, minimum=0, maximum=max_amount)
    checks.enum("status", schema.ORDER_STATUSES)
    first = raw["is_first_order"].map(lambda v: None if v is None or v != v else v if isinstance(v, bool) else "bad")
    checks.fail(first.eq("bad"), "is_first_order: not a boolean", raw["is_first_order"])
    detail = _order_lines(raw, checks, max_amount)
    ok = checks.ok
    orders = pd.DataFrame(
        {
            "order_id": raw["order_id"].astype("str"),
            "sales_channel": "web",
            "placed_at": placed,
            "updated_at": updated,
            "email": text_column(raw["email"]),
            "customer_id": text_column(raw["customer_id"]),
            "visitor_id": text_column(raw["visitor_id"]),
            "currency": raw["currency"].astype("str"),
            "total": total,
            "refunded": refunded.fillna(0.0),
            "status": raw["status"].astype("str"),
            "is_first_order": first.where(ok, None).astype("boolean"),
            "store_id": None,
            "store_name": None,
            "store_city": None,
            "source_location": raw["_location"].astype("str"),
            "_read": raw["_read"],
        }
    )[ok]
    # latest version: strictly newer updated_at wins; on a tie the one read first stays
    latest = (
        orders.sort_values(["order_id", "updated_at", "_read"], ascending=[True, False, True], kind="stable")
        .drop_duplicates("order_id")
        .sort_values("_read")
    )
    kept = np.zeros(len(raw), dtype=bool)
    kept[latest["_read"].to_numpy()] = True
    frames = {
        "orders": schema.conform(latest.reset_index(drop=True), schema.ORDERS),
        "order_lines": _lines_frame(raw["order_id"].astype(str), detail, kept),
    }
    return SourceFrames(frames, checks.rejects())


@contextmanager
def gc_paused():
    """Python's cyclic collector paused while millions of order dicts are built: they hold no cycles, and
    each collection rescans the ones kept so far, a cost that grows with every order read."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_orders_dir(
    path: Path, currency: str, only: set[str] | None = None, max_amount: float = MAX_AMOUNT
) -> SourceFrames:
    """Every `*.jsonl` of the folder in name order (or only the files named in `only`); a line that is not
    JSON is a reject (file:line)."""
    path = Path(path)
    if not path.is_dir():
        raise SourceSetupError(f"{SOURCE}: orders folder {path} does not exist")
    with gc_paused():
        return _read_orders_dir(path, currency, only, max_amount)


def _read_orders_dir(path: Path, currency: str, only: set[str] | None, max_amount: float) -> SourceFrames:
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
    read = normalise_order_records(records, locations, currency, max_amount=max_amount)
    if bad:
        where, reason = zip(*bad)
        read.rejects = concat_rejects([rejects_frame(SOURCE, list(where), None, list(reason)), read.rejects])
    return read
