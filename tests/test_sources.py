"""Source readers: valid rows read exactly, every contract violation lands in rejects with its reason."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest

from chatsales.contract import SourceError
from chatsales.demo.generator import CHAT_DDL
from chatsales.sources.campaigns import read_campaigns_dir
from chatsales.sources.chat_db import read_chat_db
from chatsales.sources.orders import read_orders_dir
from chatsales.sources.store_sales import read_store_sales_dir

HEADER = (
    "receipt_id,store_id,store_name,store_city,sold_at,customer_email,loyalty_id,product_id,category,"
    "quantity,line_amount,currency\n"
)


def ts(text):
    return pd.Timestamp(text).tz_convert("UTC") if pd.Timestamp(text).tz else pd.Timestamp(text, tz="UTC")


# --- orders JSONL ----------------------------------------------------------------------------------------


def _order(**kw):
    base = {
        "order_id": "1001",
        "placed_at": "2026-03-02T18:04:11+01:00",
        "updated_at": "2026-03-05T09:00:00Z",
        "email": "Jane.Doe@Example.com ",
        "customer_id": "c-77",
        "visitor_id": "v-123",
        "currency": "EUR",
        "total": "129.90",
        "status": "paid",
        "cancelled_at": None,
        "refunded": "0.00",
        "is_first_order": False,
        "lines": [
            {
                "product_id": "p-9",
                "sku": "SKU-9",
                "title": "Serum",
                "category": "skincare",
                "quantity": 2,
                "unit_price": "64.95",
            }
        ],
    }
    return {**base, **kw}


def _write_jsonl(path, name, records):
    path.mkdir(exist_ok=True)
    (path / name).write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))


def test_orders_valid_record_is_read_exactly(tmp_path):
    _write_jsonl(tmp_path, "a.jsonl", [_order()])
    read = read_orders_dir(tmp_path, "EUR")
    o = read.frames["orders"].iloc[0]
    assert (o.order_id, o.placed_at, o.updated_at, o.email, o.total, o.status, o.is_first_order) == (
        "1001",
        ts("2026-03-02T17:04:11Z"),
        ts("2026-03-05T09:00:00Z"),
        "Jane.Doe@Example.com ",
        129.90,
        "paid",
        False,
    )
    line = read.frames["order_lines"].iloc[0]
    assert (line.order_id, line.line_no, line.product_id, line.quantity, line.line_amount) == (
        "1001",
        0,
        "p-9",
        2.0,
        129.90,
    )
    assert read.rejects.empty


def test_orders_version_rule_strictly_newer_wins_equal_keeps_first_read(tmp_path):
    _write_jsonl(tmp_path, "a.jsonl", [_order(total="10"), _order(order_id="2", total="20")])
    _write_jsonl(
        tmp_path,
        "b.jsonl",
        [
            _order(total="11"),  # same updated_at: a stays
            _order(order_id="2", total="21", updated_at="2026-03-06T00:00:00Z"),
            _order(order_id="2", total="19", updated_at="2026-03-04T00:00:00Z"),
        ],
    )
    orders = read_orders_dir(tmp_path, "EUR").frames["orders"].set_index("order_id")
    assert orders["total"].to_dict() == {"1001": 10.0, "2": 21.0}
    assert orders.loc["2", "source_location"] == "b.jsonl:2"


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"placed_at": "yesterday"}, "placed_at: not a valid ISO 8601 timestamp 'xxxxxxxxx'"),
        ({"status": "shipped"}, "status: unknown value 'xxxxxxx'"),
        ({"total": "-5.00"}, "total: below 0 '-9.99'"),
        ({"total": "abc"}, "total: not a number 'xxx'"),
        ({"currency": "USD"}, "currency: not the reporting currency EUR 'xxx'"),
        ({"order_id": None}, "order_id: missing"),
        ({"updated_at": None}, "updated_at: missing"),
    ],
)
def test_orders_bad_records_are_rejected_with_reason(tmp_path, change, reason):
    _write_jsonl(tmp_path, "a.jsonl", [_order(order_id="ok"), _order(**{"order_id": "bad", **change})])
    read = read_orders_dir(tmp_path, "EUR")
    assert read.frames["orders"]["order_id"].tolist() == ["ok"]
    assert read.rejects[["source", "location", "reason"]].values.tolist() == [["web_orders", "a.jsonl:2", reason]]
    key = read.rejects["record_key"].iloc[0]
    assert (None if pd.isna(key) else key) == change.get("order_id", "bad")


def test_orders_malformed_json_line_and_missing_folder(tmp_path):
    _write_jsonl(tmp_path, "a.jsonl", [_order(), "{not json"])
    read = read_orders_dir(tmp_path, "EUR")
    assert len(read.frames["orders"]) == 1
    assert read.rejects["location"].tolist() == ["a.jsonl:2"]
    assert read.rejects["reason"].str.startswith("not a JSON order").all()
    with pytest.raises(SourceError, match="web_orders: orders folder .*nowhere does not exist"):
        read_orders_dir(tmp_path / "nowhere", "EUR")


# --- POS CSV ---------------------------------------------------------------------------------------------


def _csv(path, name, rows, header=HEADER, raw=None):
    path.mkdir(exist_ok=True)
    (path / name).write_bytes(raw if raw is not None else (header + "".join(r + "\n" for r in rows)).encode())


def test_receipts_are_grouped_and_local_times_follow_dst(tmp_path):
    _csv(
        tmp_path,
        "s1.csv",
        [
            "R1,S1,Opera,Paris,2026-10-25T02:30:00, Jane@example.com ,L1,p-1,skincare,2,40.00,EUR",
            "R1,S1,Opera,Paris,2026-10-25T02:30:00, Jane@example.com ,L1,p-2,makeup,1,10.50,EUR",
            "R2,S1,Opera,Paris,2026-10-25T03:30:00+01:00,,,p-1,skincare,-1,-20.00,EUR",
            "R3,S1,Opera,Paris,2026-03-29T02:30:00,,,p-1,skincare,1,5.00,EUR",
        ],
    )
    read = read_store_sales_dir(tmp_path, "Europe/Paris", "EUR")
    receipts = read.frames["orders"].set_index("order_id")
    # the repeated autumn hour: first occurrence (CEST, UTC+2)
    assert receipts.loc["R1", "placed_at"] == ts("2026-10-25T00:30:00Z")
    assert (receipts.loc["R1", "total"], receipts.loc["R1", "status"], receipts.loc["R1", "email"]) == (
        50.5,
        "paid",
        " Jane@example.com ",
    )
    assert (receipts.loc["R2", "total"], receipts.loc["R2", "status"]) == (-20.0, "return")
    assert "R3" not in receipts.index  # 02:30 on the spring change does not exist
    assert read.rejects[["location", "record_key", "reason"]].values.tolist() == [
        ["s1.csv:5", "R3", "sold_at: not a valid ISO 8601 timestamp '9999-99-99x99:99:99'"]
    ]
    lines = read.frames["order_lines"]
    assert lines[lines["order_id"] == "R1"]["line_no"].tolist() == [0, 1]


def test_same_file_twice_counts_once_and_a_redelivery_takes_the_correction(tmp_path):
    rows = [
        "R1,S1,Opera,Paris,2026-03-02T10:00:00Z,a@example.com,,p-1,skincare,1,10.00,EUR",
        "R2,S1,Opera,Paris,2026-03-02T11:00:00Z,b@example.com,,p-1,skincare,1,20.00,EUR",
    ]
    _csv(tmp_path, "s1-2026-03-02-a.csv", rows)
    _csv(tmp_path, "s1-2026-03-02-b.csv", rows)  # the same file again
    _csv(tmp_path, "s1-2026-03-02-c.csv", [rows[0].replace("10.00", "12.00")])  # R1 corrected
    receipts = read_store_sales_dir(tmp_path, "Europe/Paris", "EUR").frames["orders"].set_index("order_id")
    assert receipts["total"].to_dict() == {"R1": 12.0, "R2": 20.0}


def test_bad_lines_reject_their_whole_receipt_and_bad_files_are_reported(tmp_path):
    _csv(
        tmp_path,
        "a.csv",
        [
            "R1,S1,Opera,Paris,2026-03-02T10:00:00Z,,,p-1,skincare,1,10.00,EUR",
            "R1,S1,Opera,Paris,2026-03-02T10:00:00Z,,,p-2,skincare,x,10.00,EUR",
            "R2,S1,Opera,Paris,2026-03-02T10:00:00Z,,,p-2,skincare,1,10.00,USD",
            "R4,S1,Opera,Paris,2026-03-02T10:00:00Z,,,p-2,skincare,1,7.00,EUR",
        ],
    )
    _csv(
        tmp_path,
        "b.csv",
        [],
        raw=(HEADER + "R5,S1,Op\xe9ra,Paris,2026-03-02T10:00:00Z,,,p,c,1,1.00,EUR\n").encode("latin-1")
        + b"R6,S1,Opera,Paris,2026-03-02T10:00:00Z,,,p,c,1,2.00,EUR\n",
    )
    _csv(tmp_path, "c.csv", ["x"], header="receipt_id,store_id\n")
    _csv(tmp_path, "d.csv", [], raw=b"")
    read = read_store_sales_dir(tmp_path, "Europe/Paris", "EUR")
    assert sorted(read.frames["orders"]["order_id"]) == ["R4", "R6"]
    got = read.rejects[["location", "reason"]].values.tolist()
    assert ["a.csv:2", "receipt has a rejected line"] in got
    assert ["a.csv:3", "quantity: not a number 'x'"] in got
    assert ["a.csv:4", "currency: not the reporting currency EUR 'xxx'"] in got
    assert ["b.csv:2", "line is not valid UTF-8"] in got
    assert any(loc == "c.csv" and "lacks columns" in r for loc, r in got)
    assert ["d.csv", "empty file"] in got
    assert len(got) == 6


# --- chat database ---------------------------------------------------------------------------------------

DDL = CHAT_DDL  # the contract's tables, as the demo generator creates them


def _chat_db(path, rows: dict[str, list[tuple]], skip=()):
    with sqlite3.connect(path) as conn:
        for table, ddl in DDL.items():
            if table in skip:
                continue
            conn.execute(f"CREATE TABLE {table} ({ddl})")
            for row in rows.get(table, []):
                conn.execute(f"INSERT INTO {table} VALUES ({','.join('?' * len(row))})", row)
    return f"sqlite:///{path}"


def test_chat_db_reads_validates_and_cascades_rejects(tmp_path):
    url = _chat_db(
        tmp_path / "chat.db",
        {
            "members": [("m-1", "Ann", "Lee", 1, None), ("m-2", "Bo", "Ng", 9, None)],
            "visitors": [("v-1", "a@example.com", None, "2026-03-01 09:00:00.000000")],
            "conversation_requests": [
                ("rq-1", "v-1", "waiting_list", "2026-03-01 10:00:00", None, None, "2026-03-01 10:05:00", "m-1")
            ],
            "chatrooms": [
                ("cr-1", "rq-1", "v-1", "m-1", "waiting_list", "web", "2026-03-01 10:05:00", 0, 0),
                ("cr-2", None, "v-1", "m-1", "direct", "fax", "2026-03-01 11:00:00", 0, 0),
                ("cr-3", "rq-404", "v-1", "m-1", "direct", "web", "2026-03-01 11:00:00", 0, 1),
            ],
            "messages": [
                ("ms-1", "cr-1", "visitor", "2026-03-01 10:06:00.250000", 0, "text", None, None),
                ("ms-2", "cr-2", "member", "2026-03-01 11:01:00", 0, "text", None, None),
                ("ms-3", "cr-1", "member", "not a time", 0, "text", None, None),
            ],
            "ratings": [("ra-1", "cr-1", "m-1", "2026-03-01 12:00:00", "2026-03-04 08:00:00", 5)],
            "member_sessions": [("m-1", "2026-03-01 09:00:00", "2026-03-01 08:00:00")],
        },
    )
    read = read_chat_db(url)
    f = read.frames
    assert f["members"]["member_id"].tolist() == ["m-1"]
    assert f["chatrooms"]["chatroom_id"].tolist() == ["cr-1"]
    assert f["messages"][["message_id", "sent_at"]].values.tolist() == [["ms-1", ts("2026-03-01T10:06:00.25Z")]]
    assert f["ratings"]["given_at"].tolist() == [ts("2026-03-04T08:00:00Z")]
    assert bool(f["chatrooms"]["is_internal"].iloc[0]) is False
    assert read.rejects[["location", "record_key", "reason"]].values.tolist() == [
        ["table members", "m-2", "role: above 6 '9'"],
        ["table chatrooms", "cr-2", "channel: unknown value 'xxx'"],
        ["table chatrooms", "cr-3", "request_id: unknown request 'xx-999'"],
        ["table messages", "ms-2", "chatroom_id: unknown chatroom 'xx-9'"],
        ["table messages", "ms-3", "sent_at: not a valid ISO 8601 timestamp 'xxx x xxxx'"],
        ["table member_sessions", "m-1/2026-03-01 09:00:00", "ended_at: before started_at '9999-99-99 99:99:99'"],
    ]


def test_chat_db_missing_table_fails_the_run_naming_it(tmp_path):
    url = _chat_db(tmp_path / "chat.db", {}, skip=("ratings",))
    with pytest.raises(SourceError, match=r"chat_platform .*missing tables \['ratings'\]"):
        read_chat_db(url)


# --- campaigns -------------------------------------------------------------------------------------------


def test_campaigns_optional_and_validated(tmp_path):
    assert read_campaigns_dir(tmp_path / "none").frames["campaigns"].empty
    (tmp_path / "campaigns.csv").write_text(
        "campaign_id,name,kind,sent_at\nc1,Spring,mailing,2026-03-01T08:00:00Z\nc2,Odd,fax,2026-03-01T08:00:00Z\n"
    )
    (tmp_path / "campaign_clicks.csv").write_text(
        "campaign_id,email,clicked_at\nc1,a@example.com,2026-03-02T08:00:00Z\nc2,b@example.com,2026-03-02T08:00:00Z\n"
    )
    read = read_campaigns_dir(tmp_path)
    assert read.frames["campaigns"]["campaign_id"].tolist() == ["c1"]
    assert read.frames["campaign_clicks"]["email"].tolist() == ["a@example.com"]
    assert read.rejects["reason"].tolist() == ["kind: unknown value 'xxx'", "campaign_id: unknown campaign 'x9'"]
