"""In-store receipts from POS CSV exports (data-contract.md §3). One row per receipt line; a receipt is
its lines. Files may arrive late and twice: when a receipt_id appears in several files, the file read last
(name order) replaces the earlier versions whole, so a re-delivery counts once and takes its corrections.
A receipt with one bad line is rejected whole: a partial total is never reported."""

from __future__ import annotations

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
    read_csv_rows,
    rejects_frame,
    text_column,
)

SOURCE = "store_sales"
COLUMNS = [
    "receipt_id",
    "store_id",
    "store_name",
    "store_city",
    "sold_at",
    "customer_email",
    "loyalty_id",
    "product_id",
    "category",
    "quantity",
    "line_amount",
    "currency",
]


def _read_one(file: Path, order: int) -> tuple[pd.DataFrame | None, list[pd.DataFrame]]:
    """The careful path for one file: undecodable or ragged lines and missing columns become rejects."""
    frame, rejects = read_csv_rows(file, COLUMNS, SOURCE, key="receipt_id")
    return (None if frame is None else frame.assign(_file=order)), [rejects]


def _read_files(files: list[Path]) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """The files, in the order given: those in the plain shape (UTF-8, the exact header, no quoting) parsed together
    in one read_csv, which matters with hundreds of small daily files; the others one by one, carefully."""
    header = ",".join(COLUMNS)
    frames, rejects, bodies, plain = [], [], [], []
    for order, file in enumerate(files):
        data = file.read_bytes()
        if not data:
            rejects.append(rejects_frame(SOURCE, [file.name], [None], ["empty file"]))
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        first, _, body = (text or "").partition("\n")
        body = body if body.endswith("\n") or not body else body + "\n"
        if (
            text is not None
            and first.strip().replace(" ", "") == header
            and '"' not in body
            and body.count(",") == (len(COLUMNS) - 1) * body.count("\n")
        ):  # no ragged or blank line
            bodies.append(body)
            plain.append((order, file.name, body.count("\n")))
            continue
        frame, bad = _read_one(file, order)
        rejects.extend(bad)
        if frame is not None:
            frames.append(frame)
    if bodies:
        import io

        together = pd.read_csv(
            io.StringIO("".join(bodies)), names=COLUMNS, dtype="str", keep_default_na=False, skip_blank_lines=False
        )
        counts = np.array([n for _, _, n in plain])
        together["_file"] = np.repeat([o for o, _, _ in plain], counts)
        line = np.arange(len(together)) - np.repeat(np.cumsum(counts) - counts, counts) + 2
        names = np.repeat(np.array([name for _, name, _ in plain], dtype=object), counts)
        together["_location"] = names + ":" + line.astype(str)
        frames.append(together[together[COLUMNS].ne("").any(axis=1)])  # a blank line is no row
    if not frames:
        return pd.DataFrame(columns=[*COLUMNS, "_file", "_location"]), rejects
    return pd.concat(frames, ignore_index=True), rejects


def read_store_sales_dir(
    path: Path, timezone: str, currency: str, only: set[str] | None = None, max_amount: float = MAX_AMOUNT
) -> SourceFrames:
    """Every `*.csv` of the folder in name order, or only the files named in `only` (the late-data sensor
    reads just the new ones)."""
    path = Path(path)
    if not path.is_dir():
        raise SourceSetupError(f"{SOURCE}: POS folder {path} does not exist")
    names = sorted(f.name for f in path.glob("*.csv")) if only is None else sorted(only)
    raw, file_rejects = _read_files([path / name for name in names if only is None or (path / name).is_file()])
    # the last file holding a receipt wins; older versions of that receipt are superseded, not rejected
    latest_file = raw.groupby("receipt_id")["_file"].transform("max")
    raw = raw[raw["_file"].eq(latest_file) | raw["receipt_id"].eq("")].reset_index(drop=True)
    checks = Checks(raw, SOURCE, raw["_location"], raw["receipt_id"])
    checks.required("receipt_id", "store_id")
    sold_at = checks.timestamp("sold_at", required=True, naive_tz=timezone)
    quantity = checks.number("quantity", required=True, maximum=max_amount)
    amount = checks.number("line_amount", required=True, maximum=max_amount)
    checks.fail(
        checks.col("currency").astype("str").ne(currency),
        f"currency: not the reporting currency {currency}",
        checks.col("currency"),
    )
    checks.fail(quantity * amount < 0, "line_amount: sign differs from quantity's", checks.col("line_amount"))
    # one bad line rejects its whole receipt: a line that failed a check, or one the CSV reader could not
    # parse but whose receipt_id it could read (in the same file)
    file_of = raw["_location"].astype("str").str.replace(r":\d+$", "", regex=True)
    bad_lines = concat_rejects(file_rejects)
    ragged = set(
        (
            bad_lines["location"].astype("str").str.replace(r":\d+$", "", regex=True) + "\0" + bad_lines["record_key"]
        ).dropna()
    )
    bad_receipts = set(raw.loc[~checks.ok, "receipt_id"]) - {""}
    checks.fail(
        raw["receipt_id"].isin(bad_receipts) | (file_of + "\0" + raw["receipt_id"]).isin(ragged),
        "receipt has a rejected line",
    )
    ok = checks.ok
    lines = pd.DataFrame(
        {
            "order_id": raw["receipt_id"],
            "sales_channel": "store",
            "sold_at": sold_at,
            "email": text_column(raw["customer_email"]),
            "store_id": raw["store_id"],
            "store_name": text_column(raw["store_name"]),
            "store_city": text_column(raw["store_city"]),
            "product_id": text_column(raw["product_id"]),
            "category": text_column(raw["category"]),
            "quantity": quantity,
            "line_amount": amount,
            "currency": raw["currency"],
            "location": raw["_location"],
        }
    )[ok]
    lines["line_no"] = lines.groupby("order_id").cumcount()
    receipts = (
        lines.groupby("order_id", sort=False)
        .agg(
            placed_at=("sold_at", "min"),
            total=("line_amount", "sum"),
            email=("email", "first"),
            store_id=("store_id", "first"),
            store_name=("store_name", "first"),
            store_city=("store_city", "first"),
            currency=("currency", "first"),
            source_location=("location", "first"),
        )
        .reset_index()
    )
    receipts = receipts.assign(
        sales_channel="store",
        updated_at=receipts["placed_at"],
        customer_id=None,
        visitor_id=None,
        refunded=0.0,
        status=np.where(receipts["total"] > 0, "paid", "return"),
        is_first_order=pd.NA,
    )
    order_lines = lines.assign(
        sku=None, title=None, unit_price=lines["line_amount"] / lines["quantity"].where(lines["quantity"] != 0)
    )
    frames = {
        "orders": schema.conform(receipts, schema.ORDERS),
        "order_lines": schema.conform(order_lines, schema.ORDER_LINES),
    }
    return SourceFrames(frames, concat_rejects([*file_rejects, checks.rejects()]))
