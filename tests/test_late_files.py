"""Late and repeated POS files (data-contract.md §3: "the same file delivered twice must not double count"):
through the reader, and end to end through the Dagster pipeline into the reporting database.

The rule (chatsales/sources/store_sales.py): when a receipt_id appears in several files, the file read last
(name order) replaces the earlier versions whole. Checked by removal: without the "last file holding a
receipt wins" filter of read_store_sales_dir (`raw = raw[raw["_file"].eq(latest_file) | ...]` removed),
every test here fails: totals doubled, lines duplicated, corrections summed with the original.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from chatsales.demo import generate_demo
from chatsales.reporting.store import ReportingDb as ReportingStore
from chatsales.settings import load_settings
from chatsales.sources.store_sales import COLUMNS, read_store_sales_dir
from pipelines.definitions import definitions_for
from pipelines.jobs import DAILY_JOB
from pipelines.partitions import range_tags

HEADER = ",".join(COLUMNS) + "\n"


def _line(receipt, product, quantity, amount, sold_at="2026-03-02T10:00:00Z"):
    return f"{receipt},S1,Opera,Paris,{sold_at},a@example.com,,{product},skincare,{quantity},{amount},EUR\n"


def _write(folder: Path, name: str, lines: list[str]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(HEADER + "".join(lines))


def _read(folder: Path):
    read = read_store_sales_dir(folder, "Europe/Paris", "EUR")
    assert read.rejects.empty
    return read.frames["orders"].set_index("order_id"), read.frames["order_lines"]


def test_the_same_file_under_another_name_counts_once(tmp_path):
    """A store re-sends yesterday's file with a new name (a retry of its upload job): same receipts, once."""
    lines = [_line("R1", "p-1", 2, "40.00"), _line("R1", "p-2", 1, "10.50"), _line("R2", "p-1", -1, "-20.00")]
    _write(tmp_path, "store-S1-2026-03-02.csv", lines)
    _write(tmp_path, "upload-retry-0001.csv", lines)
    receipts, order_lines = _read(tmp_path)
    assert receipts["total"].to_dict() == {"R1": 50.5, "R2": -20.0}
    assert order_lines.groupby("order_id")["line_no"].apply(list).to_dict() == {"R1": [0, 1], "R2": [0]}
    assert receipts.loc["R1", "source_location"] == "upload-retry-0001.csv:2"


def test_a_redelivery_with_one_corrected_line_replaces_the_receipt_whole(tmp_path):
    """Days later the store re-sends the file with one line of R1 corrected (quantity 2 → 3) and a line of
    R3 removed: R1 and R3 take the new version, R2 (unchanged) still counts once, R4 (only in the first
    file) stays. The re-delivery's name sorts after the original (it carries its delivery day), as the rule
    needs: a name like `store-S1-2026-03-02-corrected.csv` would sort BEFORE `store-S1-2026-03-02.csv`
    ('-' < '.') and lose; that is the documented rule (README, Bad input), not a guess on file times."""
    _write(
        tmp_path,
        "store-S1-2026-03-02.csv",
        [
            _line("R1", "p-1", 2, "40.00"),
            _line("R1", "p-2", 1, "10.50"),
            _line("R2", "p-1", 1, "20.00"),
            _line("R3", "p-1", 1, "5.00"),
            _line("R3", "p-9", 1, "7.00"),
            _line("R4", "p-4", 1, "1.00"),
        ],
    )
    _write(
        tmp_path,
        "store-S1-2026-03-05-resent-2026-03-02.csv",
        [
            _line("R1", "p-1", 3, "60.00"),
            _line("R1", "p-2", 1, "10.50"),
            _line("R2", "p-1", 1, "20.00"),
            _line("R3", "p-1", 1, "5.00"),
        ],
    )
    receipts, order_lines = _read(tmp_path)
    assert receipts["total"].to_dict() == {"R1": 70.5, "R2": 20.0, "R3": 5.0, "R4": 1.0}
    r1 = order_lines[order_lines["order_id"] == "R1"]
    assert r1[["line_no", "product_id", "quantity", "line_amount"]].values.tolist() == [
        [0, "p-1", 3.0, 60.0],
        [1, "p-2", 1.0, 10.5],
    ]
    assert len(order_lines) == 5
    # the same re-delivery overwriting the original file (same name) gives the same result
    resent = tmp_path / "store-S1-2026-03-05-resent-2026-03-02.csv"
    resent.replace(tmp_path / "store-S1-2026-03-02.csv")
    again, _ = _read(tmp_path)
    assert again["total"].to_dict() == {"R1": 70.5, "R2": 20.0, "R3": 5.0}


# --- end to end through Dagster ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return generate_demo(tmp_path_factory.mktemp("late") / "data", date(2026, 3, 9), days=4, scale=0.02, seed=5)


def test_a_redelivered_pos_file_through_the_pipeline_counts_once_and_takes_the_correction(demo, tmp_path):
    """A day is published; then its POS file arrives again under another name, and once more with one
    receipt's line corrected; re-running the day gives the same receipts, once each, the corrected total
    for that receipt, and everything else unchanged."""
    pos = tmp_path / "pos"
    shutil.copytree(demo.store_sales_dir, pos)
    settings = load_settings(
        {
            "CHATSALES_HOME": str(tmp_path / "home"),
            "CHATSALES_START_DATE": str(demo.first_day),
            "CHATSALES_CHAT_DB_URL": f"sqlite:///{demo.chat_db_path}",
            "CHATSALES_ORDERS_DIR": str(demo.orders_dir),
            "CHATSALES_STORE_SALES_DIR": str(pos),
            "CHATSALES_CAMPAIGNS_DIR": str(demo.campaigns_dir),
            "CHATSALES_REPORTING_DB_URL": f"sqlite:///{tmp_path / 'reporting.db'}",
        }
    )
    job = definitions_for(settings).resolve_job_def(DAILY_JOB)
    day = demo.first_day + (demo.last_day - demo.first_day) // 2
    store = ReportingStore(settings.reporting_db_url)

    def publish():
        with dg.DagsterInstance.ephemeral() as instance:
            assert job.execute_in_process(instance=instance, tags=range_tags(day, day)).success
        orders = store.read_table("attributed_orders", days=[day])
        assert not orders.duplicated(["sales_channel", "order_id"]).any()
        return orders[orders["sales_channel"] == "store"].set_index("order_id").sort_index()

    before = publish()
    assert len(before) >= 5
    [original] = sorted(pos.glob(f"*-{day}.csv"))
    # the day's file again under a new name, then a re-delivery of it with one line corrected (+100)
    shutil.copyfile(original, pos / f"zz-resent-{original.name}")
    frame = pd.read_csv(original, dtype=str, keep_default_na=False)
    row = frame.index[frame["line_amount"].astype(float) > 0][0]  # a sale line: +100 keeps its sign
    receipt = frame.loc[row, "receipt_id"]
    frame.loc[row, "line_amount"] = f"{float(frame.loc[row, 'line_amount']) + 100:.2f}"
    frame.to_csv(pos / f"zzz-corrected-{original.name}", index=False)

    after = publish()
    assert list(after.index) == list(before.index)
    assert after.loc[receipt, "total"] == pytest.approx(before.loc[receipt, "total"] + 100)
    unchanged = after.index != receipt
    pd.testing.assert_series_equal(after.loc[unchanged, "total"], before.loc[unchanged, "total"])
    assert store.read_table("rejects").query("source == 'store_sales'").empty
