"""The lake: partitioned datasets upserted by key (only changed partitions rewritten, the replaced versions
reported), the catalog's change log and watermarks, and the IO manager that hands days between assets."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from chatsales.lake.catalog import Catalog
from chatsales.lake.store import Dataset, Lake
from pipelines.partitions import range_tags
from resources.lake import LakeIOManager

TS = "datetime64[us, UTC]"
ROWS = Dataset("sources/test/rows", ("id",), "at", "day", {"id": "str", "at": TS, "v": "int64"})
LINES = Dataset(
    "sources/test/lines",
    ("order_id", "line_no"),
    "at",
    "day",
    {"order_id": "str", "line_no": "int64", "at": TS, "q": "int64"},
)


def _rows(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["id", "at", "v"])
    return frame.assign(at=pd.to_datetime(frame["at"], utc=True).astype(TS))


def test_upsert_reports_what_changed_and_rewrites_only_those_partitions(tmp_path):
    lake = Lake(tmp_path, "Europe/Paris")
    first = lake.upsert(ROWS, _rows(("a", "2026-03-01T10:00Z", 1), ("b", "2026-03-02T10:00Z", 2)))
    assert first.partitions == ["2026-03-01", "2026-03-02"] and first.old.empty
    untouched = (tmp_path / ROWS.path / "day=2026-03-01" / "part.parquet").stat().st_mtime_ns
    again = lake.upsert(
        ROWS, _rows(("a", "2026-03-01T10:00Z", 1), ("b", "2026-03-02T10:00Z", 5), ("c", "2026-03-02T23:30Z", 3))
    )  # 23:30 UTC is already the 3rd in Paris
    assert again.new["id"].tolist() == ["b", "c"] and again.old[["id", "v"]].values.tolist() == [["b", 2]]
    assert again.partitions == ["2026-03-02", "2026-03-03"]
    assert (tmp_path / ROWS.path / "day=2026-03-01" / "part.parquet").stat().st_mtime_ns == untouched
    assert lake.read(ROWS)[["id", "v"]].values.tolist() == [["a", 1], ["b", 5], ["c", 3]]
    assert lake.read_days(ROWS, date(2026, 3, 2), date(2026, 3, 2))["id"].tolist() == ["b"]


def test_digests_name_the_partitions_that_changed(tmp_path):
    """What the state facts' publication learns which months to build from: a digest per partition, made
    from its file's bytes, that moves with the partition's content and with nothing else."""
    lake = Lake(tmp_path, "Europe/Paris")
    lake.upsert(ROWS, _rows(("a", "2026-03-01T10:00Z", 1), ("b", "2026-03-02T10:00Z", 2)))
    before = lake.digests(ROWS)
    assert list(before) == ["2026-03-01", "2026-03-02"]
    lake.upsert(ROWS, _rows(("a", "2026-03-01T10:00Z", 1), ("b", "2026-03-02T10:00Z", 5)))
    after = lake.digests(ROWS)
    assert after["2026-03-01"] == before["2026-03-01"] and after["2026-03-02"] != before["2026-03-02"]
    assert lake.digests(LINES) == {}


KEYED = Dataset("state/test/keyed", ("id",), "at", "month", {"id": "str", "at": TS, "v": "int64", "tag": "str"}, 100)


def _keyed_rows(n: int) -> pd.DataFrame:
    """n rows an hour apart from 1 March 2026 (two local months), keys k00000…"""
    return pd.DataFrame(
        {
            "id": [f"k{i:05d}" for i in range(n)],
            "at": pd.date_range("2026-03-01T10:00Z", periods=n, freq="60min").astype(TS),
            "v": range(n),
            "tag": [f"w{i}" for i in range(n)],
        }
    )


def test_reads_by_key_or_filter_decode_only_the_row_groups_that_hold_a_row(tmp_path):
    """A keyed dataset is written in small row groups sorted by key: a lookup of a few keys, or a filter on
    another column, gives the rows a whole read would, in the same order, and decodes only the groups whose
    statistics admit one."""
    import pyarrow.parquet as pq

    from chatsales.lake.where import dated_within, key_in

    lake = Lake(tmp_path, "Europe/Paris")
    n = 1000
    frame = _keyed_rows(n)
    lake.upsert(KEYED, frame.sample(frac=1, random_state=3))  # shuffled: the lake sorts each file by key
    files = sorted((tmp_path / KEYED.path).glob("*/part.parquet"))
    assert len(files) == 2 and all(pq.ParquetFile(f).metadata.num_row_groups > 1 for f in files)
    whole = lake.read(KEYED)
    wanted = ["k00950", "k00007", "k00500", "missing"]
    by_key = lake.read_matching(KEYED, "id", wanted)
    assert by_key["id"].tolist() == ["k00007", "k00500", "k00950"]
    pd.testing.assert_frame_equal(by_key, whole[whole["id"].isin(wanted)].reset_index(drop=True))
    by_value = lake.read_matching(KEYED, "tag", ["w999", "w3"])
    assert by_value["id"].tolist() == ["k00003", "k00999"]
    at = frame["at"]
    late = lake.read(KEYED, where=dated_within(["at"], at.iloc[990], at.iloc[999] + pd.Timedelta(hours=1)))
    assert late["v"].tolist() == list(range(990, 1000))
    first = lake.read(KEYED, ["2026-03"], where=dated_within(["at"], at.iloc[0], at.iloc[3]))
    assert first["id"].tolist() == ["k00000", "k00001", "k00002"]
    either = dated_within(["at"], at.iloc[0], at.iloc[1]) | key_in("id", ["k00998"])
    assert lake.read(KEYED, where=either)["id"].tolist() == ["k00000", "k00998"]
    assert lake.read_matching(KEYED, "id", []).empty and list(lake.read_matching(KEYED, "id", [])) == list(whole)
    # what is decoded: one row group for one key, one for a day at the end, none for a day out of range
    meta, schema = pq.ParquetFile(files[1]).metadata, pq.ParquetFile(files[1]).schema_arrow
    assert key_in("id", ["k00950"]).groups(meta, schema) == [meta.num_row_groups - 1]
    assert dated_within(["at"], at.iloc[999], at.iloc[999] + pd.Timedelta(hours=1)).groups(meta, schema) == [
        meta.num_row_groups - 1
    ]
    assert dated_within(["at"], at.iloc[0], at.iloc[1]).groups(meta, schema) == []


def test_files_written_before_small_row_groups_are_regrouped_once_with_the_same_rows(tmp_path):
    import dataclasses

    import pyarrow.parquet as pq

    lake = Lake(tmp_path, "Europe/Paris")
    before = dataclasses.replace(KEYED, row_group_rows=None)  # as an earlier version wrote it
    n = 1000
    frame = _keyed_rows(n)
    lake.upsert(before, frame)
    files = sorted((tmp_path / KEYED.path).glob("*/part.parquet"))
    assert [pq.ParquetFile(f).metadata.num_row_groups for f in files] == [1, 1]
    whole = lake.read(KEYED)
    assert lake.regroup(KEYED) == 2
    assert all(pq.ParquetFile(f).metadata.num_row_groups > 1 for f in files)
    pd.testing.assert_frame_equal(lake.read(KEYED), whole)
    assert lake.regroup(KEYED) == 0 and lake.regroup(ROWS) == 0


def test_a_planned_upsert_writes_nothing_until_applied(tmp_path):
    lake = Lake(tmp_path, "Europe/Paris")
    planned = lake.plan_upsert(ROWS, _rows(("a", "2026-03-01T10:00Z", 1)))
    assert lake.read(ROWS).empty and len(planned.new) == 1
    lake.apply(planned)
    lake.apply(planned)  # applying twice (a retry after a crash) changes nothing
    assert lake.read(ROWS)["id"].tolist() == ["a"]


def test_a_group_replaces_all_its_rows_and_a_moved_record_leaves_its_old_partition(tmp_path):
    lake = Lake(tmp_path, "Europe/Paris")
    lines = pd.DataFrame(
        {
            "order_id": ["o1", "o1", "o2"],
            "line_no": [0, 1, 0],
            "q": [1, 2, 3],
            "at": pd.to_datetime(["2026-03-01T10:00Z"] * 3, utc=True).astype(TS),
        }
    )
    lake.upsert(LINES, lines)
    fewer = lines.iloc[[0]].assign(q=9)  # o1 now has one line: its second line goes
    assert len(lake.upsert(LINES, fewer, group=("order_id",)).old) == 2
    assert lake.read(LINES)[["order_id", "line_no", "q"]].values.tolist() == [["o1", 0, 9], ["o2", 0, 3]]
    moved = lines.iloc[[2]].assign(at=pd.Timestamp("2026-03-05T10:00Z"))
    lake.upsert(LINES, moved, remove={"2026-03-01": moved[["order_id"]]}, group=("order_id",))
    assert lake.read(LINES, ["2026-03-01"])["order_id"].tolist() == ["o1"]
    assert lake.read(LINES, ["2026-03-05"])["order_id"].tolist() == ["o2"]


def test_catalog_keeps_the_change_log_and_the_last_complete_extraction(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    changes = pd.DataFrame(
        {"what": ["late_rating"], "first_day": [date(2026, 3, 1)], "last_day": [date(2026, 3, 1)], "rows": [2]}
    )
    with catalog.transaction() as conn:
        pending = catalog.record_extraction(
            conn,
            "chat_platform",
            run_id="r",
            started_at="2026-03-02T03:00:00+00:00",
            scope_since=None,
            read_rows=10,
            rejects=0,
            changes=changes,
        )
    assert catalog.last_extraction("chat_platform") is None  # not complete: the next read starts over
    with catalog.transaction() as conn:
        catalog.complete(conn, pending, {"sources/chat_platform/ratings": ["2026-03-01"]})
    assert catalog.last_extraction("chat_platform")["read_rows"] == 10
    assert catalog.written_since("chat_platform", 0) == (pending, {"sources/chat_platform/ratings": ["2026-03-01"]})
    log = catalog.changes_since(0)
    assert log[["seq", "what", "first_day", "rows"]].values.tolist() == [[1, "late_rating", date(2026, 3, 1), 2]]
    assert catalog.changes_since(catalog.last_seq()).empty


DAILY = dg.DailyPartitionsDefinition(start_date="2026-03-27", timezone="Europe/Paris")
POLICY = dg.BackfillPolicy.single_run()


@dg.asset(partitions_def=DAILY, backfill_policy=POLICY, io_manager_key="lake_io_manager")
def per_day(context) -> dict:
    days = [date.fromisoformat(k) for k in context.partition_keys]
    return {
        "a": pd.DataFrame({"day": days, "n": range(1, len(days) + 1)}),
        "b": pd.DataFrame({"day": days[:1], "x": ["first"]}),
    }


@dg.asset(partitions_def=DAILY, backfill_policy=POLICY)
def reader(context, per_day: dict) -> None:
    context.add_output_metadata(
        {"days": ",".join(map(str, per_day["a"]["day"])), "n": int(per_day["a"]["n"].sum()), "b": len(per_day["b"])}
    )


def _run(tmp_path, first, last, selection=None, assets=(per_day, reader)):
    return dg.materialize(
        list(assets),
        resources={"lake_io_manager": LakeIOManager(lake_dir=str(tmp_path))},
        tags=range_tags(first, last),
        selection=selection,
        raise_on_error=False,
    )


def test_daily_outputs_load_by_day_whichever_run_wrote_them(tmp_path):
    assert _run(tmp_path, "2026-03-27", "2026-03-30").success
    result = _run(tmp_path, "2026-03-28", "2026-03-29", selection=[reader])
    assert result.success
    metadata = result.asset_materializations_for_node("reader")[0].metadata
    assert metadata["days"].value == "2026-03-28,2026-03-29" and metadata["n"].value == 2 + 3
    assert metadata["b"].value == 0  # table b had rows only on the 27th: an empty day is stored too


def test_missing_day_is_a_clear_error(tmp_path):
    result = _run(tmp_path, "2026-03-27", "2026-03-28", selection=[reader])
    errors = [e.event_specific_data.error for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "per_day has no data for day 2026-03-27: materialise that partition first" in str(errors[0].cause)


def test_rows_outside_the_run_days_are_refused(tmp_path):
    @dg.asset(partitions_def=DAILY, backfill_policy=POLICY, io_manager_key="lake_io_manager", name="per_day")
    def stray(context) -> pd.DataFrame:
        return pd.DataFrame({"day": [date(2026, 4, 9)], "n": [1]})

    result = _run(tmp_path, "2026-03-27", "2026-03-27", assets=(stray,))
    errors = [e.event_specific_data.error for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "table __frame__ has rows for days ['2026-04-09'] outside the run's partitions" in str(errors[0].cause)
    with pytest.raises(FileNotFoundError):
        next((tmp_path / "pipeline" / "per_day").iterdir())


def test_a_product_shown_earlier_than_known_moves_to_its_month(tmp_path):
    """The products shown are partitioned by the month of their first share, which only moves earlier (a
    late message): the row leaves its old month, so a lookup finds it once, in the new one."""
    from chatsales.conversation_state import ROOM_PRODUCT, _earliest, _moved

    lake = Lake(tmp_path, "Europe/Paris")

    def shown(*rows):
        frame = pd.DataFrame(rows, columns=["chatroom_id", "product_id", "first_shown_at"])
        return frame.assign(first_shown_at=pd.to_datetime(frame["first_shown_at"], utc=True).astype(TS))

    lake.upsert(ROOM_PRODUCT, shown(("cr-1", "p-1", "2026-03-02T10:00Z"), ("cr-1", "p-2", "2026-03-03T10:00Z")))
    stored = lake.read_matching(ROOM_PRODUCT, "chatroom_id", ["cr-1"])
    merged = _earliest(stored, shown(("cr-1", "p-1", "2026-02-20T10:00Z"), ("cr-1", "p-2", "2026-03-05T10:00Z")))
    moved = _moved(lake, ROOM_PRODUCT, stored, merged)
    assert {label: rows["product_id"].tolist() for label, rows in moved.items()} == {"2026-03": ["p-1"]}
    lake.upsert(ROOM_PRODUCT, merged, remove=moved)
    after = lake.read_matching(ROOM_PRODUCT, "chatroom_id", ["cr-1"])
    assert after.astype({"first_shown_at": "str"}).values.tolist() == [
        ["cr-1", "p-1", "2026-02-20 10:00:00+00:00"],
        ["cr-1", "p-2", "2026-03-03 10:00:00+00:00"],
    ]
    assert lake.partitions(ROOM_PRODUCT) == ["2026-02", "2026-03"]


def test_partition_labels_are_local_days_or_months_and_undated_without_an_instant():
    from chatsales.lake.store import UNDATED, part_labels

    instants = pd.Series(
        pd.to_datetime(["2026-01-31T23:30:00Z", "2026-03-29T00:30:00Z", None, "2025-12-31T22:59:00Z"], utc=True)
    )
    assert part_labels(instants, "day", "Europe/Paris").tolist() == ["2026-02-01", "2026-03-29", UNDATED, "2025-12-31"]
    assert part_labels(instants, "month", "Europe/Paris").tolist() == ["2026-02", "2026-03", UNDATED, "2025-12"]
    assert (
        part_labels(instants, "day", "UTC").tolist()[0] == "2026-01-31"
        and len(part_labels(instants[:0], "day", "UTC")) == 0
    )


def test_the_catalog_finds_each_customers_first_sale_by_one_probe(tmp_path):
    """The first sale of each customer (earliest, then by order id; returns are not sales) is the one the
    rows of all their orders give, found through the partial index, without reading their other orders."""
    import sqlite3

    from chatsales.extract.orders import first_sales
    from chatsales.lake.catalog import FIRST_SALES

    catalog = Catalog(tmp_path / "catalog.sqlite")
    rows = pd.DataFrame(
        [  # customer, order, placed_at (µs), is_sale
            ("ann", "w-3", 300, 1),
            ("ann", "w-1", 100, 0),  # a return: not her first sale
            ("ann", "w-2", 200, 1),
            ("bob", "s-9", 50, 1),  # a tie on the instant: the smaller order id wins
            ("bob", "s-1", 50, 1),
            ("cid", "w-7", 70, 0),  # returns only: no first sale
            (None, "w-8", 10, 1),
        ],
        columns=["customer", "order_id", "placed_at", "is_sale"],
    ).assign(
        sales_channel="web",
        day="2026-03-01",
        updated_at=1,
        source_file="f.jsonl",
        source_line=1,
        customer_hash=None,
        customer_id=None,
        visitor_id=None,
    )
    with catalog.transaction() as conn:
        catalog.write_order_index(conn, rows)
    found = catalog.first_sales(["ann", "bob", "cid", "nobody", "ann"]).sort_values("customer", ignore_index=True)
    assert found[["customer", "order_id"]].values.tolist() == [["ann", "w-2"], ["bob", "s-1"]]
    every = first_sales(rows)
    assert sorted(catalog.sales_of(["ann", "cid"])["order_id"]) == ["w-2", "w-3"]  # no return
    columns = ["customer", "sales_channel", "order_id", "day"]
    assert first_sales(found)[columns].values.tolist() == every[columns].values.tolist()
    with sqlite3.connect(catalog.path) as conn:
        plan = [row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {FIRST_SALES}", ['["ann"]'])]
    assert "SEARCH o USING INDEX ix_orders_first_sale (customer=?)" in plan, plan
    assert not [step for step in plan if step.startswith("SCAN") and "VIRTUAL TABLE" not in step], plan
